import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { buildXdsDescriptor, descriptorText, loadFullXdsRoot } from './descriptor-build.ts';
import { DescriptorIndex } from './descriptor-index.ts';
import { LazyXdsRoot } from './lazy-root.ts';
import { TypeUrl, encodeAny, ensureXdsType, messageType, xdsRoot, xdsTypeCounts } from './protos.ts';

const committed = readFileSync(new URL('./xds-descriptor.gen.json', import.meta.url), 'utf8');
const full = loadFullXdsRoot();

test('xds-descriptor.gen.json is up to date (regenerate: node scripts/gen-xds-descriptor.ts)', () => {
  assert.equal(committed, descriptorText(buildXdsDescriptor(full)));
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

test('every resource type and the ADS/CSDS services are in the compact descriptor', () => {
  for (const url of Object.values(TypeUrl)) assert.ok(messageType(url));
  for (const s of ['envoy.service.discovery.v3.AggregatedDiscoveryService', 'envoy.service.status.v3.ClientStatusDiscoveryService']) {
    assert.ok(ensureXdsType(s));
    assert.ok(xdsRoot().lookupService(s));
  }
  assert.equal(ensureXdsType('envoy.no.such.Type'), false);
  const { loaded, total } = xdsTypeCounts();
  assert.ok(loaded < total, `${loaded} of ${total} types built`);
});

/** A field as the codec sees it: number, wire type, label, packing, map key, the resolved type's full name. */
function fieldShape(f: protobuf.Field): string {
  f.resolve();
  const map = f instanceof protobuf.MapField ? ` map<${f.keyType}>` : '';
  return `${f.id} ${f.name} ${f.resolvedType?.fullName ?? f.type} ${f.repeated ? 'repeated' : ''}${f.packed ? ' packed' : ''}${map}${f.partOf ? ` oneof ${f.partOf.name}` : ''}`;
}

test('each type, built alone on demand, has exactly the fields of the full .proto root and builds its codec', () => {
  const index = new DescriptorIndex(committed);
  const names = index.names();
  assert.ok(names.length > 400);
  for (const name of names) {
    const lazy = new LazyXdsRoot(index, protobuf);
    assert.ok(lazy.ensure(name), name);
    const mine = lazy.root.lookup(name);
    const ref = full.lookup(name);
    assert.ok(mine && ref, name);
    assert.equal(mine.constructor, ref.constructor, name);
    if (mine instanceof protobuf.Type && ref instanceof protobuf.Type) {
      assert.deepEqual(mine.fieldsArray.map(fieldShape), ref.fieldsArray.map(fieldShape), name);
      // Each codec function, generated on its first call: an empty message through all five.
      assert.equal(mine.verify({}), null, name);
      assert.deepEqual(mine.toObject(mine.decode(mine.encode(mine.fromObject({})).finish())), ref.toObject(ref.decode(new Uint8Array())), name);
    } else if (mine instanceof protobuf.Enum && ref instanceof protobuf.Enum) {
      assert.deepEqual(mine.values, ref.values, name);
    }
  }
});
