// ConfigState keeps an accepted resource's wire bytes, not its decoded object (several times larger), and decodes
// them again when `raw` is read (config_dump); objects that did not come from decodeAny() are kept as they are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TypeUrl, decodeAny, encodeAny, wireSourceOf } from '../../xds/protos.ts';
import { ConfigState } from './config-state.ts';

const cluster = {
  name: 'outbound|9080||reviews.default.svc.cluster.local',
  type: 'EDS',
  connect_timeout: { seconds: 10 },
  eds_cluster_config: { service_name: 'outbound|9080||reviews.default.svc.cluster.local', eds_config: { ads: {} } },
};

test('decodeAny remembers its Any invisibly; wireSourceOf returns a copy of the bytes', () => {
  const any = encodeAny(TypeUrl.cluster, cluster);
  const decoded = decodeAny(any);
  assert.deepEqual(Object.keys(decoded), Object.keys(decodeAny(any)));
  assert.equal(JSON.stringify(decoded), JSON.stringify({ ...decoded }));
  const source = wireSourceOf(decoded)!;
  assert.equal(source.type_url, TypeUrl.cluster);
  assert.deepEqual(Buffer.from(source.value), Buffer.from(any.value));
  assert.notEqual(source.value.buffer, any.value.buffer, 'a copy, not a view into the response');
  assert.equal(wireSourceOf({ ...decoded }), undefined);
  assert.equal(wireSourceOf(cluster), undefined);
});

test('an accepted resource from the wire is kept as bytes and decoded again for raw; others as they are', () => {
  const state = new ConfigState();
  const decoded = decodeAny(encodeAny(TypeUrl.cluster, cluster));
  assert.deepEqual(state.apply(TypeUrl.cluster, [decoded], '1'), []);
  const e = state.clusters.get(cluster.name)!;
  assert.equal(typeof Object.getOwnPropertyDescriptor(e, 'raw')?.get, 'function');
  assert.deepEqual(e.raw, decoded);
  assert.notEqual(e.raw, decoded, 'the decoded object itself is not kept');
  assert.ok(!Object.values(e).includes(decoded) && !Object.values(e.value).includes(decoded));
  assert.equal(e.value.name, cluster.name);

  const plain = { ...cluster, name: 'plain' };
  assert.deepEqual(state.apply(TypeUrl.cluster, [plain], '2'), []);
  assert.equal(state.clusters.get('plain')!.raw, plain);
});
