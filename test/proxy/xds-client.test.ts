// The proxy's ADS client against a real gRPC ADS server: subscriptions in Envoy's order, ACK/NACK with versions
// and nonces, Istio node metadata, last good config on a bad push, and reconnect after the control plane restarts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TypeUrl } from '../../src/xds/protos.ts';
import { AdsClient } from '../../src/proxy/xds-client/ads-client.ts';
import { ProxyEngine } from '../../src/proxy/engine.ts';
import { unknownWorkload } from '../../src/proxy/stats/istio-metrics.ts';
import { TestAdsServer } from './ads-server.ts';
import { assignment, edsCluster, outboundListener, routeConfig, startUpstream, viaProxy, vhost } from './helpers.ts';

const CLUSTER = 'outbound|9080||reviews.default.svc.cluster.local';

async function setup(): Promise<{ server: TestAdsServer; engine: ProxyEngine; client: AdsClient; proxyPort: number; upstreamPort: number; close: () => Promise<void> }> {
  const up = await startUpstream('reviews-v1');
  const server = new TestAdsServer();
  await server.start();
  server.set(TypeUrl.cluster, 'c1', [edsCluster(CLUSTER)]);
  server.set(TypeUrl.endpoint, 'e1', [assignment(CLUSTER, [up.port])]);
  server.set(TypeUrl.listener, 'l1', [outboundListener(9080)]);
  server.set(TypeUrl.route, 'r1', [routeConfig('9080', [vhost('reviews', ['reviews:9080'], [{ match: { prefix: '/' }, route: { cluster: CLUSTER } }])])]);
  const engine = new ProxyEngine({ workload: unknownWorkload, log: () => undefined });
  const proxyPort = await engine.listeners.bindOwn('virtualOutbound', '127.0.0.1', 0, 'explicit', 'outbound');
  const client = new AdsClient({
    address: `127.0.0.1:${server.port}`,
    node: { type: 'sidecar', ip: '10.0.0.7', name: 'productpage-v1-abc', namespace: 'default', labels: { app: 'productpage', version: 'v1' }, serviceAccount: 'bookinfo-productpage', instanceIps: ['10.0.0.7'] },
    sink: engine,
    version: '0.1.0',
    backoff: { initialMs: 20, maxMs: 200 },
  });
  client.start();
  return {
    server,
    engine,
    client,
    proxyPort,
    upstreamPort: up.port,
    close: async () => {
      client.stop();
      engine.close();
      server.stop();
      await up.close();
    },
  };
}

test('subscribes CDS → EDS and LDS → RDS, ACKs each version with its nonce, and serves traffic', async (t) => {
  const s = await setup();
  t.after(s.close);
  await s.client.whenReady();
  const r = await viaProxy(s.proxyPort, 'http://reviews:9080/');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'reviews-v1');
  const first = s.server.requests[0]!;
  assert.equal(first.nodeId, 'sidecar~10.0.0.7~productpage-v1-abc.default~default.svc.cluster.local');
  assert.equal(first.metadata?.['NAMESPACE'], 'default');
  assert.deepEqual(first.metadata?.['LABELS'], { app: 'productpage', version: 'v1' });
  assert.equal(first.metadata?.['SERVICE_ACCOUNT'], 'bookinfo-productpage');
  assert.equal(first.metadata?.['INSTANCE_IPS'], '10.0.0.7');
  const eds = await s.server.waitFor((q) => q.typeUrl === TypeUrl.endpoint && q.nonce === '');
  assert.deepEqual(eds.names, [CLUSTER]);
  const rds = await s.server.waitFor((q) => q.typeUrl === TypeUrl.route && q.nonce === '');
  assert.deepEqual(rds.names, ['9080']);
  for (const [t2, v] of [[TypeUrl.cluster, 'c1'], [TypeUrl.endpoint, 'e1'], [TypeUrl.listener, 'l1'], [TypeUrl.route, 'r1']] as const) {
    const ack = await s.server.waitFor((q) => q.typeUrl === t2 && q.version === v && q.nonce !== '');
    assert.equal(ack.error, undefined, `${t2} acked`);
  }
});

test('a bad push is NACKed with error_detail and the previous version; the last good config keeps serving', async (t) => {
  const s = await setup();
  t.after(s.close);
  await s.client.whenReady();
  s.server.set(TypeUrl.route, 'r2', [routeConfig('9080', [vhost('reviews', ['reviews:9080'], [{ match: { safe_regex: { regex: '[' } }, route: { cluster: CLUSTER } }])])]);
  const nack = await s.server.waitFor((q) => q.typeUrl === TypeUrl.route && q.error !== undefined);
  assert.equal(nack.version, 'r1', 'a NACK carries the last accepted version');
  assert.match(nack.error!, /9080: virtual_hosts\[0\]\.routes\[0\]\.match\.safe_regex\.regex: invalid RE2 regex/);
  assert.equal((await viaProxy(s.proxyPort, 'http://reviews:9080/')).status, 200);
  assert.equal(s.client.status()['RDS']!.nacks, 1);
  // A good push afterwards is accepted again.
  s.server.set(TypeUrl.route, 'r3', [routeConfig('9080', [vhost('reviews', ['reviews:9080'], [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'r3' } } }])])]);
  await s.server.waitFor((q) => q.typeUrl === TypeUrl.route && q.version === 'r3' && q.error === undefined);
  assert.equal((await viaProxy(s.proxyPort, 'http://reviews:9080/')).body, 'r3');
});

test('the control plane going away does not stop traffic; the client reconnects with backoff when it returns', async (t) => {
  const s = await setup();
  await s.client.whenReady();
  const port = s.server.port;
  s.server.stop();
  for (let i = 0; i < 5; i++) assert.equal((await viaProxy(s.proxyPort, 'http://reviews:9080/')).status, 200);
  const again = new TestAdsServer();
  await again.start(port);
  again.set(TypeUrl.cluster, 'c1', [edsCluster(CLUSTER)]);
  again.set(TypeUrl.endpoint, 'e1', [assignment(CLUSTER, [s.upstreamPort])]);
  again.set(TypeUrl.listener, 'l1', [outboundListener(9080)]);
  again.set(TypeUrl.route, 'r9', [routeConfig('9080', [vhost('reviews', ['reviews:9080'], [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'after-reconnect' } } }])])]);
  const resub = await again.waitFor((q) => q.typeUrl === TypeUrl.listener);
  assert.equal(resub.version, 'l1', 'resubscribes with the version it already has');
  await again.waitFor((q) => q.typeUrl === TypeUrl.route && q.version === 'r9');
  assert.equal((await viaProxy(s.proxyPort, 'http://reviews:9080/')).body, 'after-reconnect');
  assert.ok(s.client.streams >= 2);
  t.after(async () => {
    again.stop();
    await s.close();
  });
});
