// The sidecar as a real process against a real `weft up`: certificate from the CA and xDS (delta) both over TLS to
// 15012 addressed by IP. A module hook in the sidecar reports every @grpc/grpc-js module it resolves: there must be
// none (the control-plane calls go through src/core/grpc). Node must print no DEP0123 (an IP sent as TLS SNI), and
// `weft proxy-status` must show the delta client SYNCED.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const weftBin = join(repoRoot, 'bin/weft.js');

/** Preloaded into the sidecar: logs each @grpc/grpc-js module resolved, by import or require. */
const hook = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module';
import { writeSync } from 'node:fs';
registerHooks({ resolve(specifier, context, next) {
  const r = next(specifier, context);
  if (String(r.url).includes('/@grpc/grpc-js/')) writeSync(2, 'MODULE-RESOLVED ' + r.url + '\\n');
  return r;
} });
`)}`;

function start(args: string[], nodeArgs: string[] = []): { child: ChildProcess; out: () => string; err: () => string; waitFor: (re: RegExp) => Promise<RegExpMatchArray> } {
  const child = spawn(process.execPath, [...nodeArgs, weftBin, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const waitFor = (re: RegExp): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${re} within 30 s:\n${out}\n${err}`)), 30_000);
      const check = (): void => {
        const m = re.exec(out);
        if (!m) return;
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(m);
      };
      child.stdout!.on('data', check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`weft ${args[0]} exited ${code} before ${re}:\n${out}\n${err}`));
      });
      check();
    });
  return { child, out: () => out, err: () => err, waitFor };
}

function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const c = start(args);
  const timer = setTimeout(() => c.child.kill('SIGKILL'), 30_000);
  return once(c.child, 'close').then(([code]) => {
    clearTimeout(timer);
    return { code: code as number | null, out: c.out(), err: c.err() };
  });
}

async function stop(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = once(c, 'exit');
  c.kill('SIGTERM');
  await exited;
}

test('weft proxy sidecar (delta xDS and CSR over TLS by IP) loads no @grpc/grpc-js, warns nothing, and is SYNCED', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-sidecar-grpc-'));
  mkdirSync(join(dir, 'config'));
  const state = join(dir, 'state');
  const up = start(['up', '--config-dir', join(dir, 'config'), '--state-dir', state, '--xds-port', '0', '--xds-tls-port', '0', '--monitoring-port', '0']);
  const procs: ChildProcess[] = [];
  t.after(async () => {
    for (const c of procs) await stop(c);
    await stop(up.child);
    rmSync(dir, { recursive: true, force: true });
  });
  const [, tlsPort] = await up.waitFor(/xDS \+ CA \(TLS\) listening on 127\.0\.0\.1:(\d+)/);
  const [, monitoring] = await up.waitFor(/monitoring listening on http:\/\/([\d.]+:\d+)/);
  await up.waitFor(/control plane ready/);
  const root = await run(['ca', 'root', '--state-dir', state]);
  assert.equal(root.code, 0, root.err);
  writeFileSync(join(dir, 'root.pem'), root.out);
  const token = await run(['ca', 'token', '--namespace', 'default', '--service-account', 'ratings', '--state-dir', state]);
  assert.equal(token.code, 0, token.err);
  writeFileSync(join(dir, 'token'), token.out.trim());

  const sidecar = start(
    ['proxy', 'sidecar', '--discovery-address', `127.0.0.1:${tlsPort}`, '--discovery-ca', join(dir, 'root.pem'), '--xds-protocol', 'delta',
      '--ca-address', `127.0.0.1:${tlsPort}`, '--ca-root-cert', join(dir, 'root.pem'), '--token-file', join(dir, 'token'),
      '--name', 'ratings-v1', '--labels', 'app=ratings,version=v1', '--service-account', 'ratings',
      '--admin-port', '0', '--outbound-port', '0', '--inbound-port', '0', '--inbound-address', '127.0.0.1', '--stats-port', '0', '--readiness-port', '0', '--status-port', '0'],
    ['--import', hook],
  );
  procs.push(sidecar.child);
  const [, readiness] = await sidecar.waitFor(/readiness port (\d+)/);
  await sidecar.waitFor(/weft proxy ready/);
  // Ready on 15021 means the workload certificate arrived too (the CSR call went through src/core/grpc).
  let ready = 0;
  for (let i = 0; i < 100 && ready !== 200; i++) {
    ready = (await fetch(`http://127.0.0.1:${readiness}/healthz/ready`)).status;
    if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(ready, 200, sidecar.err());

  const status = await run(['proxy-status', '--monitoring-address', monitoring!, '-o', 'json']);
  assert.equal(status.code, 0, status.err);
  const rows = JSON.parse(status.out) as { proxy: string; protocol: string; cds: { status: string }; lds: { status: string } }[];
  const row = rows.find((r) => r.proxy.includes('ratings-v1'));
  assert.ok(row, status.out);
  assert.equal(row.protocol, 'delta');
  assert.equal(row.cds.status, 'SYNCED');
  assert.equal(row.lds.status, 'SYNCED');

  await stop(sidecar.child);
  assert.doesNotMatch(sidecar.err(), /MODULE-RESOLVED/, 'the sidecar must not load @grpc/grpc-js');
  assert.doesNotMatch(sidecar.err(), /DEP0123/);
});
