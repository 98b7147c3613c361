// tcp_proxy compilation: a single cluster, weighted_clusters (picked per connection by weight), and the errors
// that NACK a listener whose tcp_proxy has no usable target.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileListener, pickTcpCluster, type TcpAction } from './listener-config.ts';

const TCP = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const listener = (typed: object): Record<string, unknown> => ({
  name: '0.0.0.0_9000',
  address: { socket_address: { address: '0.0.0.0', port_value: 9000 } },
  filter_chains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TCP, stat_prefix: 's', ...typed } }] }],
});

function action(typed: object): TcpAction {
  const r = compileListener(listener(typed));
  assert.ok(r.ok, JSON.stringify(!r.ok && r.error));
  const a = r.value.chains[0]!.action;
  assert.equal(a.kind, 'tcp');
  return a as TcpAction;
}

test('tcp_proxy with one cluster', () => {
  const a = action({ cluster: 'outbound|9000|v1|tcp-echo.default.svc.cluster.local' });
  assert.deepEqual(a.weighted, []);
  assert.equal(pickTcpCluster(a, () => 0.99), 'outbound|9000|v1|tcp-echo.default.svc.cluster.local');
});

test('tcp_proxy weighted_clusters: picked by weight, zero weights dropped', () => {
  const a = action({ weighted_clusters: { clusters: [{ name: 'v1', weight: { value: 80 } }, { name: 'v2', weight: 20 }, { name: 'v3', weight: { value: 0 } }] } });
  assert.deepEqual(a.weighted, [{ name: 'v1', weight: 80 }, { name: 'v2', weight: 20 }]);
  assert.equal(pickTcpCluster(a, () => 0), 'v1');
  assert.equal(pickTcpCluster(a, () => 0.799), 'v1');
  assert.equal(pickTcpCluster(a, () => 0.8), 'v2');
  assert.equal(pickTcpCluster(a, () => 0.999999), 'v2');
  // Evenly spread inputs land in proportion to the weights.
  let v2 = 0;
  for (let i = 0; i < 1000; i++) if (pickTcpCluster(a, () => i / 1000) === 'v2') v2++;
  assert.equal(v2, 200);
});

test('tcp_proxy without a usable target is rejected with its field path', () => {
  const none = compileListener(listener({}));
  assert.ok(!none.ok && none.error.some((e) => /filter_chains\[0\]\.filters\[0\]\.typed_config\.cluster/.test(e.path)), JSON.stringify(!none.ok && none.error));
  const zero = compileListener(listener({ weighted_clusters: { clusters: [{ name: 'v1', weight: { value: 0 } }] } }));
  assert.ok(!zero.ok && zero.error.some((e) => /weighted_clusters/.test(e.path) && /weight above 0/.test(e.message)), JSON.stringify(!zero.ok && zero.error));
});
