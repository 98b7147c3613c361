// End to end with real processes: `weft up` (config dir with Istio YAML, xDS, CA) → `weft proxy sidecar` (identity
// from the CA, config over ADS on the TLS port 15012's equivalent) → an app without a sidecar (ServiceEntry endpoint, plaintext by auto mTLS). The app's
// traffic goes through the sidecar as its HTTP proxy; VirtualService fault injection and the proxy's sync status show.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startUpstream } from './helpers.ts';

const weft = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));

function startProcess(args: string[], readyText: string, children: ChildProcess[]): Promise<{ child: ChildProcess; out: () => string }> {
  const child = spawn(process.execPath, [weft, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', () => {
      if (out.includes(readyText)) resolve({ child, out: () => out });
    });
    child.once('exit', (code) => reject(new Error(`weft ${args[0]} exited ${code}: ${err}`)));
  });
}

test('weft up + weft proxy sidecar: routes, fault injection and identity from the real control plane', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-proxy-e2e-'));
  const children: ChildProcess[] = [];
  const app = await startUpstream('reviews-app');
  t.after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const cfg = join(dir, 'config');
  mkdirSync(cfg);
  writeFileSync(
    join(cfg, 'reviews.yaml'),
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints: [{ address: 127.0.0.1, ports: { http: ${app.port} } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews.default.svc.cluster.local]
  http:
  - match: [{ uri: { prefix: /teapot } }]
    fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }
    route: [{ destination: { host: reviews.default.svc.cluster.local } }]
  - route: [{ destination: { host: reviews.default.svc.cluster.local } }]
`,
  );
  const state = join(dir, 'state');
  const up = await startProcess(['up', '--config-dir', cfg, '--state-dir', state, '--xds-port', '0', '--xds-tls-port', '0', '--monitoring-port', '0'], 'control plane ready', children);
  const ca = /\(TLS\) listening on ([\d.:]+)/.exec(up.out())![1]!;
  const monitoring = /monitoring listening on http:\/\/([\d.:]+)/.exec(up.out())![1]!;
  const { stdout: token } = await promisify(execFile)(process.execPath, [weft, 'ca', 'token', '--namespace', 'default', '--service-account', 'productpage', '--state-dir', state]);
  writeFileSync(join(dir, 'token'), token);
  const proxy = await startProcess(
    ['proxy', 'sidecar', '--discovery-address', ca, '--discovery-ca', join(state, 'ca/root-cert.pem'), '--ca-address', ca, '--ca-root-cert', join(state, 'ca/root-cert.pem'), '--token-file', join(dir, 'token'), '--name', 'productpage-v1', '--service-account', 'productpage', '--labels', 'app=productpage,version=v1', '--admin-port', '0', '--outbound-port', '0', '--inbound-port', '0', '--stats-port', '0', '--readiness-port', '0', '--status-port', '0'],
    'weft proxy ready',
    children,
  );
  const outbound = Number(/outbound port (\d+)/.exec(proxy.out())![1]);
  const curl = async (url: string): Promise<string> => (await promisify(execFile)('curl', ['-sS', '--max-time', '5', '-x', `http://127.0.0.1:${outbound}`, '-w', ' %{http_code}', url])).stdout;
  assert.equal(await curl('http://reviews:9080/reviews/1'), 'reviews-app 200');
  assert.equal(await curl('http://reviews.default.svc.cluster.local:9080/x'), 'reviews-app 200');
  assert.equal(await curl('http://reviews:9080/teapot'), 'fault filter abort 418');
  const { stdout: status } = await promisify(execFile)(process.execPath, [weft, 'proxy-status', '--monitoring-address', monitoring]);
  assert.match(status, /productpage-v1\.default/);
  proxy.child.kill('SIGTERM');
  up.child.kill('SIGTERM');
});
