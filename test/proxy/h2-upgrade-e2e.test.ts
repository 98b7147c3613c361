// h2UpgradePolicy end to end: `weft up` (Istio YAML in a config directory) → `weft proxy sidecar` → an app that
// answers HTTP/1.1 and h2c on one port and says which one it got. curl speaks HTTP/1.1 to the sidecar throughout:
// without a DestinationRule the app sees HTTP/1.1; once the DestinationRule sets connectionPool.http.h2UpgradePolicy
// UPGRADE, the sidecar's cluster gets http2_protocol_options and the app sees HTTP/2 while curl still gets HTTP/1.1.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Mesh, curl, startSidecar, stopAll, until } from '../e2e/harness.ts';
import { startDualUpstream } from './h2-helpers.ts';

const mesh = new Mesh();
after(async () => {
  await stopAll();
  await mesh.close();
});

test('DestinationRule h2UpgradePolicy UPGRADE: an HTTP/1.1 client (curl --http1.1) reaches the app over HTTP/2', async (t) => {
  const app = await startDualUpstream();
  t.after(() => app.close());
  mesh.write(
    'reviews.yaml',
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{ number: 9080, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints: [{ address: 127.0.0.1, ports: { http: ${app.port} } }]
`,
  );
  await mesh.start();
  const sidecar = await startSidecar(mesh, 'productpage');
  const get = (): Promise<string> => curl(['--http1.1', '-x', `http://127.0.0.1:${sidecar.outbound}`, '-D', '-', 'http://reviews:9080/hello']).then((r) => r.stdout);
  const before = await get();
  assert.match(before, /^HTTP\/1\.1 200 /);
  assert.match(before, /version=1\.1$/);

  mesh.write(
    'reviews-dr.yaml',
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews.default.svc.cluster.local
  trafficPolicy:
    connectionPool:
      http: { h2UpgradePolicy: UPGRADE }
`,
  );
  const upgraded = await until('the sidecar to use HTTP/2 upstream', async () => {
    const out = await get();
    return out.endsWith('version=2.0') ? out : undefined;
  });
  assert.match(upgraded, /^HTTP\/1\.1 200 /, 'the client still speaks HTTP/1.1');
  assert.match(upgraded, /transfer-encoding: chunked/i, 'the app sent no length over HTTP/2: the body is chunked for the HTTP/1.1 client');
  // Several requests share the pooled HTTP/2 connection.
  for (let i = 0; i < 3; i++) assert.match(await get(), /version=2\.0$/);
  assert.ok(app.versions.filter((v) => v === '2.0').length >= 4);
});
