// DestinationRule connectionPool.tcp durations through the whole translation: maxConnectionDuration and idleTimeout
// on the service's HTTP clusters, idleTimeout on its TCP listener's tcp_proxy (as Istio builds both).
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
spec: { clusterIP: 10.96.0.20, selector: { app: db }, ports: [{ name: tcp-pg, port: 5432 }, { name: http-admin, port: 8080 }] }
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
  host: db
  trafficPolicy:
    connectionPool:
      tcp: { maxConnectionDuration: 10m, idleTimeout: 90s }
`);

function gen(t: typeof TypeUrl.listener | typeof TypeUrl.cluster): J[] {
  const res = generateResources(sidecarProxy({ ip: '10.2.0.5', name: 'client-1', namespace: 'shop' }), snapshotOf(mesh), t);
  for (const r of res) assertEncodes(t, r.resource);
  return res.map((r) => r.resource);
}

function tcpProxyOf(listener: J | undefined): J {
  const chains = (listener?.['filter_chains'] as J[] | undefined) ?? [];
  const filters = (chains[0]?.['filters'] as J[] | undefined) ?? [];
  return filters.find((f) => f['name'] === 'envoy.filters.network.tcp_proxy')?.['typed_config'] as J;
}

test('tcp.idleTimeout → the tcp_proxy idle_timeout of the service TCP listener; none without a rule (Envoy default 1 h)', () => {
  const lds = gen(TypeUrl.listener);
  assert.deepEqual(tcpProxyOf(lds.find((l) => l['name'] === '10.96.0.20_5432'))['idle_timeout'], { seconds: 90 });
  assert.equal(tcpProxyOf(lds.find((l) => l['name'] === '10.96.0.21_6379'))['idle_timeout'], undefined);
});

test('tcp.maxConnectionDuration and tcp.idleTimeout → the HTTP cluster common_http_protocol_options', () => {
  const c = gen(TypeUrl.cluster).find((x) => x['name'] === 'outbound|8080||db.shop.svc.cluster.local')!;
  const hpo = (c['typed_extension_protocol_options'] as Record<string, J>)['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']!;
  assert.deepEqual(hpo['common_http_protocol_options'], { idle_timeout: { seconds: 90 }, max_connection_duration: { seconds: 600 } });
});
