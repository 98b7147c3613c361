// `weft proxy-config secret`: a real `weft up` (its CA), a real `weft proxy sidecar` that got its certificate from it,
// and the CLI reading the proxy's admin /config_dump. The table names the workload's SPIFFE id and the root
// fingerprint is that of `weft ca root`; the JSON is Envoy's SecretsConfigDump without any private key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const nodeBin = join(repoRoot, 'node_modules/.bin/node');
const weftBin = join(repoRoot, 'bin/weft.js');

function weft(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(nodeBin, [weftBin, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return once(child, 'close').then(([code]) => {
    clearTimeout(timer);
    return { code: code as number | null, out, err };
  });
}

/** Starts a long-running weft command; waitFor resolves on the first stdout match (rejects on exit or after 30 s). */
function start(args: string[]): { child: ChildProcess; waitFor: (re: RegExp) => Promise<RegExpMatchArray> } {
  const child = spawn(nodeBin, [weftBin, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const waitFor = (re: RegExp): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        child.off('exit', onExit);
      };
      const check = (): void => {
        const m = re.exec(out);
        if (m) {
          done();
          resolve(m);
        }
      };
      const onExit = (): void => {
        done();
        reject(new Error(`weft ${args[0]} exited before ${re}:\n${out}\n${err}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${re} within 30 s:\n${out}\n${err}`));
      }, 30_000);
      child.stdout!.on('data', check);
      child.once('exit', onExit);
      check();
    });
  return { child, waitFor };
}

async function stop(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = once(c, 'exit');
  c.kill('SIGTERM');
  await exited;
}

test('weft proxy-config secret shows the sidecar workload certificate and the mesh root', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-pc-secret-'));
  mkdirSync(join(dir, 'config'));
  const state = join(dir, 'state');
  const up = start(['up', '--config-dir', join(dir, 'config'), '--state-dir', state, '--xds-port', '0', '--xds-tls-port', '0', '--monitoring-port', '0']);
  const started: ChildProcess[] = [];
  t.after(async () => {
    for (const c of started) await stop(c);
    await stop(up.child);
    rmSync(dir, { recursive: true, force: true });
  });
  const [, tlsPort] = await up.waitFor(/xDS \+ CA \(TLS\) listening on 127\.0\.0\.1:(\d+)/);
  await up.waitFor(/control plane ready/);
  const root = await weft(['ca', 'root', '--state-dir', state]);
  assert.equal(root.code, 0, root.err);
  writeFileSync(join(dir, 'root.pem'), root.out);
  const token = await weft(['ca', 'token', '--namespace', 'default', '--service-account', 'bookinfo-reviews', '--state-dir', state]);
  assert.equal(token.code, 0, token.err);
  writeFileSync(join(dir, 'token'), token.out.trim());

  const sidecar = start(['proxy', 'sidecar', '--discovery-address', `127.0.0.1:${tlsPort}`, '--discovery-ca', join(dir, 'root.pem'),
    '--ca-address', `127.0.0.1:${tlsPort}`, '--ca-root-cert', join(dir, 'root.pem'), '--token-file', join(dir, 'token'),
    '--name', 'reviews-v1', '--labels', 'app=reviews,version=v1', '--service-account', 'bookinfo-reviews',
    '--admin-port', '0', '--outbound-port', '0', '--inbound-port', '0', '--inbound-address', '127.0.0.1', '--stats-port', '0', '--readiness-port', '0', '--status-port', '0']);
  started.push(sidecar.child);
  const [, adminPort] = await sidecar.waitFor(/admin port (\d+)/);
  await sidecar.waitFor(/weft proxy ready/);
  const admin = `127.0.0.1:${adminPort}`;

  const table = await weft(['proxy-config', 'secret', 'reviews-v1.default', '--admin-address', admin]);
  assert.equal(table.code, 0, table.err);
  const lines = table.out.split('\n');
  assert.match(lines[0]!, /^RESOURCE NAME +TYPE +STATUS +VALID CERT +SERIAL NUMBER +NOT AFTER +NOT BEFORE$/);
  assert.match(lines[1]!, /^default +Cert Chain +ACTIVE +true +[0-9a-f]+ +\d{4}-\d\d-\d\dT/);
  assert.match(lines[2]!, /^ROOTCA +CA +ACTIVE +true +[0-9a-f]+ +/);
  assert.match(table.out, /^default {3}identity spiffe:\/\/cluster\.local\/ns\/default\/sa\/bookinfo-reviews$/m);
  const fingerprint = new X509Certificate(root.out).fingerprint256;
  assert.ok(table.out.includes(`SHA256 ${fingerprint}`), `root fingerprint ${fingerprint} not in:\n${table.out}`);

  const json = await weft(['proxy-config', 'secret', 'reviews-v1.default', '--admin-address', admin, '-o', 'json']);
  assert.equal(json.code, 0, json.err);
  const dump = JSON.parse(json.out) as { '@type': string; dynamic_active_secrets: { name: string }[] };
  assert.equal(dump['@type'], 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump');
  assert.deepEqual(dump.dynamic_active_secrets.map((s) => s.name), ['default', 'ROOTCA']);
  assert.doesNotMatch(json.out, /PRIVATE KEY|private_key/);
  const raw = await (await fetch(`http://${admin}/config_dump`)).text();
  const inline = [...raw.matchAll(/"inline_bytes":\s*"([^"]+)"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('utf8'));
  assert.equal(inline.length, 2);
  for (const pem of [raw, ...inline]) assert.doesNotMatch(pem, /PRIVATE KEY|private_key/);

  const wrong = await weft(['proxy-config', 'secret', 'ratings-v1.default', '--admin-address', admin]);
  assert.equal(wrong.code, 2);
  assert.match(wrong.err, /is sidecar~127\.0\.0\.1~reviews-v1\.default~default\.svc\.cluster\.local, not ratings-v1\.default/);
});
