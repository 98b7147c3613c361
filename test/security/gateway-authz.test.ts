// Authorization at the ingress gateway: a policy selecting the gateway workload (istio: ingressgateway) lands in the
// gateway's HTTP connection managers, and the proxy's engine built from that listener enforces it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TypeUrl } from '../../src/xds/protos.ts';
import { generateResources } from '../../src/discovery/translate/index.ts';
import { parseYaml, sidecarProxy, snapshotOf } from '../../src/discovery/translate/fixtures.test.ts';
import { buildHttpSecurity } from '../../src/proxy/security/http-security.ts';
import { viaProto } from '../proxy/helpers.ts';

type J = Record<string, unknown>;

test('ingress gateway: AuthorizationPolicy on the gateway workload (ipBlocks, paths) is enforced at the gateway HCM', () => {
  const snap = snapshotOf(parseYaml(`
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: istio-system }
spec: { selector: { istio: ingressgateway }, servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*"] }] }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ingress-policy, namespace: istio-system }
spec:
  selector: { matchLabels: { istio: ingressgateway } }
  action: DENY
  rules: [{ from: [{ source: { remoteIpBlocks: ["203.0.113.0/24"] } }] }, { to: [{ operation: { paths: ["/internal/*"] } }] }]
`));
  const gw = sidecarProxy({ ip: '10.0.0.5', name: 'istio-ingressgateway-1', namespace: 'istio-system', type: 'router', labels: { istio: 'ingressgateway' } });
  const listeners = generateResources(gw, snap, TypeUrl.listener).map((r) => viaProto(TypeUrl.listener, r.resource));
  const l80 = listeners.find((l) => l['name'] === '0.0.0.0_80')!;
  const hcm = (((l80['filter_chains'] as J[])[0]!['filters'] as J[])[0]!['typed_config'] as J);
  const names = (hcm['http_filters'] as J[]).map((f) => f['name']);
  assert.deepEqual(names.slice(0, 1), ['envoy.filters.http.rbac']);
  assert.equal(names.at(-1), 'envoy.filters.http.router');
  const sec = buildHttpSecurity(hcm['http_filters'] as unknown[])!;
  const req = { method: 'GET', path: '/', host: 'shop.example.com', headers: [] as string[], sourceIp: '10.0.0.1', destinationPort: 80 };
  assert.equal((sec.run(req) as { kind: string }).kind, 'continue');
  assert.equal((sec.run({ ...req, remoteIp: '203.0.113.9' }) as { kind: string }).kind, 'respond');
  assert.equal((sec.run({ ...req, path: '/internal/metrics' }) as { kind: string }).kind, 'respond');
  // A sidecar elsewhere is not selected.
  const other = sidecarProxy({ ip: '10.0.0.6', name: 'web-1', namespace: 'shop', labels: { app: 'web' } });
  const text = JSON.stringify(generateResources(other, snap, TypeUrl.listener).map((r) => r.resource));
  assert.ok(!text.includes('envoy.filters.http.rbac'));
});

test('auto mTLS: clients stop originating mTLS to a service whose namespace PeerAuthentication is DISABLE', () => {
  const yaml = (mode: string) => parseYaml(`
apiVersion: v1
kind: Service
metadata: { name: legacy, namespace: old }
spec: { clusterIP: 10.96.0.9, selector: { app: legacy }, ports: [{ name: http, port: 8000 }] }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: old }
spec: { mtls: { mode: ${mode} } }
`);
  const client = sidecarProxy({ ip: '10.0.0.7', name: 'sleep-1', namespace: 'default' });
  const cluster = (mode: string) => generateResources(client, snapshotOf(yaml(mode)), TypeUrl.cluster).map((r) => r.resource).find((c) => c['name'] === 'outbound|8000||legacy.old.svc.cluster.local')!;
  assert.ok(cluster('PERMISSIVE')['transport_socket_matches'], 'auto mTLS by endpoint label');
  assert.equal(cluster('DISABLE')['transport_socket_matches'], undefined, 'DISABLE: plaintext');
});
