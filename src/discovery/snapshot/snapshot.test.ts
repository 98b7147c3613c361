import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../../config/api/resource.ts';
import { loadText } from '../../config/api/load.ts';
import { formatNodeId } from '../../core/names/node-id.ts';
import { buildRegistryState } from '../../registry/registry.ts';
import { type Proxy, parseProxy } from '../proxy.ts';
import { hostAliases, resolveHost } from './hosts.ts';
import { parseDurationMillis } from '../../config/api/validation/common/duration.ts';
import { buildSnapshot, withEndpoints } from './snapshot.ts';
import { proxyView } from './view.ts';

function load(text: string): Resource[] {
  return loadText(text, 'test.yaml').map((l) => {
    assert.ok(l.valid, `${l.key.kind}/${l.key.name}: ${JSON.stringify(l.errors)}`);
    return l.resource;
  });
}

function snap(configs: Resource[]) {
  return buildSnapshot({ configs, registry: buildRegistryState(configs, [], 'cluster.local'), mesh: {}, domainSuffix: 'cluster.local' });
}

function proxy(ns: string, labels: Record<string, string> = {}): Proxy {
  const p = parseProxy({ id: formatNodeId({ type: 'sidecar', ip: '10.9.9.9', name: 'p', namespace: ns, dnsDomain: `${ns}.svc.cluster.local` }), metadata: { LABELS: labels } });
  assert.ok(p.ok);
  return p.value;
}

const services = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: bookinfo }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: secret, namespace: private, annotations: { networking.istio.io/exportTo: "." } }
spec: { selector: { app: secret }, ports: [{ name: http, port: 80 }] }
---
apiVersion: v1
kind: Service
metadata: { name: other, namespace: team-b }
spec: { selector: { app: other }, ports: [{ name: tcp, port: 5000 }] }
`;

test('host resolution and aliases follow Istio short names', () => {
  assert.equal(resolveHost('reviews', 'bookinfo', 'cluster.local'), 'reviews.bookinfo.svc.cluster.local');
  assert.equal(resolveHost('reviews.bookinfo', 'x', 'cluster.local'), 'reviews.bookinfo');
  assert.equal(resolveHost('*.example.com', 'x', 'cluster.local'), '*.example.com');
  assert.deepEqual(hostAliases('reviews.bookinfo.svc.cluster.local', 9080, 'bookinfo', 'cluster.local'), [
    'reviews.bookinfo.svc.cluster.local', 'reviews.bookinfo.svc.cluster.local:9080', 'reviews.bookinfo.svc', 'reviews.bookinfo.svc:9080',
    'reviews.bookinfo', 'reviews.bookinfo:9080', 'reviews', 'reviews:9080',
  ]);
  assert.equal(parseDurationMillis('1m30.5s'), 90_500);
  assert.equal(parseDurationMillis('250ms'), 250);
  assert.equal(parseDurationMillis('10'), undefined);
  assert.equal(parseDurationMillis('.5s'), 500); // Go accepts a leading dot; the old local parser did not
});

test('exportTo: a service exported to "." is visible only in its own namespace', () => {
  const s = snap(load(services));
  assert.deepEqual(proxyView(s, proxy('bookinfo')).services.map((x) => x.hostname), ['other.team-b.svc.cluster.local', 'reviews.bookinfo.svc.cluster.local']);
  assert.ok(proxyView(s, proxy('private')).serviceByHost('secret.private.svc.cluster.local'));
});

test('Sidecar egress hosts scope what a proxy sees, from its namespace or the root namespace', () => {
  const s = snap(load(`${services}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: bookinfo }
spec: { egress: [{ hosts: ["./*", "istio-system/*"] }] }
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: istio-system }
spec: { egress: [{ hosts: ["team-b/*"] }], outboundTrafficPolicy: { mode: REGISTRY_ONLY } }
`));
  const v = proxyView(s, proxy('bookinfo'));
  assert.deepEqual(v.services.map((x) => x.hostname), ['reviews.bookinfo.svc.cluster.local']);
  assert.equal(v.outboundTrafficPolicy, 'ALLOW_ANY');
  const w = proxyView(s, proxy('elsewhere'));
  assert.deepEqual(w.services.map((x) => x.hostname), ['other.team-b.svc.cluster.local']);
  assert.equal(w.outboundTrafficPolicy, 'REGISTRY_ONLY');
});

const rules = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: mesh-default, namespace: istio-system }
spec:
  host: "*.local"
  trafficPolicy: { tls: { mode: ISTIO_MUTUAL }, connectionPool: { tcp: { maxConnections: 100 } } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: bookinfo }
spec:
  host: reviews
  trafficPolicy: { loadBalancer: { simple: RANDOM } }
  subsets: [{ name: v1, labels: { version: v1 } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews-more, namespace: bookinfo }
spec:
  host: reviews.bookinfo.svc.cluster.local
  trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN }, outlierDetection: { consecutive5xxErrors: 3 } }
  subsets: [{ name: v1, labels: { version: other } }, { name: v2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews-canary-client, namespace: bookinfo }
spec:
  host: reviews
  workloadSelector: { matchLabels: { app: canary } }
  trafficPolicy: { loadBalancer: { simple: LEAST_REQUEST } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews-from-team-b, namespace: team-b }
spec:
  host: reviews.bookinfo.svc.cluster.local
  exportTo: ["."]
  trafficPolicy: { loadBalancer: { simple: PASSTHROUGH } }
`;

test('DestinationRule lookup: workload selector > proxy namespace > service namespace > root, merged and inherited', () => {
  const s = snap(load(`${services}\n---\n${rules}`));
  const reviews = (ns: string, labels: Record<string, string> = {}) => {
    const v = proxyView(s, proxy(ns, labels));
    return v.destinationRule(v.serviceByHost('reviews.bookinfo.svc.cluster.local')!)!;
  };
  const local = reviews('bookinfo');
  assert.deepEqual(local.sources, ['bookinfo/reviews', 'bookinfo/reviews-more', 'istio-system/mesh-default']);
  assert.equal(local.trafficPolicy?.loadBalancer?.simple, 'RANDOM', 'first rule wins a field');
  assert.equal(local.trafficPolicy?.outlierDetection?.consecutive5xxErrors, 3, 'second rule fills a missing field');
  assert.equal(local.trafficPolicy?.tls?.mode, 'ISTIO_MUTUAL', 'root namespace rule is inherited');
  assert.deepEqual(local.subsets.map((x) => [x.name, x.labels?.['version']]), [['v1', 'v1'], ['v2', 'v2']]);
  assert.equal(reviews('bookinfo', { app: 'canary' }).trafficPolicy?.loadBalancer?.simple, 'LEAST_REQUEST');
  assert.equal(reviews('team-b').trafficPolicy?.loadBalancer?.simple, 'PASSTHROUGH', "the client's namespace first");
  const fromElsewhere = reviews('elsewhere');
  assert.equal(fromElsewhere.trafficPolicy?.loadBalancer?.simple, 'RANDOM', "then the service's namespace");
  const v = proxyView(s, proxy('elsewhere'));
  assert.deepEqual(v.destinationRule(v.serviceByHost('other.team-b.svc.cluster.local')!)!.sources, ['istio-system/mesh-default']);
});

test('VirtualService delegation: the root route is replaced by the delegate routes with merged matches', () => {
  const s = snap(load(`${services}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: root, namespace: bookinfo }
spec:
  hosts: [reviews]
  http:
  - match: [{ uri: { prefix: /api }, headers: { x-team: { exact: a } } }]
    delegate: { name: reviews-api, namespace: team-b }
  - route: [{ destination: { host: reviews } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews-api, namespace: team-b }
spec:
  http:
  - match: [{ uri: { prefix: /api/v2 } }]
    route: [{ destination: { host: reviews.bookinfo.svc.cluster.local, subset: v2 } }]
  - route: [{ destination: { host: reviews.bookinfo.svc.cluster.local, subset: v1 } }]
`));
  const vs = proxyView(s, proxy('bookinfo')).virtualServiceFor('reviews.bookinfo.svc.cluster.local', 'mesh')!;
  const http = vs.spec.http!;
  assert.equal(http.length, 3);
  assert.deepEqual(http[0]!.match, [{ uri: { prefix: '/api/v2' }, headers: { 'x-team': { exact: 'a' } } }]);
  assert.deepEqual(http[1]!.match, [{ uri: { prefix: '/api' }, headers: { 'x-team': { exact: 'a' } } }]);
  assert.equal(http[1]!.route?.[0]?.destination.subset, 'v1');
  assert.equal(s.virtualServicesByGateway.get('mesh')!.length, 1, 'delegates are not bound on their own');
});

test('PeerAuthentication: workload > namespace > root, with port-level overrides', () => {
  const s = snap(load(`
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: legacy }
spec: { mtls: { mode: PERMISSIVE } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: web, namespace: legacy }
spec: { selector: { matchLabels: { app: web } }, mtls: { mode: STRICT }, portLevelMtls: { "8080": { mode: DISABLE } } }
`));
  assert.equal(proxyView(s, proxy('any')).mtlsMode(80), 'STRICT');
  assert.equal(proxyView(s, proxy('legacy')).mtlsMode(80), 'PERMISSIVE');
  assert.equal(proxyView(s, proxy('legacy', { app: 'web' })).mtlsMode(80), 'STRICT');
  assert.equal(proxyView(s, proxy('legacy', { app: 'web' })).mtlsMode(8080), 'DISABLE');
});

test('withEndpoints replaces only the endpoint index', () => {
  const s = snap(load(services));
  const t = withEndpoints(s, []);
  assert.equal(t.virtualServicesByGateway, s.virtualServicesByGateway);
  assert.equal(t.services, s.services);
  assert.equal(t.endpointsByService.size, 0);
});

test('policiesFor: mesh-wide, namespace-wide, then workload-selected policies of a kind', async () => {
  const { policiesFor } = await import('./policies.ts');
  const s = snap(load(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-all, namespace: istio-system }
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ns-allow, namespace: shop }
spec: { action: ALLOW, rules: [{ from: [{ source: { namespaces: [shop] } }] }] }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: web-only, namespace: shop }
spec: { selector: { matchLabels: { app: web } }, action: DENY, rules: [{ to: [{ operation: { paths: [/admin] } }] }] }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: elsewhere, namespace: other }
spec: {}
`));
  const names = (labels: Record<string, string>) => policiesFor(s, 'AuthorizationPolicy', proxy('shop', labels)).map((p) => `${p.scope}:${p.resource.metadata.name}`);
  assert.deepEqual(names({ app: 'web' }), ['mesh:deny-all', 'namespace:ns-allow', 'workload:web-only']);
  assert.deepEqual(names({ app: 'db' }), ['mesh:deny-all', 'namespace:ns-allow']);
});
