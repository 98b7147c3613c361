// `weft authz check`: golden output from a config directory, exit codes (0 allowed, 1 denied, 2 usage), and the
// control-plane mode against a real in-process control plane.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startControlPlane } from '../../controlplane/control-plane.ts';
import { generateForServer } from '../../controlplane/generate.ts';
import { readEnv } from '../../core/env.ts';
import { memoryIo } from '../io.ts';
import { main } from '../main.ts';

const dir = fileURLToPath(new URL('./testdata/authz/', import.meta.url));

async function check(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo('', dir);
  const code = await main(['authz', 'check', ...args], io);
  return { code, out: io.stdout(), err: io.stderr() };
}

function golden(name: string, actual: string): void {
  const file = `${dir}${name}.golden`;
  if (readEnv().updateGolden) writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, 'utf8'), `${name} differs (WEFT_UPDATE_GOLDEN=1 regenerates it)`);
}

test('a DENY rule decides /a/../admin after normalisation; exit 1', async () => {
  const r = await check(['httpbin-v1.foo', '--config-dir', '.', '--port', '8000', '--path', '/a/../admin', '--principal', 'cluster.local/ns/foo/sa/sleep']);
  assert.equal(r.code, 1, r.err);
  golden('deny-admin.txt', r.out);
});

test('the ALLOW rule for the sleep identity decides GET /status; exit 0', async () => {
  const r = await check(['httpbin-v1.foo', '--config-dir', '.', '--port', '8000', '--path', '/status', '--principal', 'cluster.local/ns/foo/sa/sleep']);
  assert.equal(r.code, 0, r.err);
  golden('allow-sleep.txt', r.out);
  const plain = await check(['httpbin-v1.foo', '--config-dir', '.', '--port', '8000', '--path', '/status']);
  assert.equal(plain.code, 1);
  assert.match(plain.out, /DENIED — 403 RBAC: access denied \(no ALLOW rule matched\)/);
});

test('JWT claims and TCP connections', async () => {
  const jwt = await check(['httpbin-v1.foo', '--config-dir', '.', '--path', '/jwt/x', '--request-principal', 'testing@secure.istio.io/alice', '--claim', 'groups=[group1,group2]', '-o', 'json']);
  assert.equal(jwt.code, 0, jwt.err);
  const j = JSON.parse(jwt.out) as { decision: string; steps: Array<{ matched: string }>; requestAuthentications: string[] };
  assert.equal(j.decision, 'ALLOW');
  assert.deepEqual(j.requestAuthentications, ['foo/jwt']);
  assert.ok(j.steps.some((s) => s.matched === 'ns[foo]-policy[require-group]-rule[0]'));
  const wrongGroup = await check(['httpbin-v1.foo', '--config-dir', '.', '--path', '/jwt/x', '--request-principal', 'testing@secure.istio.io/alice', '--claim', 'groups=group3']);
  assert.equal(wrongGroup.code, 1);
  const tcp = await check(['httpbin-v1.foo', '--config-dir', '.', '--tcp', '--port', '9000', '--principal', 'cluster.local/ns/bar/sa/client']);
  assert.equal(tcp.code, 0, tcp.out);
  assert.match(tcp.out, /TCP connection to port 9000/);
  assert.match(tcp.out, /ns\[foo\]-policy\[tcp-from-bar\]-rule\[0\]/);
  const tcpOther = await check(['httpbin-v1.foo', '--config-dir', '.', '--tcp', '--port', '9000', '--principal', 'cluster.local/ns/foo/sa/client']);
  assert.equal(tcpOther.code, 1);
  // On TCP the DENY rule loses its HTTP-only paths and keeps its port: every connection to 8000 is denied (Istio).
  const tcp8000 = await check(['httpbin-v1.foo', '--config-dir', '.', '--tcp', '--port', '8000', '--principal', 'cluster.local/ns/bar/sa/client']);
  assert.equal(tcp8000.code, 1);
  assert.match(tcp8000.out, /DENIED — connection closed \(ns\[foo\]-policy\[deny-admin\]-rule\[0\]\)/);
});

test('STRICT mTLS on a port refuses a plaintext peer before any policy', async () => {
  const r = await check(['httpbin-v1.foo', '--config-dir', '.', '--port', '9443', '--path', '/status']);
  assert.equal(r.code, 1);
  assert.match(r.out, /mTLS: {6}PERMISSIVE on port 9443|mTLS: {6}STRICT on port 9443/);
  assert.match(r.out, /DENIED — connection refused \(PeerAuthentication foo\/httpbin-strict-9443: STRICT mTLS refuses plaintext/);
  const mtls = await check(['httpbin-v1.foo', '--config-dir', '.', '--port', '9443', '--path', '/status', '--principal', 'cluster.local/ns/foo/sa/sleep']);
  assert.equal(mtls.code, 0, mtls.out);
});

test('a proxy that matches no workload is evaluated without labels, with a note that says so and what to check', async () => {
  const r = await check(['htpbin-v1.foo', '--config-dir', '.', '--port', '8000', '--path', '/status']);
  assert.match(r.out, /^Proxy: +htpbin-v1\.foo \(labels: none\)$/m);
  assert.equal(
    r.err,
    "weft authz: note: no workload htpbin-v1 in namespace foo was found in the config directory . (no Pod or WorkloadEntry); it is evaluated without labels, so only policies without a selector apply. Check the name ('weft proxy-status' lists proxies) or give its labels with -l app=…,version=…\n",
  );
  assert.equal((await check(['htpbin-v1.foo', '--config-dir', '.', '-l', 'app=httpbin'])).err, '');
  assert.equal((await check(['httpbin-v1.foo', '--config-dir', '.'])).err, '');
});

test('usage errors exit 2', async () => {
  assert.equal((await check([])).code, 2);
  const bad = await check(['nodots', '--config-dir', '.']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /PROXY must be name.namespace/);
  assert.equal((await check(['a.b', '--config-dir', '.', '--claim', 'x=y'])).code, 2);
});

test('--monitoring-address: config and workload labels from a running control plane', async () => {
  const cfg = await mkdtemp(join(tmpdir(), 'weft-authz-'));
  try {
    await writeFile(join(cfg, 'p.yaml'), readFileSync(`${dir}policies.yaml`, 'utf8').split('---').filter((d) => !d.includes('kind: Pod')).join('---'));
    const cp = await startControlPlane({ configDir: cfg, xdsPort: 0, monitoringPort: 0, generate: generateForServer });
    try {
      const io = memoryIo();
      const code = await main(['authz', 'check', 'httpbin-v1.foo', '--monitoring-address', `127.0.0.1:${cp.monitoringPort}`, '-l', 'app=httpbin', '--port', '8000', '--path', '/admin'], io);
      assert.equal(code, 1, io.stderr());
      assert.match(io.stdout(), /Source: {4}translated from control plane 127\.0\.0\.1:\d+/);
      assert.match(io.stdout(), /ns\[foo\]-policy\[deny-admin\]-rule\[0\]/);
    } finally {
      await cp.close();
    }
  } finally {
    await rm(cfg, { recursive: true, force: true });
  }
});
