// A Gateway TCP server's tcp route gets its destination's DestinationRule connectionPool.tcp.idleTimeout as the
// tcp_proxy idle_timeout, as sidecar TCP listeners do (connection-pool.test.ts) and as Istio builds both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TypeUrl } from '../../xds/protos.ts';
import { generateResources } from './index.ts';
import { assertEncodes, parseYaml, sidecarProxy, snapshotOf } from './fixtures.test.ts';

type J = Record<string, unknown>;

const mesh = parseYaml(`
apiVersion: v1
kind: Service
metadata: { name: db, namespace: shop }
spec: { clusterIP: 10.96.0.20, selector: { app: db }, ports: [{ name: tcp-pg, port: 5432 }] }
---
apiVersion: v1
kind: Service
metadata: { name: cache, namespace: shop }
spec: { clusterIP: 10.96.0.21, selector: { app: cache }, ports: [{ name: tcp-redis, port: 6379 }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: db, namespace: shop }
spec:
  host: db.shop.svc.cluster.local
  trafficPolicy:
    connectionPool:
      tcp: { idleTimeout: 90s }
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: tcp-gw, namespace: shop }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 31400, name: tcp-db, protocol: TCP }
    hosts: ['*']
  - port: { number: 31401, name: tcp-cache, protocol: TCP }
    hosts: ['*']
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: db, namespace: shop }
spec:
  hosts: ['*']
  gateways: [tcp-gw]
  tcp:
  - match: [{ port: 31400 }]
    route: [{ destination: { host: db.shop.svc.cluster.local, port: { number: 5432 } } }]
  - match: [{ port: 31401 }]
    route: [{ destination: { host: cache.shop.svc.cluster.local, port: { number: 6379 } } }]
`);

function tcpProxyOn(port: number): J {
  const gw = sidecarProxy({ ip: '10.2.0.9', name: 'ingress-1', namespace: 'shop', labels: { istio: 'ingressgateway' }, type: 'router' });
  const lds = generateResources(gw, snapshotOf(mesh), TypeUrl.listener).map((r) => r.resource);
  for (const l of lds) assertEncodes(TypeUrl.listener, l);
  const l = lds.find((x) => (x['address'] as { socket_address: { port_value: number } }).socket_address.port_value === port);
  assert.ok(l, `a gateway listener on ${port}`);
  const filters = ((l['filter_chains'] as J[])[0]?.['filters'] as J[] | undefined) ?? [];
  const tcp = filters.find((f) => f['name'] === 'envoy.filters.network.tcp_proxy')?.['typed_config'] as J | undefined;
  assert.ok(tcp, `a tcp_proxy on ${port}`);
  return tcp;
}

test('Gateway TCP route: the destination DestinationRule tcp.idleTimeout → tcp_proxy idle_timeout; none without a rule', () => {
  const db = tcpProxyOn(31400);
  assert.equal(db['cluster'], 'outbound|5432||db.shop.svc.cluster.local');
  assert.deepEqual(db['idle_timeout'], { seconds: 90 });
  const cache = tcpProxyOn(31401);
  assert.equal(cache['cluster'], 'outbound|6379||cache.shop.svc.cluster.local');
  assert.equal(cache['idle_timeout'], undefined, "Envoy's default (1 h) when no rule sets it");
});
