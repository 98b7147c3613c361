// The delta xDS client against the control plane's real ADS server (src/discovery/serve on grpc-js), driving a real
// proxy engine: EDS/RDS subscriptions follow clusters and listeners, removals reach the proxy, a NACK keeps the
// last good config, a reconnect resumes with initial_resource_versions, and `weft proxy-status` sees SYNCED.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { TypeUrl } from '../../xds/protos.ts';
import { DiscoveryServer } from '../../discovery/serve/server.ts';
import type { XdsEvent } from '../../discovery/serve/context.ts';
import { proxySync } from '../../discovery/serve/status.ts';
import type { GeneratedResource, XdsView } from '../../discovery/serve/types.ts';
import { ProxyEngine } from '../engine.ts';
import { unknownWorkload } from '../stats/istio-metrics.ts';
import type { Raw } from '../config/raw.ts';
import { assignment, edsCluster, outboundListener, routeConfig, startUpstream, viaProxy, vhost } from '../../../test/proxy/helpers.ts';
import { TestAdsServer } from '../../../test/proxy/ads-server.ts';
import { AdsClient } from './ads-client.ts';
import type { DeltaHandler } from './delta.ts';

const REVIEWS = 'outbound|9080||reviews.default.svc.cluster.local';
const RATINGS = 'outbound|9080||ratings.default.svc.cluster.local';

type World = Record<string, Map<string, Raw>>;

let versions = 0;
function viewOf(w: World): XdsView<{ id: string }> {
  const maps = Object.fromEntries(Object.entries(w).map(([t, m]) => [t, new Map(m)]));
  return {
    version: `v${++versions}`,
    generate(_p, typeUrl, names): GeneratedResource[] {
      const m = maps[typeUrl] ?? new Map<string, Raw>();
      return (names ?? [...m.keys()]).flatMap((n) => {
        const r = m.get(n);
        return r ? [{ name: n, resource: r }] : [];
      });
    },
  };
}

const route = (name: string, cluster: string, body?: string): Raw =>
  routeConfig(name, [vhost('all', ['*'], [{ match: { prefix: '/' }, ...(body ? { direct_response: { status: 200, body: { inline_string: body } } } : { route: { cluster } }) }])]);

function initialWorld(upstreamPort: number): World {
  return {
    [TypeUrl.cluster]: new Map([[REVIEWS, edsCluster(REVIEWS)]]),
    [TypeUrl.endpoint]: new Map([
      [REVIEWS, assignment(REVIEWS, [upstreamPort])],
      [RATINGS, assignment(RATINGS, [upstreamPort])],
    ]),
    [TypeUrl.listener]: new Map([['0.0.0.0_9080', outboundListener(9080)]]),
    [TypeUrl.route]: new Map([['9080', route('9080', REVIEWS)]]),
  };
}

async function startServer(w: World, port = 0) {
  const xds = new DiscoveryServer<{ id: string }>({ model: { parse: (node) => ({ ok: true, value: { id: node.id } }) }, view: viewOf(w) });
  const events: XdsEvent[] = [];
  xds.onEvent((e) => events.push(e));
  const server = new grpc.Server();
  xds.register(server);
  const bound = await new Promise<number>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const waitFor = (pred: (e: XdsEvent) => boolean): Promise<XdsEvent> =>
    new Promise((resolve) => {
      const found = events.find(pred);
      if (found) return resolve(found);
      const off = xds.onEvent((e) => {
        if (!pred(e)) return;
        off();
        resolve(e);
      });
    });
  return {
    xds,
    port: bound,
    events,
    waitFor,
    update: (next: World) => xds.update(viewOf(next), { full: true, reasons: ['test'], startMs: Date.now() }),
    /** The subscription the server holds for a type on the (single) connection. */
    subscribed: (typeUrl: string) => xds.connections()[0]?.types.get(typeUrl)?.requestedNames()?.list ?? ['*'],
    stop: () => {
      xds.closeAll();
      server.forceShutdown();
    },
  };
}

async function setup() {
  const up = await startUpstream('reviews-v1');
  const w = initialWorld(up.port);
  const cp = await startServer(w);
  const engine = new ProxyEngine({ workload: unknownWorkload, log: () => undefined });
  const proxyPort = await engine.listeners.bindOwn('virtualOutbound', '127.0.0.1', 0, 'explicit', 'outbound');
  const client = new AdsClient({
    address: `127.0.0.1:${cp.port}`,
    protocol: 'delta',
    node: { type: 'sidecar', ip: '10.0.0.7', name: 'productpage-v1-abc', namespace: 'default', labels: { app: 'productpage' }, serviceAccount: 'bookinfo-productpage', instanceIps: ['10.0.0.7'] },
    sink: engine,
    version: '0.1.0',
    backoff: { initialMs: 20, maxMs: 200 },
  });
  client.start();
  return {
    up,
    w,
    cp,
    engine,
    client,
    proxyPort,
    close: async () => {
      client.stop();
      engine.close();
      cp.stop();
      await up.close();
    },
  };
}

/** Every ACK of the current server version for these types (the proxy converged). */
async function converged(cp: Awaited<ReturnType<typeof startServer>>, types: string[]): Promise<void> {
  const version = cp.xds.view.version;
  for (const t of types) await cp.waitFor((e) => e.kind === 'ack' && e.typeUrl === t && e.version === version);
}

test('delta: wildcard CDS/LDS, EDS/RDS follow clusters and listeners (subscribe and unsubscribe), removals reach the proxy, proxy-status SYNCED', async (t) => {
  const s = await setup();
  t.after(s.close);
  await s.client.whenReady();
  assert.equal((await viaProxy(s.proxyPort, 'http://reviews:9080/')).body, 'reviews-v1');
  assert.deepEqual(s.cp.subscribed(TypeUrl.cluster), ['*']);
  assert.deepEqual(s.cp.subscribed(TypeUrl.endpoint), [REVIEWS]);
  assert.deepEqual(s.cp.subscribed(TypeUrl.route), ['9080']);
  await converged(s.cp, [TypeUrl.cluster, TypeUrl.endpoint, TypeUrl.listener, TypeUrl.route]);
  const sync = proxySync(s.cp.xds.connections()[0]!);
  assert.equal(sync.protocol, 'delta');
  for (const k of ['cds', 'eds', 'lds', 'rds'] as const) assert.equal(sync[k].status, 'SYNCED', k);

  // A new cluster and a new listener: the proxy subscribes to their EDS and RDS names.
  s.w[TypeUrl.cluster]!.set(RATINGS, edsCluster(RATINGS));
  s.w[TypeUrl.listener]!.set('0.0.0.0_9081', outboundListener(9081));
  s.w[TypeUrl.route]!.set('9081', route('9081', RATINGS, 'via 9081'));
  s.cp.update(s.w);
  await converged(s.cp, [TypeUrl.cluster, TypeUrl.listener]);
  await s.cp.waitFor((e) => e.kind === 'ack' && e.typeUrl === TypeUrl.route && s.cp.subscribed(TypeUrl.route).includes('9081'));
  assert.deepEqual([...s.cp.subscribed(TypeUrl.endpoint)].sort(), [RATINGS, REVIEWS]);
  assert.deepEqual([...s.cp.subscribed(TypeUrl.route)].sort(), ['9080', '9081']);
  await s.cp.waitFor((e) => e.kind === 'ack' && e.typeUrl === TypeUrl.endpoint && s.engine.state.endpoints.has(RATINGS));
  assert.ok(s.engine.state.clusters.has(RATINGS));
  assert.equal((await viaProxy(s.proxyPort, 'http://anything:9081/')).body, 'via 9081');

  // The cluster and the listener go away: removed_resources, and the proxy unsubscribes what they referenced.
  s.w[TypeUrl.cluster]!.delete(RATINGS);
  s.w[TypeUrl.listener]!.delete('0.0.0.0_9081');
  const removal = s.cp.events.length;
  s.cp.update(s.w);
  const pushed = await s.cp.waitFor((e) => s.cp.events.indexOf(e) >= removal && e.kind === 'push' && e.typeUrl === TypeUrl.cluster);
  assert.equal(pushed.kind === 'push' && pushed.removed, 1, 'CDS removal sent as removed_resources');
  await converged(s.cp, [TypeUrl.cluster, TypeUrl.listener]);
  assert.equal(s.engine.state.clusters.has(RATINGS), false);
  assert.equal(s.engine.state.listeners.has('0.0.0.0_9081'), false);
  await s.cp.waitFor(() => !s.cp.subscribed(TypeUrl.endpoint).includes(RATINGS) && !s.cp.subscribed(TypeUrl.route).includes('9081'));
  assert.deepEqual(s.cp.subscribed(TypeUrl.endpoint), [REVIEWS]);
  assert.equal(s.engine.state.endpoints.has(RATINGS), false);
  const held = (s.client.protocolHandler as DeltaHandler).held(TypeUrl.endpoint);
  assert.deepEqual([...held.keys()], [REVIEWS]);
  assert.equal((await viaProxy(s.proxyPort, 'http://reviews:9080/')).body, 'reviews-v1');
});

test('delta: a bad route is NACKed with error_detail, the last good config keeps serving, a good one is accepted again', async (t) => {
  const s = await setup();
  t.after(s.close);
  await s.client.whenReady();
  s.w[TypeUrl.route]!.set('9080', routeConfig('9080', [vhost('all', ['*'], [{ match: { safe_regex: { regex: '[' } }, route: { cluster: REVIEWS } }])]));
  s.cp.update(s.w);
  const nack = await s.cp.waitFor((e) => e.kind === 'nack' && e.typeUrl === TypeUrl.route);
  assert.ok(nack.kind === 'nack');
  assert.match(nack.message, /9080: virtual_hosts\[0\]\.routes\[0\]\.match\.safe_regex\.regex: invalid RE2 regex/);
  assert.equal(proxySync(s.cp.xds.connections()[0]!).rds.status, 'NACKED');
  assert.equal((await viaProxy(s.proxyPort, 'http://reviews:9080/')).body, 'reviews-v1');
  assert.equal(s.client.status()['RDS']!.nacks, 1);
  s.w[TypeUrl.route]!.set('9080', route('9080', REVIEWS, 'fixed'));
  s.cp.update(s.w);
  await converged(s.cp, [TypeUrl.route]);
  assert.equal((await viaProxy(s.proxyPort, 'http://reviews:9080/')).body, 'fixed');
  assert.equal(proxySync(s.cp.xds.connections()[0]!).rds.status, 'SYNCED');
});

test('delta: after the control plane restarts the client resumes with initial_resource_versions (only changes are sent)', async (t) => {
  const s = await setup();
  await s.client.whenReady();
  await converged(s.cp, [TypeUrl.cluster, TypeUrl.endpoint, TypeUrl.listener, TypeUrl.route]);
  const port = s.cp.port;
  s.cp.stop();
  for (let i = 0; i < 3; i++) assert.equal((await viaProxy(s.proxyPort, 'http://reviews:9080/')).body, 'reviews-v1');
  // The restarted control plane has the same resources except one route and one removed endpoint set.
  const w = initialWorld(s.up.port);
  w[TypeUrl.route]!.set('9080', route('9080', REVIEWS, 'after-reconnect'));
  const again = await startServer(w, port);
  t.after(async () => {
    again.stop();
    await s.close();
  });
  await converged(again, [TypeUrl.cluster, TypeUrl.endpoint, TypeUrl.listener, TypeUrl.route]);
  const pushes = (typeUrl: string) => again.events.filter((e) => e.kind === 'push' && e.typeUrl === typeUrl).map((e) => (e.kind === 'push' ? e.resources : -1));
  assert.deepEqual(pushes(TypeUrl.cluster), [0], 'the unchanged cluster is not sent again');
  assert.deepEqual(pushes(TypeUrl.listener), [0]);
  assert.deepEqual(pushes(TypeUrl.endpoint), [0]);
  assert.deepEqual(pushes(TypeUrl.route), [1], 'only the changed route is sent');
  assert.equal((await viaProxy(s.proxyPort, 'http://reviews:9080/')).body, 'after-reconnect');
  assert.ok(s.client.streams >= 2);
  assert.equal(proxySync(again.xds.connections()[0]!).cds.status, 'SYNCED');
});

test('delta against a control plane that only serves state of the world (UNIMPLEMENTED): falls back to sotw and gets configured', async (t) => {
  const up = await startUpstream('reviews-v1');
  const sotwOnly = new TestAdsServer();
  await sotwOnly.start();
  sotwOnly.set(TypeUrl.cluster, 'c1', [edsCluster(REVIEWS)]);
  sotwOnly.set(TypeUrl.endpoint, 'e1', [assignment(REVIEWS, [up.port])]);
  sotwOnly.set(TypeUrl.listener, 'l1', [outboundListener(9080)]);
  sotwOnly.set(TypeUrl.route, 'r1', [route('9080', REVIEWS)]);
  const engine = new ProxyEngine({ workload: unknownWorkload, log: () => undefined });
  const proxyPort = await engine.listeners.bindOwn('virtualOutbound', '127.0.0.1', 0, 'explicit', 'outbound');
  const logs: string[] = [];
  const client = new AdsClient({
    address: `127.0.0.1:${sotwOnly.port}`,
    protocol: 'delta',
    node: { type: 'sidecar', ip: '10.0.0.8', name: 'old-cp-client', namespace: 'default', labels: {}, serviceAccount: 'default', instanceIps: ['10.0.0.8'] },
    sink: engine,
    version: '0.1.0',
    backoff: { initialMs: 20, maxMs: 200 },
    log: (_level, m) => logs.push(m),
  });
  client.start();
  t.after(async () => {
    client.stop();
    engine.close();
    sotwOnly.stop();
    await up.close();
  });
  await client.whenReady();
  assert.equal(client.protocol, 'sotw');
  assert.ok(logs.some((l) => /does not serve delta xDS \(UNIMPLEMENTED/.test(l)), logs.join('\n'));
  assert.equal((await viaProxy(proxyPort, 'http://reviews:9080/')).body, 'reviews-v1');
});
