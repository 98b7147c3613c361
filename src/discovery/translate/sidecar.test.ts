// Sidecar and gateway translation beyond Bookinfo: inbound chains per PeerAuthentication mode, TCP services with a
// VIP, every VirtualService HTTP feature, DestinationRule policies, gateway TLS termination and passthrough.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TypeUrl, type XdsTypeUrl } from '../../xds/protos.ts';
import type { Proxy } from '../proxy.ts';
import type { MeshSnapshot } from '../snapshot/snapshot.ts';
import { generateResources } from './index.ts';
import { simulate } from './simulate.ts';
import { assertEncodes, assertGolden, parseYaml, sidecarProxy, snapshotOf } from './fixtures.test.ts';

type J = Record<string, unknown>;

function gen(proxy: Proxy, snap: MeshSnapshot, t: XdsTypeUrl, names?: string[]): J[] {
  const res = generateResources(proxy, snap, t, names);
  for (const r of res) assertEncodes(t, r.resource);
  return res.map((r) => r.resource);
}

const mesh = parseYaml(`
apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec: { clusterIP: 10.96.0.10, selector: { app: web }, ports: [{ name: http, port: 80, targetPort: 8080 }, { name: tcp-admin, port: 9000 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: web-1, namespace: shop, labels: { app: web, version: v1, security.istio.io/tlsMode: istio } }
spec: { serviceAccountName: web, containers: [{ name: web }] }
status: { podIP: 10.2.0.1, phase: Running }
---
apiVersion: v1
kind: Pod
metadata: { name: web-2, namespace: shop, labels: { app: web, version: v2, security.istio.io/tlsMode: istio } }
spec: { serviceAccountName: web, containers: [{ name: web }] }
status: { podIP: 10.2.0.2, phase: Running }
---
apiVersion: v1
kind: Service
metadata: { name: db, namespace: shop }
spec: { clusterIP: 10.96.0.20, selector: { app: db }, ports: [{ name: tcp-pg, port: 5432 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: db-1, namespace: shop, labels: { app: db } }
spec: { containers: [{ name: db }] }
status: { podIP: 10.2.0.9, phase: Running }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: web-strict, namespace: shop }
spec: { selector: { matchLabels: { app: web } }, mtls: { mode: STRICT }, portLevelMtls: { "9000": { mode: PERMISSIVE } } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: web, namespace: shop }
spec:
  host: web
  trafficPolicy:
    connectionPool:
      tcp: { maxConnections: 100, connectTimeout: 250ms }
      http: { http1MaxPendingRequests: 10, http2MaxRequests: 50, maxRetries: 3, idleTimeout: 30s, maxRequestsPerConnection: 5 }
    outlierDetection: { consecutive5xxErrors: 2, interval: 5s, baseEjectionTime: 1m, maxEjectionPercent: 50 }
    loadBalancer: { consistentHash: { httpHeaderName: x-user } }
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 }, trafficPolicy: { tls: { mode: DISABLE }, loadBalancer: { simple: ROUND_ROBIN } } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: shop }
spec:
  hosts: [web]
  http:
  - name: legacy
    match: [{ uri: { prefix: /old/ }, ignoreUriCase: true }]
    redirect: { uri: /new/, redirectCode: 302 }
  - name: teapot
    match: [{ uri: { exact: /tea }, method: { exact: POST } }]
    directResponse: { status: 418, body: { string: "short and stout" } }
  - name: api
    match: [{ uri: { regex: "/api/v[0-9]+/.*" }, headers: { x-debug: {} }, withoutHeaders: { x-skip: { exact: "1" } }, queryParams: { q: { prefix: a } } }]
    rewrite: { uri: /v2/api/, authority: api.internal }
    timeout: 3s
    retries: { attempts: 4, perTryTimeout: 500ms, retryOn: "5xx,reset" }
    headers: { request: { set: { x-via: weft }, remove: [x-internal] }, response: { add: { x-served-by: web } } }
    corsPolicy: { allowOrigins: [{ exact: "https://a.example" }, { regex: "https://.*\\\\.b\\\\.example" }], allowMethods: [GET, POST], maxAge: 24h, allowCredentials: true }
    mirror: { host: web, subset: v2 }
    mirrorPercentage: { value: 12.5 }
    fault: { delay: { fixedDelay: 1.5s, percentage: { value: 0.1 } } }
    route: [{ destination: { host: web, subset: v1 } }]
  - route:
    - { destination: { host: web, subset: v1 }, weight: 75, headers: { request: { set: { x-subset: v1 } } } }
    - { destination: { host: web, subset: v2 }, weight: 25 }
`);

const web1 = () => sidecarProxy({ ip: '10.2.0.1', name: 'web-1', namespace: 'shop', labels: { app: 'web', version: 'v1' } });
const client = () => sidecarProxy({ ip: '10.2.0.50', name: 'client', namespace: 'shop', labels: { app: 'client' } });

test('sidecar golden: every VirtualService HTTP feature, DR policies, TCP VIP listener, inbound chains by mTLS mode', () => {
  const snap = snapshotOf(mesh);
  const out = {
    client: { LDS: gen(client(), snap, TypeUrl.listener), RDS: gen(client(), snap, TypeUrl.route), CDS: gen(client(), snap, TypeUrl.cluster) },
    web1: { LDS: gen(web1(), snap, TypeUrl.listener, ['virtualInbound']), CDS: gen(web1(), snap, TypeUrl.cluster, ['inbound|8080||', 'inbound|9000||']) },
  };
  assertGolden('sidecar-features.json', out);
});

test('inbound: STRICT port has only an mTLS chain, a PERMISSIVE port has mTLS and plaintext chains', () => {
  const snap = snapshotOf(mesh);
  const [vin] = gen(web1(), snap, TypeUrl.listener, ['virtualInbound']);
  const chains = (vin!['filter_chains'] as J[]).map((c) => [c['name'], (c['filter_chain_match'] as J)['transport_protocol']]);
  assert.deepEqual(chains, [
    ['inbound|8080||-mtls', 'tls'],
    ['inbound|9000||-mtls', 'tls'],
    ['inbound|9000||-plaintext', 'raw_buffer'],
  ]);
});

test('routes mean what the VirtualService says', () => {
  const snap = snapshotOf(mesh);
  const lds = gen(client(), snap, TypeUrl.listener);
  const rds = gen(client(), snap, TypeUrl.route);
  const redirect = simulate(lds, rds, { port: 80, host: 'web', path: '/OLD/x' });
  assert.equal(redirect.route, 'legacy');
  assert.deepEqual(redirect.redirect, { path_redirect: '/new/', response_code: 'FOUND' });
  assert.equal(simulate(lds, rds, { port: 80, host: 'web.shop', path: '/tea', method: 'POST' }).directResponse, 418);
  const api = simulate(lds, rds, { port: 80, host: 'web.shop.svc.cluster.local:80', path: '/api/v3/items?q=abc', headers: { 'x-debug': '' } });
  assert.equal(api.route, 'api');
  assert.deepEqual(api.clusters, [{ name: 'outbound|80|v1|web.shop.svc.cluster.local', weight: 100 }]);
  const skipped = simulate(lds, rds, { port: 80, host: '10.96.0.10', path: '/api/v3/items', headers: { 'x-debug': '', 'x-skip': '1' } });
  assert.deepEqual(skipped.clusters.map((c) => c.weight), [75, 25]);
});

test('DestinationRule policies land on the clusters; a subset overrides TLS and load balancing', () => {
  const cds = gen(client(), snapshotOf(mesh), TypeUrl.cluster);
  const v1 = cds.find((c) => c['name'] === 'outbound|80|v1|web.shop.svc.cluster.local')!;
  assert.equal(v1['lb_policy'], 'RING_HASH');
  assert.deepEqual(v1['connect_timeout'], { seconds: 0, nanos: 250_000_000 });
  assert.deepEqual((v1['circuit_breakers'] as { thresholds: J[] }).thresholds[0], {
    max_connections: { value: 100 }, max_pending_requests: { value: 10 }, max_requests: { value: 50 }, max_retries: { value: 3 }, track_remaining: true,
  });
  assert.ok(v1['transport_socket_matches'], 'auto-mTLS when the DR sets no TLS');
  const v2 = cds.find((c) => c['name'] === 'outbound|80|v2|web.shop.svc.cluster.local')!;
  assert.equal(v2['lb_policy'], 'ROUND_ROBIN');
  assert.equal(v2['transport_socket_matches'], undefined);
  assert.equal(v2['transport_socket'], undefined);
  const lds = gen(client(), snapshotOf(mesh), TypeUrl.listener);
  assert.ok(lds.some((l) => l['name'] === '10.96.0.20_5432'), 'TCP service with a VIP gets its own listener');
});

const gatewayConfigs = parseYaml(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: backends, namespace: edge }
spec:
  hosts: [shop.internal, vault.internal]
  ports: [{ number: 8443, name: tls, protocol: TLS }, { number: 8080, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints: [{ address: 10.5.0.1 }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: edge }
spec:
  selector: { app: edge-gw }
  servers:
  - port: { number: 443, name: https-shop, protocol: HTTPS }
    hosts: [shop.example.com]
    tls: { mode: SIMPLE, credentialName: shop-cert }
  - port: { number: 443, name: tls-vault, protocol: TLS }
    hosts: [vault.example.com]
    tls: { mode: PASSTHROUGH }
  - port: { number: 80, name: http, protocol: HTTP }
    hosts: [shop.example.com]
    tls: { httpsRedirect: true }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: shop, namespace: edge }
spec:
  hosts: [shop.example.com]
  gateways: [edge]
  http: [{ route: [{ destination: { host: shop.internal, port: { number: 8080 } } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: vault, namespace: edge }
spec:
  hosts: [vault.example.com]
  gateways: [edge/edge]
  tls: [{ match: [{ sniHosts: [vault.example.com] }], route: [{ destination: { host: vault.internal, port: { number: 8443 } } }] }]
`);

test('gateway: HTTPS terminates by SNI with the credential, PASSTHROUGH forwards by SNI, HTTP redirects to HTTPS', () => {
  const snap = snapshotOf(gatewayConfigs);
  const gw = sidecarProxy({ ip: '10.5.9.9', name: 'edge-gw-1', namespace: 'edge', labels: { app: 'edge-gw' }, type: 'router' });
  const lds = gen(gw, snap, TypeUrl.listener);
  const rds = gen(gw, snap, TypeUrl.route);
  assertGolden('gateway-tls.json', { LDS: lds, RDS: rds });
  const l443 = lds.find((l) => l['name'] === '0.0.0.0_443')!;
  const chains = l443['filter_chains'] as J[];
  assert.deepEqual(chains.map((c) => (c['filter_chain_match'] as J)['server_names']), [['shop.example.com'], ['vault.example.com']]);
  assert.ok(JSON.stringify(chains[0]).includes('"name":"shop-cert"'));
  assert.ok(JSON.stringify(chains[1]).includes('outbound|8443||vault.internal'));
  assert.deepEqual(rds.map((r) => r['name']), ['http.80', 'https.443.https-shop.edge.edge']);
  assert.equal(((rds[0]!['virtual_hosts'] as J[])[0] as J)['require_tls'], 'ALL');
});

test('inbound: workloads sharing a loopback address each get only their own ports', () => {
  const snap = snapshotOf(parseYaml(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: apps, namespace: default }
spec:
  hosts: [a.local, b.local]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  location: MESH_INTERNAL
  resolution: STATIC
  workloadSelector: { labels: { mesh: "yes" } }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: b, namespace: default }
spec:
  hosts: [b-only.local]
  ports: [{ number: 9090, name: http, protocol: HTTP }]
  location: MESH_INTERNAL
  resolution: STATIC
  workloadSelector: { labels: { app: b } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: app-a, namespace: default }
spec: { address: 127.0.0.1, labels: { mesh: "yes", app: a }, ports: { http: 18081 } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: app-b, namespace: default }
spec: { address: 127.0.0.1, labels: { mesh: "yes", app: b }, ports: { http: 18082 } }
`));
  const ports = (name: string, app: string) =>
    gen(sidecarProxy({ ip: '127.0.0.1', name, labels: { app } }), snap, TypeUrl.cluster)
      .map((c) => String(c['name']))
      .filter((n) => n.startsWith('inbound|'));
  assert.deepEqual(ports('app-a', 'a'), ['inbound|18081||']);
  assert.deepEqual(ports('app-b', 'b'), ['inbound|18082||']);
});

test('proxies of one class share generated objects (so the server encodes them once); inbound parts are their own', () => {
  const snap = snapshotOf(mesh);
  const a = sidecarProxy({ ip: '10.2.0.1', name: 'web-1', namespace: 'shop', labels: { app: 'web', version: 'v1' } });
  const b = sidecarProxy({ ip: '10.2.0.2', name: 'web-2', namespace: 'shop', labels: { version: 'v1', app: 'web' } });
  const ca = generateResources(a, snap, TypeUrl.cluster);
  const cb = generateResources(b, snap, TypeUrl.cluster);
  const out = (rs: typeof ca) => rs.find((r) => r.name === 'outbound|80|v1|web.shop.svc.cluster.local')!.resource;
  assert.equal(out(ca), out(cb), 'same object for the same outbound cluster');
  assert.equal(generateResources(a, snap, TypeUrl.route)[0]!.resource, generateResources(b, snap, TypeUrl.route)[0]!.resource);
  const la = generateResources(a, snap, TypeUrl.listener, ['virtualInbound'])[0]!.resource;
  const lb = generateResources(b, snap, TypeUrl.listener, ['virtualInbound'])[0]!.resource;
  assert.notEqual(la, lb);
  const other = sidecarProxy({ ip: '10.2.0.3', name: 'x', namespace: 'shop', labels: { app: 'other' } });
  assert.equal(out(generateResources(other, snap, TypeUrl.cluster)), out(ca), 'another class under the same DestinationRules shares the cluster too');
  const elsewhere = sidecarProxy({ ip: '10.3.0.3', name: 'y', namespace: 'other', labels: { app: 'web' } });
  assert.equal(out(generateResources(elsewhere, snap, TypeUrl.cluster)), out(ca), 'the rule is exported to every namespace: same rules, same object');
});

test('route details: retry backoff, keeping previous hosts, legacy mirrorPercent, redirect prefix rewrite', async () => {
  const { translateHttpRoute } = await import('./route.ts');
  const { proxyView } = await import('../snapshot/view.ts');
  const ctx = { view: proxyView(snapshotOf(mesh), client()), port: 80, gateway: 'mesh', grpc: false };
  const dest = { destination: { host: 'web.shop.svc.cluster.local' } };
  const [r] = translateHttpRoute(ctx, { route: [dest], retries: { attempts: 2, backoff: '100ms', retryIgnorePreviousHosts: false }, mirror: dest.destination, mirrorPercent: 5 });
  const action = r!['route'] as J;
  assert.deepEqual((action['retry_policy'] as J)['retry_back_off'], { base_interval: { seconds: 0, nanos: 100_000_000 }, max_interval: { seconds: 1 } });
  assert.equal((action['retry_policy'] as J)['retry_host_predicate'], undefined);
  assert.deepEqual(((action['request_mirror_policies'] as J[])[0]!['runtime_fraction'] as J)['default_value'], { numerator: 50_000, denominator: 'MILLION' });
  const [redirect] = translateHttpRoute(ctx, { match: [{ uri: { prefix: '/a/' } }], redirect: { prefixRewrite: '/b/' } });
  assert.deepEqual(redirect!['redirect'], { prefix_rewrite: '/b/', response_code: 'MOVED_PERMANENTLY' });
  assertEncodes(TypeUrl.route, { name: 'x', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [r, redirect] }] });
});

test('Sidecar egress listeners scoped to a port limit which services appear on which port', () => {
  const scoped = parseYaml(`
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: shop }
spec:
  egress:
  - port: { number: 80, protocol: HTTP, name: http }
    hosts: ["./web.shop.svc.cluster.local"]
  - hosts: ["./db.shop.svc.cluster.local"]
`);
  const snap = snapshotOf([...mesh, ...scoped]);
  const names = gen(client(), snap, TypeUrl.listener).map((l) => l['name']);
  assert.deepEqual(names, ['virtualOutbound', '0.0.0.0_80', '10.96.0.20_5432', 'virtualInbound'], "web's TCP port 9000 is not in any egress listener");
});

test('MeshConfig h2UpgradePolicy UPGRADE: HTTP ports go upstream over HTTP/2 unless a DestinationRule says DO_NOT_UPGRADE', () => {
  const configs = parseYaml(`
apiVersion: v1
kind: Service
metadata: { name: api, namespace: shop }
spec: { clusterIP: 10.96.0.30, selector: { app: api }, ports: [{ name: http, port: 80 }, { name: tcp-raw, port: 9000 }] }
---
apiVersion: v1
kind: Service
metadata: { name: legacy, namespace: shop }
spec: { clusterIP: 10.96.0.31, selector: { app: legacy }, ports: [{ name: http, port: 80 }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: legacy, namespace: shop }
spec: { host: legacy, trafficPolicy: { connectionPool: { http: { h2UpgradePolicy: DO_NOT_UPGRADE } } } }
`);
  const client = sidecarProxy({ ip: '10.2.0.50', name: 'client-1', namespace: 'shop' });
  const explicitOf = (cds: J[], name: string): J | undefined => {
    const c = cds.find((x) => x['name'] === name);
    assert.ok(c, `cluster ${name}`);
    const opts = c['typed_extension_protocol_options'] as Record<string, J> | undefined;
    return opts?.['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']?.['explicit_http_config'] as J | undefined;
  };
  const api = 'outbound|80||api.shop.svc.cluster.local';
  const legacy = 'outbound|80||legacy.shop.svc.cluster.local';
  const tcp = 'outbound|9000||api.shop.svc.cluster.local';

  const off = gen(client, snapshotOf(configs), TypeUrl.cluster);
  assert.equal(explicitOf(off, api), undefined, 'default mesh: HTTP/1.1 upstream (no protocol options)');

  const on = gen(client, snapshotOf(configs, { h2UpgradePolicy: 'UPGRADE' }), TypeUrl.cluster);
  assert.deepEqual(explicitOf(on, api), { http2_protocol_options: {} });
  assert.deepEqual(explicitOf(on, legacy), { http_protocol_options: {} }, 'the DestinationRule keeps legacy on HTTP/1.1');
  assert.equal(explicitOf(on, tcp), undefined, 'TCP ports are never upgraded');
  for (const c of on) {
    if (String(c['name']).startsWith('inbound|')) assert.equal(c['typed_extension_protocol_options'], undefined, 'inbound clusters are not upgraded');
  }
});
