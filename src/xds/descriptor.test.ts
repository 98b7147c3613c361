import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildXdsDescriptor, loadFullXdsRoot } from './descriptor-build.ts';
import { TypeUrl, encodeAny, xdsRoot } from './protos.ts';

const committed = readFileSync(new URL('./xds-descriptor.gen.json', import.meta.url), 'utf8');
const full = loadFullXdsRoot();

test('xds-descriptor.gen.json is up to date (regenerate: node scripts/gen-xds-descriptor.ts)', () => {
  assert.equal(committed, `${JSON.stringify(buildXdsDescriptor(full))}\n`);
});

test('the compact root encodes exactly as the full .proto root (packed fields, Anys, Struct, wrappers)', () => {
  const listener = {
    name: 'virtualInbound',
    address: { socket_address: { address: '0.0.0.0', port_value: 15006 } },
    metadata: { filter_metadata: { istio: { fields: { config: { string_value: 'x' } } } } },
    per_connection_buffer_limit_bytes: { value: 32768 },
    filter_chains: [{
      filter_chain_match: { destination_port: { value: 9080 }, application_protocols: ['istio-peer-exchange', 'h2'], source_ports: [1, 2, 3] },
      filters: [{
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          stat_prefix: 'inbound_0.0.0.0_9080',
          route_config: { name: 'inbound|9080||', virtual_hosts: [{ name: 'inbound|http|9080', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'inbound|9080||', timeout: { seconds: 0 }, retry_policy: { retriable_status_codes: [503, 504] } } }] }] },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
        },
      }],
    }],
  };
  const lean = encodeAny(TypeUrl.listener, listener);
  const t = full.lookupType('envoy.config.listener.v3.Listener');
  const reference = t.encode(t.fromObject(listener)).finish();
  assert.deepEqual(Buffer.from(lean.value), Buffer.from(reference));
});

test('every resource type and the ADS/CSDS services are in the compact root', () => {
  for (const url of Object.values(TypeUrl)) assert.ok(xdsRoot().lookupType(url.slice('type.googleapis.com/'.length)));
  assert.ok(xdsRoot().lookupService('envoy.service.discovery.v3.AggregatedDiscoveryService'));
  assert.ok(xdsRoot().lookupService('envoy.service.status.v3.ClientStatusDiscoveryService'));
});
