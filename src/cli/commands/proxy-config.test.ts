// `weft proxy-config route`: the VIRTUAL SERVICE column comes from the route metadata the translator emits
// (Istio's filter_metadata.istio.config), read from a config dump whose routes went through the xDS wire encoding
// as the proxy's admin dump has them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TypeUrl, decodeAny, encodeAny } from '../../xds/protos.ts';
import { generateResources } from '../../discovery/translate/index.ts';
import { parseYaml, sidecarProxy, snapshotOf } from '../../discovery/translate/fixtures.test.ts';
import { renderSection } from './proxy-config.ts';

const config = parseYaml(`
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec: { clusterIP: 10.96.0.20, selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: ratings, namespace: default }
spec: { clusterIP: 10.96.0.21, selector: { app: ratings }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews-route, namespace: default }
spec:
  hosts: [reviews]
  http:
  - match: [{ uri: { prefix: /v2 } }]
    route: [{ destination: { host: reviews } }]
  - route: [{ destination: { host: reviews } }]
`);

function routeDump(): Record<string, unknown> {
  const snap = snapshotOf(config);
  const proxy = sidecarProxy({ ip: '10.1.0.9', name: 'productpage-0', namespace: 'default' });
  const routes = generateResources(proxy, snap, TypeUrl.route, ['9080']).map((r) => decodeAny(encodeAny(TypeUrl.route, r.resource)));
  return {
    configs: [{ '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump', dynamic_route_configs: routes.map((route_config) => ({ route_config })) }],
  };
}

test('routes from a VirtualService name it (name.namespace) in the VIRTUAL SERVICE column; default routes show -', () => {
  const lines = renderSection('route', routeDump()).trimEnd().split('\n');
  const row = (vhost: string, match: string): string | undefined => lines.find((l) => l.includes(vhost) && l.includes(match));
  assert.match(lines[0]!, /VIRTUAL SERVICE/);
  assert.match(row('reviews.default.svc.cluster.local:9080', '/v2*') ?? '', /reviews-route\.default\s*$/);
  const reviewsRows = lines.filter((l) => l.includes('reviews.default.svc.cluster.local:9080'));
  assert.equal(reviewsRows.length, 2);
  for (const l of reviewsRows) assert.match(l, /reviews-route\.default\s*$/);
  const ratings = lines.filter((l) => l.includes('ratings.default.svc.cluster.local:9080'));
  assert.equal(ratings.length, 1);
  assert.match(ratings[0]!, /\s-\s*$/);
});

test('the metadata has Istio form and survives the wire encoding as a Struct', () => {
  const dump = routeDump();
  const rc = ((dump['configs'] as Record<string, unknown>[])[0]!['dynamic_route_configs'] as { route_config: Record<string, unknown> }[])[0]!.route_config;
  const vh = (rc['virtual_hosts'] as Record<string, unknown>[]).find((v) => v['name'] === 'reviews.default.svc.cluster.local:9080')!;
  const route = (vh['routes'] as Record<string, unknown>[])[0]!;
  assert.deepEqual(route['metadata'], {
    filter_metadata: { istio: { fields: { config: { stringValue: '/apis/networking.istio.io/v1/namespaces/default/virtual-service/reviews-route' } } } },
  });
});
