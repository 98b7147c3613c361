// `weft up` when a port is taken: the message names the port's role, the flag to change and how to find the holder,
// for the xDS ports too (gRPC's own words were "No address added out of total 1 resolved errors: [...]").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode } from '../../core/errors.ts';
import { memoryIo } from '../io.ts';
import { main } from '../main.ts';

async function holdPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return { server, port: address.port };
}

test('an xDS port in use: exit 2, with the port, its role, the flag and the way to find the holder', { timeout: 30_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-up-'));
  const held = await holdPort();
  try {
    await mkdir(join(dir, 'config'));
    for (const [flag, role] of [['--xds-port', 'xDS, plaintext'], ['--xds-tls-port', 'xDS + CA, TLS']] as const) {
      const ports = { '--xds-port': '0', '--xds-tls-port': '0', '--monitoring-port': '0', [flag]: String(held.port) };
      const io = memoryIo('', dir);
      const code = await main(['up', '--config-dir', join(dir, 'config'), '--state-dir', join(dir, 'state'), ...Object.entries(ports).flat()], io);
      assert.equal(code, ExitCode.usage);
      assert.equal(
        io.stderr().split('\n').filter((l) => l.startsWith('weft up:')).join('\n'),
        `weft up: cannot listen on 127.0.0.1:${held.port} (${role}): the port is in use (EADDRINUSE) — another control plane ('weft up', 'weft demo') or program holds it (find it with: ss -ltnp 'sport = :${held.port}'); stop it or pick another ${flag} (0 picks a free port) (WEFT_ERR_IO)`,
      );
    }
  } finally {
    held.server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
