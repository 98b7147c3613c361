import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { allocateAddresses, isAutoAllocated } from './allocate.ts';
import { buildNameTable, NameTable } from './name-table.ts';
import { parseAdminClusters, servicesFromClusterNames } from './from-clusters.ts';

const services = [
  { host: 'reviews.default.svc.cluster.local', addresses: [] },
  { host: 'ratings.default.svc.cluster.local', addresses: ['10.96.0.20'] },
  { host: 'httpbin.other.svc.cluster.local', addresses: [] },
  { host: 'api.example.com', addresses: [] },
  { host: '*.wild.example.com', addresses: [] },
];

test('name table: Kubernetes names answer as a pod resolves them (short names only in the own namespace)', () => {
  const table = buildNameTable({ services, namespace: 'default' });
  const reviews = table.lookup('reviews.default.svc.cluster.local');
  assert.ok(reviews && reviews.allocated && isAutoAllocated(reviews.ipv4[0] ?? ''));
  for (const alias of ['reviews', 'reviews.default', 'reviews.default.svc', 'REVIEWS.default.svc.cluster.local.']) {
    assert.equal(table.lookup(alias), reviews, alias);
  }
  assert.deepEqual(table.lookup('ratings')?.ipv4, ['10.96.0.20']);
  assert.equal(table.lookup('ratings')?.allocated, false);
  assert.equal(table.lookup('httpbin'), undefined, 'another namespace has no bare name');
  assert.ok(table.lookup('httpbin.other'));
  assert.ok(table.lookup('api.example.com'));
  assert.equal(table.lookup('x.wild.example.com'), undefined, 'wildcards are not resolvable names');
  assert.equal(table.lookup('example.com'), undefined);
});

test('name table: a name with a search suffix appended (resolver walking its search list) still answers', () => {
  const table = buildNameTable({ services, namespace: 'default' });
  assert.equal(table.lookup('httpbin.other.default.svc.cluster.local'), table.lookup('httpbin.other.svc.cluster.local'));
  assert.equal(table.lookup('api.example.com.cluster.local'), table.lookup('api.example.com'));
  assert.equal(table.lookup('nothing.default.svc.cluster.local'), undefined);
});

test('name table: IPv6 auto-allocation only when asked; previous allocations are kept', () => {
  const v4only = buildNameTable({ services, namespace: 'default' });
  assert.deepEqual(v4only.lookup('reviews')?.ipv6, []);
  const dual = buildNameTable({ services, namespace: 'default', ipv6: true });
  assert.match(dual.lookup('reviews')?.ipv6[0] ?? '', /^2001:2::f0f0:[0-9a-f]+$/);
  const pinned = new Map([['reviews.default.svc.cluster.local', { ipv4: '240.240.0.9', ipv6: '2001:2::f0f0:9' }]]);
  const kept = buildNameTable({ services, namespace: 'default', previous: new NameTable(new Map(), [], pinned) });
  assert.deepEqual(kept.lookup('reviews')?.ipv4, ['240.240.0.9']);
});

test('allocation: deterministic, distinct, inside 240.240.0.0/16, stable when hosts are added', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,12}\.[a-z]{2,5}$/), { maxLength: 60 }), fc.stringMatching(/^[a-z]{1,8}\.new$/), (hosts, extra) => {
      const a = allocateAddresses(hosts);
      assert.deepEqual(allocateAddresses([...hosts].reverse()), a, 'order of input does not matter');
      const v4 = [...a.values()].map((x) => x.ipv4);
      assert.equal(new Set(v4).size, v4.length);
      for (const ip of v4) {
        const [, , c = -1, d = -1] = ip.split('.').map(Number);
        assert.ok(ip.startsWith('240.240.') && c >= 0 && c <= 255 && d >= 0 && d <= 255 && !(c === 0 && d === 0) && !(c === 255 && d === 255), ip);
      }
      const grown = allocateAddresses([...hosts, extra], a);
      for (const h of hosts) assert.deepEqual(grown.get(h), a.get(h), `${h} kept its address`);
    }),
    { numRuns: 100 },
  );
});

test('services from xDS cluster names: one per outbound host, VIPs when known, special clusters skipped', () => {
  const services = servicesFromClusterNames(
    ['outbound|9080||reviews.default.svc.cluster.local', 'outbound|9080|v1|reviews.default.svc.cluster.local', 'outbound|9080||ratings.default.svc.cluster.local', 'inbound|9080||', 'PassthroughCluster', 'BlackHoleCluster', 'outbound|443||api.example.com'],
    new Map([['ratings.default.svc.cluster.local', ['10.96.0.20']]]),
  );
  assert.deepEqual(services, [
    { host: 'api.example.com', addresses: [] },
    { host: 'ratings.default.svc.cluster.local', addresses: ['10.96.0.20'] },
    { host: 'reviews.default.svc.cluster.local', addresses: [] },
  ]);
  const table = buildNameTable({ services, namespace: 'default' });
  assert.ok(table.lookup('reviews')?.allocated);
  assert.deepEqual(table.lookup('ratings')?.ipv4, ['10.96.0.20']);
});

test('admin /clusters text: cluster names and distinct endpoints', () => {
  const text = [
    'outbound|9080||echo.default.svc.cluster.local::default_priority::max_connections::1024',
    'outbound|9080||echo.default.svc.cluster.local::127.0.10.3:9080::cx_active::0',
    'outbound|9080||echo.default.svc.cluster.local::127.0.10.3:9080::health_flags::healthy',
    'outbound|9080|v1|echo.default.svc.cluster.local::127.0.10.3:9080::cx_active::0',
    'outbound|443||api.example.com::[2001:db8::1]:443::cx_active::0',
    'PassthroughCluster::default_priority::max_connections::1024',
    '',
  ].join('\n');
  const { clusters, endpoints } = parseAdminClusters(text);
  assert.deepEqual(clusters, ['outbound|9080||echo.default.svc.cluster.local', 'outbound|9080|v1|echo.default.svc.cluster.local', 'outbound|443||api.example.com', 'PassthroughCluster']);
  assert.deepEqual(endpoints, [{ host: '127.0.10.3', port: 9080 }, { host: '2001:db8::1', port: 443 }]);
});
