import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TypeUrl, encodeAny, decodeAny, adsServiceDefinition } from './protos.ts';

test('a Cluster with a nested typed Any round-trips through encodeAny/decodeAny', () => {
  const cluster = {
    name: 'outbound|9080|v1|reviews.default.svc.cluster.local',
    type: 'EDS',
    connect_timeout: { seconds: 10 },
    eds_cluster_config: { service_name: 'outbound|9080|v1|reviews.default.svc.cluster.local', eds_config: { ads: {}, resource_api_version: 'V3' } },
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        sni: 'outbound_.9080_.v1_.reviews.default.svc.cluster.local',
      },
    },
  };
  const any = encodeAny(TypeUrl.cluster, cluster);
  assert.equal(any.type_url, TypeUrl.cluster);
  const back = decodeAny(any) as typeof cluster;
  assert.equal(back.name, cluster.name);
  assert.equal(back.type, 'EDS');
  assert.equal(back.transport_socket.typed_config['@type'], cluster.transport_socket.typed_config['@type']);
  assert.equal(back.transport_socket.typed_config.sni, cluster.transport_socket.typed_config.sni);
});

test('the ADS service definition has both the state-of-the-world and the delta stream', () => {
  const def = adsServiceDefinition();
  assert.ok(def['StreamAggregatedResources']);
  assert.ok(def['DeltaAggregatedResources']);
  assert.equal(def['StreamAggregatedResources']!.path, '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources');
});
