// The proxy's own ports at start-up: one that cannot be bound — default or given, admin, outbound, inbound, stats,
// readiness or status — stops the proxy at once with exit code 2 and a message naming the address, the reason and the
// flag that moves it, before it has connected to the control plane or the CA (as Envoy exits on its admin and
// bootstrap listeners, instead of a proxy quietly running without its probes or metrics).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ports } from '../../src/core/ports.ts';

const weft = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));

/** Run weft to its exit (bounded: a proxy that keeps running fails the test instead of hanging it). */
function weftExit(args: string[]): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [weft, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      c.kill('SIGKILL');
      reject(new Error(`weft ${args.join(' ')} still running after 15 s; stderr:\n${err}`));
    }, 15_000);
    c.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, err });
    });
  });
}

async function hold(port: number, host: string): Promise<net.Server | undefined> {
  const s = net.createServer();
  return new Promise((resolve) => {
    s.once('error', () => resolve(undefined)); // someone else holds it already: as good for this test
    s.listen(port, host, () => resolve(s));
  });
}

test('weft proxy: a port in use is fatal (exit 2) with the flag to change it; nothing connects to the control plane', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ports-'));
  const bootstrap = join(dir, 'bootstrap.json');
  writeFileSync(bootstrap, JSON.stringify({ static_resources: { listeners: [], clusters: [] } }));
  // A "control plane" that only counts connections: a proxy that fails its ports must never reach it.
  let xdsConnections = 0;
  const xds = net.createServer((s) => {
    xdsConnections++;
    s.destroy();
  });
  await new Promise<void>((r) => xds.listen(0, '127.0.0.1', r));
  const busy = (await hold(0, '0.0.0.0'))!;
  const taken = (busy.address() as net.AddressInfo).port;
  t.after(() => {
    busy.close();
    xds.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const base: Record<string, string> = {
    '--admin-port': '0',
    '--outbound-port': '0',
    '--inbound-port': '0',
    '--stats-port': '0',
    '--readiness-port': '0',
    '--status-port': '0',
  };
  const runs = Object.keys(base).map(async (flag) => {
    const ports = { ...base, [flag]: String(taken) };
    const args = ['proxy', 'sidecar', '--discovery-address', `127.0.0.1:${(xds.address() as net.AddressInfo).port}`, '--bootstrap', bootstrap, '--inbound-address', '0.0.0.0', ...Object.entries(ports).flat()];
    const r = await weftExit(args);
    assert.equal(r.code, 2, `${flag}: ${r.err}`);
    const role = flag.slice(2, -'-port'.length);
    const address = flag === '--admin-port' || flag === '--outbound-port' ? '127.0.0.1' : '0.0.0.0';
    assert.match(r.err, new RegExp(`cannot listen on ${address.replace(/\./g, '\\.')}:${taken}, the ${role} port: it is in use \\(EADDRINUSE\\)`), r.err);
    assert.match(r.err, new RegExp(`Pass ${flag} N for another port \\(0 picks a free one, -1 turns it off\\)\\. \\(WEFT_ERR_IO\\)`));
    assert.doesNotMatch(r.err, /internal error/);
  });
  await Promise.all(runs);
  assert.equal(xdsConnections, 0, 'no xDS connection from a proxy that failed to bind its ports');
});

test('weft proxy: the default status port (15020) taken is fatal too, and -1 runs without it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ports-'));
  const bootstrap = join(dir, 'bootstrap.json');
  writeFileSync(bootstrap, JSON.stringify({ static_resources: { listeners: [], clusters: [] } }));
  const holder = await hold(Ports.proxyMergedMetrics, '0.0.0.0');
  t.after(() => {
    holder?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const others = ['--admin-port', '0', '--outbound-port', '0', '--inbound-port', '-1', '--stats-port', '0', '--readiness-port', '0'];
  const r = await weftExit(['proxy', 'sidecar', '--bootstrap', bootstrap, ...others]);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /cannot listen on 0\.0\.0\.0:15020, the status port: it is in use \(EADDRINUSE\).*Pass --status-port N/);

  // -1 turns it off: the proxy starts (and is stopped by SIGTERM).
  const c = spawn(process.execPath, [weft, 'proxy', 'sidecar', '--bootstrap', bootstrap, ...others, '--status-port', '-1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('weft proxy ready')) resolve();
    });
    c.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  assert.doesNotMatch(out, /status port/);
  c.kill('SIGTERM');
  await new Promise((r) => c.once('exit', r));
});
