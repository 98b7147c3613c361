// grpc-js's own "No address added out of total 1 resolved" line is dropped (Weft's error says it better); every
// other grpc-js log line still prints. End to end: `weft up` on a held xDS port prints Weft's message alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { grpcLogger } from './grpc-log.ts';

test('the bind-failure line is dropped; other errors, info and debug lines print with their prefix', () => {
  const lines: string[] = [];
  const logger = grpcLogger((line, ...rest) => lines.push([line, ...rest.map(String)].join(' ')));
  logger.error?.('No address added out of total 1 resolved');
  logger.error?.('No address added out of total 2 resolved');
  logger.error?.('Received a RST_STREAM with code 2');
  logger.error?.('No address added out of total 1 resolved, and then some');
  logger.info?.('WARNING Only 1 addresses added out of total 2 resolved');
  logger.debug?.('state change', 'READY');
  assert.deepEqual(lines, [
    'E Received a RST_STREAM with code 2',
    'E No address added out of total 1 resolved, and then some',
    'I WARNING Only 1 addresses added out of total 2 resolved',
    'D state change READY',
  ]);
});

test('weft up on an xDS port in use: Weft\'s message, no stray grpc-js line', { timeout: 30_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-grpc-log-'));
  const held = createServer();
  await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
  const address = held.address();
  assert.ok(address !== null && typeof address === 'object');
  try {
    await mkdir(join(dir, 'config'));
    const weft = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));
    const args = ['up', '--config-dir', join(dir, 'config'), '--state-dir', join(dir, 'state'), '--xds-port', String(address.port), '--xds-tls-port', '0', '--monitoring-port', '0'];
    const child = spawn(process.execPath, [weft, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    assert.equal(code, 2, stderr);
    assert.match(stderr, new RegExp(`weft up: cannot listen on 127\\.0\\.0\\.1:${address.port} \\(xDS, plaintext\\): the port is in use`));
    assert.doesNotMatch(stderr, /^E /m);
    assert.doesNotMatch(stderr, /No address added/);
  } finally {
    held.close();
    await rm(dir, { recursive: true, force: true });
  }
});
