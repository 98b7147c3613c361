import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
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

test('a sidecar never loads protobufjs: the proxy command, its xDS decoding and request encoding, the CSR messages', () => {
  // A fresh process (this one has protobufjs loaded for the tests above): import what `weft proxy` imports, decode a
  // resource, encode a discovery request, then list the CommonJS modules loaded.
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(new URL('../cli/commands/proxy.ts', import.meta.url).href)});
    const { decodeAny, decodeMessage, encodeMessage, TypeUrl } = await import(${JSON.stringify(new URL('./protos.ts', import.meta.url).href)});
    const { encodeRequest } = await import(${JSON.stringify(new URL('../agent/identity/ca-client.ts', import.meta.url).href)});
    const any = { type_url: TypeUrl.cluster, value: Buffer.from(${JSON.stringify([...Buffer.from(encodeAny(TypeUrl.cluster, { name: 'c', transport_socket: { name: 't', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', sni: 's' } } }).value)])}) };
    if (decodeAny(any).transport_socket.typed_config.sni !== 's') throw new Error('decodeAny');
    const req = encodeMessage('envoy.service.discovery.v3.DiscoveryRequest', { node: { id: 'n', metadata: { fields: { A: { string_value: 'b' } } } }, type_url: TypeUrl.cluster });
    if (decodeMessage('envoy.service.discovery.v3.DiscoveryRequest', req).node.id !== 'n') throw new Error('request');
    encodeRequest({ csr: 'x', validity_duration: 60 });
    console.log(JSON.stringify(Object.keys(createRequire(import.meta.url).cache)));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  const loaded = JSON.parse(out.trim().split('\n').at(-1)!) as string[];
  assert.deepEqual(loaded.filter((f) => /[/\\](protobufjs|@protobufjs|long)[/\\]/.test(f)), []);
});
