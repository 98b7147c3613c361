// The ADS server against real grpc-js clients on port 0. The generator is a small test double over maps of
// clusters, endpoints, listeners and routes (the real translator is exercised by test/xds-interop).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { TypeUrl, decodeAny } from '../../xds/protos.ts';
import { DiscoveryServer } from './server.ts';
import type { GeneratedResource, XdsView } from './types.ts';
import type { XdsEvent } from './context.ts';
import { proxySync, configDump } from './status.ts';
import { SotwClient, DeltaClient } from '../../../test/xds-interop/ads-client.ts';

interface World {
  clusters: Map<string, Record<string, unknown>>;
  endpoints: Map<string, Record<string, unknown>>;
  listeners: Map<string, Record<string, unknown>>;
  routes: Map<string, Record<string, unknown>>;
}

const cluster = (name: string): Record<string, unknown> => ({ name, type: 'EDS', eds_cluster_config: { eds_config: { ads: {} }, service_name: name } });
const cla = (name: string, ...ports: number[]): Record<string, unknown> => ({
  cluster_name: name,
  endpoints: [{ lb_endpoints: ports.map((p) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } } })) }],
});
const listener = (name: string, port: number): Record<string, unknown> => ({ name, address: { socket_address: { address: '0.0.0.0', port_value: port } } });
const route = (name: string, cl: string): Record<string, unknown> => ({
  name,
  virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: cl } }] }],
});

function world(): World {
  return {
    clusters: new Map([['a', cluster('a')], ['b', cluster('b')]]),
    endpoints: new Map([['a', cla('a', 1001)], ['b', cla('b', 2001)]]),
    listeners: new Map([['l1', listener('l1', 8080)]]),
    routes: new Map([['r1', route('r1', 'a')]]),
  };
}

let versionCounter = 0;
function viewOf(w: World, shared = false): XdsView<{ id: string }> {
  const version = `v${++versionCounter}`;
  const maps: Record<string, Map<string, Record<string, unknown>>> = {
    [TypeUrl.cluster]: new Map(w.clusters),
    [TypeUrl.endpoint]: new Map(w.endpoints),
    [TypeUrl.listener]: new Map(w.listeners),
    [TypeUrl.route]: new Map(w.routes),
  };
  return {
    version,
    ...(shared ? { cacheKey: () => 'shared' } : {}),
    generate(_proxy, typeUrl, names): GeneratedResource[] {
      const m = maps[typeUrl] ?? new Map();
      if (m.has('broken')) throw new Error('cannot translate "broken"');
      const wanted = names ?? [...m.keys()];
      return wanted.flatMap((n) => {
        const r = m.get(n);
        return r === undefined ? [] : [{ name: n, resource: r }];
      });
    },
  };
}

async function start(w: World, extra: { cacheKey?: boolean } = {}) {
  const connected: string[] = [];
  const disconnected: string[] = [];
  const xds = new DiscoveryServer<{ id: string }>({
    model: {
      parse: (node) => (node.id.startsWith('bad') ? { ok: false, error: 'node id must not start with bad' } : { ok: true, value: { id: node.id } }),
      connected: (p) => connected.push(p.id),
      disconnected: (p) => disconnected.push(p.id),
    },
    view: viewOf(w, extra.cacheKey),
  });
  const server = new grpc.Server();
  xds.register(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  const events: XdsEvent[] = [];
  xds.onEvent((e) => events.push(e));
  const waitFor = (pred: (e: XdsEvent) => boolean, timeoutMs = 5000): Promise<XdsEvent> =>
    new Promise((resolve, reject) => {
      const found = events.find(pred);
      if (found) return resolve(found);
      // Past events did not match; from here on only new ones count.
      const timer = setTimeout(() => (off(), reject(new Error('event not seen'))), timeoutMs);
      const off = xds.onEvent((e) => {
        if (pred(e)) {
          clearTimeout(timer);
          off();
          resolve(e);
        }
      });
    });
  return {
    xds,
    address: `127.0.0.1:${port}`,
    connected,
    disconnected,
    events,
    waitFor,
    stop: async () => {
      xds.closeAll();
      server.forceShutdown();
    },
  };
}

const push = (full = true, edsNames?: string[]) => ({ full, ...(edsNames ? { edsNames: new Set(edsNames) } : {}), reasons: ['test'], startMs: Date.now() });
const names = (r: { resources: Array<{ type_url: string; value: Uint8Array }> }): string[] =>
  r.resources.map((a) => String(decodeAny(a)['name'] ?? decodeAny(a)['cluster_name'])).sort();

test('SotW: wildcard CDS, named EDS, ACK makes the proxy SYNCED', async (t) => {
  const w = world();
  const s = await start(w);
  t.after(s.stop);
  const c = new SotwClient(s.address, { id: 'sidecar~10.0.0.1~a.default~default.svc.cluster.local', metadata: { ISTIO_VERSION: '1.0' } });
  t.after(() => c.close());
  c.subscribe(TypeUrl.cluster);
  const cds = await c.next(TypeUrl.cluster);
  assert.deepEqual(names(cds), ['a', 'b']);
  assert.match(cds.version_info, /^v\d+$/);
  c.ack(cds);
  c.subscribe(TypeUrl.endpoint, ['a']);
  const eds = await c.next(TypeUrl.endpoint);
  assert.deepEqual(names(eds), ['a']);
  c.ack(eds);
  await s.waitFor((e) => e.kind === 'ack' && e.typeUrl === TypeUrl.endpoint);
  const [conn] = s.xds.connections();
  assert.ok(conn);
  const sync = proxySync(conn);
  assert.equal(sync.cds.status, 'SYNCED');
  assert.equal(sync.eds.status, 'SYNCED');
  assert.equal(sync.lds.status, 'NOT SENT');
  assert.equal(sync.proxy_version, '1.0');
  assert.deepEqual(s.connected, ['sidecar~10.0.0.1~a.default~default.svc.cluster.local']);
  const dump = configDump(conn);
  assert.equal((dump.configs[0]!['dynamic_active_clusters'] as unknown[]).length, 2);
  assert.equal((dump.configs[3]!['dynamic_endpoint_configs'] as unknown[]).length, 1);
});

test('SotW: adding a name on ACK sends only the new EDS resource; LDS/CDS always carry the full set', async (t) => {
  const w = world();
  const s = await start(w);
  t.after(s.stop);
  const c = new SotwClient(s.address, { id: 'sidecar~10.0.0.2~b.default~default.svc.cluster.local' });
  t.after(() => c.close());
  c.subscribe(TypeUrl.endpoint, ['a']);
  const e1 = await c.next(TypeUrl.endpoint);
  c.ack(e1, ['a', 'b']);
  const e2 = await c.next(TypeUrl.endpoint);
  assert.deepEqual(names(e2), ['b']);
  c.ack(e2);
  c.subscribe(TypeUrl.cluster);
  c.ack(await c.next(TypeUrl.cluster));
  await s.waitFor((e) => e.kind === 'ack' && e.typeUrl === TypeUrl.cluster);

  // Only b's endpoints change: EDS carries b alone; CDS did not change, so nothing is sent for it.
  w.endpoints.set('b', cla('b', 2001, 2002));
  s.xds.update(viewOf(w), push());
  const e3 = await c.next(TypeUrl.endpoint);
  assert.deepEqual(names(e3), ['b']);
  c.ack(e3);
  await s.xds.idle();
  assert.equal(c.inbox.pending(TypeUrl.cluster), 0);

  // A cluster is added: CDS carries all three.
  w.clusters.set('c', cluster('c'));
  s.xds.update(viewOf(w), push());
  const cds = await c.next(TypeUrl.cluster);
  assert.deepEqual(names(cds), ['a', 'b', 'c']);
});

test('NACK: recorded with its message, counted, nothing re-sent; a fix is pushed', async (t) => {
  const w = world();
  const s = await start(w);
  t.after(s.stop);
  const c = new SotwClient(s.address, { id: 'sidecar~10.0.0.3~c.default~default.svc.cluster.local' });
  t.after(() => c.close());
  c.subscribe(TypeUrl.cluster);
  const good = await c.next(TypeUrl.cluster);
  c.ack(good);
  w.clusters.set('bad', cluster('bad'));
  s.xds.update(viewOf(w), push());
  const bad = await c.next(TypeUrl.cluster);
  c.nack(bad, 'cluster bad: unsupported field');
  await s.waitFor((e) => e.kind === 'nack');
  const sync = proxySync(s.xds.connections()[0]!);
  assert.equal(sync.cds.status, 'NACKED');
  assert.equal(sync.cds.error, 'cluster bad: unsupported field');
  assert.equal(sync.cds.acked_version, good.version_info);
  const rejects = await s.xds.metrics.registry.getSingleMetricAsString('pilot_total_xds_rejects');
  assert.match(rejects, /pilot_total_xds_rejects\{type="cds"\} 1/);

  // An unrelated push with the same clusters re-sends nothing (no NACK loop).
  s.xds.update(viewOf(w), push());
  await s.xds.idle();
  assert.equal(c.inbox.pending(TypeUrl.cluster), 0);

  w.clusters.delete('bad');
  s.xds.update(viewOf(w), push());
  const fixed = await c.next(TypeUrl.cluster);
  assert.deepEqual(names(fixed), ['a', 'b']);
  c.ack(fixed);
  await s.waitFor((e) => e.kind === 'ack' && e.nonce === fixed.nonce);
  assert.equal(proxySync(s.xds.connections()[0]!).cds.status, 'SYNCED');
});

test('a push before the ACK leaves the proxy STALE; pushes queued together are merged into one', async (t) => {
  const w = world();
  const s = await start(w);
  t.after(s.stop);
  const c = new SotwClient(s.address, { id: 'sidecar~10.0.0.4~d.default~default.svc.cluster.local' });
  t.after(() => c.close());
  c.subscribe(TypeUrl.cluster);
  c.ack(await c.next(TypeUrl.cluster));
  await s.waitFor((e) => e.kind === 'ack');
  for (let i = 0; i < 5; i++) {
    w.clusters.set(`n${i}`, cluster(`n${i}`));
    s.xds.update(viewOf(w), push());
  }
  await s.xds.idle();
  const r = await c.next(TypeUrl.cluster);
  assert.equal(names(r).length, 7);
  assert.equal(c.inbox.pending(TypeUrl.cluster), 0, 'five updates before the queue drained make one push');
  assert.equal(proxySync(s.xds.connections()[0]!).cds.status, 'STALE');
});

test('full pushes go out in Envoy order: CDS, EDS, LDS, RDS', async (t) => {
  const w = world();
  const s = await start(w);
  t.after(s.stop);
  const c = new SotwClient(s.address, { id: 'sidecar~10.0.0.5~e.default~default.svc.cluster.local' });
  t.after(() => c.close());
  c.subscribe(TypeUrl.route, ['r1']);
  c.subscribe(TypeUrl.listener);
  c.subscribe(TypeUrl.endpoint, ['a']);
  c.subscribe(TypeUrl.cluster);
  for (const ty of [TypeUrl.route, TypeUrl.listener, TypeUrl.endpoint, TypeUrl.cluster]) c.ack(await c.next(ty));
  await s.waitFor((e) => e.kind === 'ack' && e.typeUrl === TypeUrl.cluster);
  const first = s.events.length;
  w.clusters.set('a', { ...cluster('a'), connect_timeout: { seconds: 3 } });
  w.endpoints.set('a', cla('a', 1002));
  w.listeners.set('l1', listener('l1', 8081));
  w.routes.set('r1', route('r1', 'b'));
  s.xds.update(viewOf(w), push());
  await s.xds.idle();
  const order = s.events.slice(first).filter((e) => e.kind === 'push').map((e) => (e.kind === 'push' ? e.typeUrl : ''));
  assert.deepEqual(order, [TypeUrl.cluster, TypeUrl.endpoint, TypeUrl.listener, TypeUrl.route]);
});

test('endpoint fast path: a non-full push regenerates only EDS for the named clusters', async (t) => {
  const w = world();
  const s = await start(w);
  t.after(s.stop);
  const c = new SotwClient(s.address, { id: 'sidecar~10.0.0.6~f.default~default.svc.cluster.local' });
  t.after(() => c.close());
  c.subscribe(TypeUrl.cluster);
  c.subscribe(TypeUrl.endpoint, ['a', 'b']);
  c.ack(await c.next(TypeUrl.cluster));
  c.ack(await c.next(TypeUrl.endpoint));
  await s.waitFor((e) => e.kind === 'ack' && e.typeUrl === TypeUrl.endpoint);
  w.clusters.set('z', cluster('z')); // not part of an endpoint-only push: must not go out
  w.endpoints.set('a', cla('a', 1001, 1003));
  w.endpoints.set('b', cla('b', 2009));
  s.xds.update(viewOf(w), push(false, ['a']));
  const eds = await c.next(TypeUrl.endpoint);
  assert.deepEqual(names(eds), ['a']);
  await s.xds.idle();
  assert.equal(c.inbox.pending(TypeUrl.cluster), 0);
});

test('reconnect: a new stream gets the full state again and the old one is forgotten', async (t) => {
  const w = world();
  const s = await start(w);
  t.after(s.stop);
  const id = 'sidecar~10.0.0.7~g.default~default.svc.cluster.local';
  const c1 = new SotwClient(s.address, { id });
  c1.subscribe(TypeUrl.cluster);
  c1.ack(await c1.next(TypeUrl.cluster));
  await s.waitFor((e) => e.kind === 'ack');
  c1.close();
  await s.waitFor((e) => e.kind === 'disconnect');
  assert.equal(s.xds.connections().length, 0);
  const c2 = new SotwClient(s.address, { id });
  t.after(() => c2.close());
  c2.subscribe(TypeUrl.cluster);
  const r = await c2.next(TypeUrl.cluster);
  assert.deepEqual(names(r), ['a', 'b']);
  assert.deepEqual(s.disconnected, [id]);
  assert.equal(s.connected.length, 2);
  assert.match(await s.xds.metrics.registry.getSingleMetricAsString('pilot_xds'), /pilot_xds\{version="unknown"\} 1/);
});

test('a node without an id, or one the proxy model rejects, is refused with INVALID_ARGUMENT', async (t) => {
  const s = await start(world());
  t.after(s.stop);
  const c = new SotwClient(s.address, { id: 'bad~1' });
  t.after(() => c.close());
  c.subscribe(TypeUrl.cluster);
  const status = await c.ended;
  assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
  assert.match(status.details, /must not start with bad/);
});

test('many clients come and go; every connected one converges after a push', async (t) => {
  const w = world();
  const s = await start(w, { cacheKey: true });
  t.after(s.stop);
  const n = 200;
  const clients = Array.from({ length: n }, (_, i) => new SotwClient(s.address, { id: `sidecar~10.1.${i >> 8}.${i & 255}~p${i}.default~default.svc.cluster.local` }));
  t.after(() => clients.forEach((c) => c.close()));
  await Promise.all(
    clients.map(async (c) => {
      c.subscribe(TypeUrl.cluster);
      c.ack(await c.next(TypeUrl.cluster, 15000));
    }),
  );
  for (const c of clients.slice(0, n / 2)) c.close();
  let gone = 0;
  await s.waitFor((e) => e.kind === 'disconnect' && ++gone === n / 2, 10000);
  assert.equal(s.xds.connections().length, n / 2);
  w.clusters.set('new', cluster('new'));
  s.xds.update(viewOf(w, true), push());
  const rest = clients.slice(n / 2);
  const got = await Promise.all(rest.map((c) => c.next(TypeUrl.cluster, 15000)));
  assert.ok(got.every((r) => names(r).includes('new')));
  assert.match(await s.xds.metrics.registry.getSingleMetricAsString('pilot_xds'), new RegExp(`pilot_xds\\{version="unknown"\\} ${n / 2}`));
});

test('delta: subscribe, change, remove, unknown names, and initial versions after a reconnect', async (t) => {
  const w = world();
  const s = await start(w);
  t.after(s.stop);
  const id = 'sidecar~10.0.0.8~h.default~default.svc.cluster.local';
  const c = new DeltaClient(s.address, { id });
  c.subscribe(TypeUrl.endpoint, ['a', 'b']);
  const r1 = await c.next(TypeUrl.endpoint);
  assert.deepEqual(r1.resources.map((r) => r.name).sort(), ['a', 'b']);
  assert.deepEqual(r1.removed_resources, []);
  c.ack(r1);

  w.endpoints.set('b', cla('b', 2005));
  w.endpoints.set('c', cla('c', 3001)); // not subscribed
  s.xds.update(viewOf(w), push());
  const r2 = await c.next(TypeUrl.endpoint);
  assert.deepEqual(r2.resources.map((r) => r.name), ['b']);
  c.ack(r2);

  w.endpoints.delete('a');
  s.xds.update(viewOf(w), push());
  const r3 = await c.next(TypeUrl.endpoint);
  assert.deepEqual(r3.resources, []);
  assert.deepEqual(r3.removed_resources, ['a']);
  c.ack(r3);

  c.subscribe(TypeUrl.endpoint, ['nope', 'c']);
  const r4 = await c.next(TypeUrl.endpoint);
  assert.deepEqual(r4.resources.map((r) => r.name), ['c']);
  assert.deepEqual(r4.removed_resources, ['nope']);
  c.ack(r4);
  await s.waitFor((e) => e.kind === 'ack' && e.nonce === r4.nonce);
  assert.equal(proxySync(s.xds.connections()[0]!).eds.status, 'SYNCED');

  // NACK in delta.
  w.endpoints.set('c', cla('c', 3002));
  s.xds.update(viewOf(w), push());
  const r5 = await c.next(TypeUrl.endpoint);
  c.nack(r5, 'endpoint c: bad port');
  await s.waitFor((e) => e.kind === 'nack');
  assert.equal(proxySync(s.xds.connections()[0]!).eds.status, 'NACKED');
  c.close();
  await s.waitFor((e) => e.kind === 'disconnect');

  // Reconnect declaring what it has: b is current (not re-sent), c is old (re-sent).
  const versions = Object.fromEntries(r2.resources.map((r) => [r.name, r.version]));
  const c2 = new DeltaClient(s.address, { id });
  t.after(() => c2.close());
  c2.subscribe(TypeUrl.endpoint, ['b', 'c'], [], { ...versions, c: 'stale' });
  const r6 = await c2.next(TypeUrl.endpoint);
  assert.deepEqual(r6.resources.map((r) => r.name), ['c']);
});

test('delta: wildcard CDS reports removed clusters', async (t) => {
  const w = world();
  const s = await start(w);
  t.after(s.stop);
  const c = new DeltaClient(s.address, { id: 'sidecar~10.0.0.9~i.default~default.svc.cluster.local' });
  t.after(() => c.close());
  c.subscribe(TypeUrl.cluster, []);
  const r1 = await c.next(TypeUrl.cluster);
  assert.deepEqual(r1.resources.map((r) => r.name).sort(), ['a', 'b']);
  c.ack(r1);
  w.clusters.delete('b');
  w.clusters.set('c', cluster('c'));
  s.xds.update(viewOf(w), push());
  const r2 = await c.next(TypeUrl.cluster);
  assert.deepEqual(r2.resources.map((r) => r.name), ['c']);
  assert.deepEqual(r2.removed_resources, ['b']);
});

test('a generator error is counted and the proxy keeps what it has', async (t) => {
  const w = world();
  const s = await start(w);
  t.after(s.stop);
  const c = new SotwClient(s.address, { id: 'sidecar~10.0.0.10~j.default~default.svc.cluster.local' });
  t.after(() => c.close());
  c.subscribe(TypeUrl.cluster);
  c.ack(await c.next(TypeUrl.cluster));
  w.clusters.set('broken', cluster('broken'));
  s.xds.update(viewOf(w), push());
  await s.xds.idle();
  assert.equal(c.inbox.pending(TypeUrl.cluster), 0);
  assert.match(await s.xds.metrics.registry.getSingleMetricAsString('pilot_xds_push_errors'), /type="cds"\} 1/);
});

test('SotW: a subscription change sent after the ACK, with the same nonce, is followed (regression: grpc-js-xds)', async (t) => {
  const w = world();
  const s = await start(w);
  t.after(s.stop);
  const c = new SotwClient(s.address, { id: 'sidecar~10.0.0.11~k.default~default.svc.cluster.local' });
  t.after(() => c.close());
  c.subscribe(TypeUrl.listener, ['l1']);
  const l1 = await c.next(TypeUrl.listener);
  c.ack(l1);
  await s.waitFor((e) => e.kind === 'ack' && e.nonce === l1.nonce);
  w.listeners.set('l2', listener('l2', 9090));
  s.xds.update(viewOf(w), push());
  await s.xds.idle();
  assert.equal(c.inbox.pending(TypeUrl.listener), 0, 'l2 is not subscribed yet');
  c.subscribe(TypeUrl.listener, ['l1', 'l2'], l1.nonce);
  const both = await c.next(TypeUrl.listener);
  assert.deepEqual(names(both), ['l1', 'l2']);
});

test('push budget: queued pushes wait for ACKs while too many bytes are unacknowledged', async (t) => {
  const w = world();
  const xds = new DiscoveryServer<{ id: string }>({ model: { parse: (node) => ({ ok: true, value: { id: node.id } }) }, view: viewOf(w), pushBudgetBytes: 1 });
  const server = new grpc.Server();
  xds.register(server);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  t.after(() => {
    xds.closeAll();
    server.forceShutdown();
  });
  const events: XdsEvent[] = [];
  xds.onEvent((e) => events.push(e));
  const clients = [0, 1, 2].map((i) => new SotwClient(`127.0.0.1:${port}`, { id: `sidecar~10.0.1.${i}~b${i}.default~default.svc.cluster.local` }));
  t.after(() => clients.forEach((c) => c.close()));
  for (const c of clients) {
    c.subscribe(TypeUrl.cluster);
    c.ack(await c.next(TypeUrl.cluster));
  }
  const settled = async (): Promise<void> => {
    while (xds.inFlightBytes > 0) {
      await new Promise<void>((resolve) => {
        const off = xds.onEvent((e) => {
          if (e.kind === 'ack') {
            off();
            resolve();
          }
        });
      });
    }
  };
  await settled();
  const start = events.length;
  w.clusters.set('c', cluster('c'));
  xds.update(viewOf(w), push());
  // Each client ACKs only when it gets its push; the next push may start only after that ACK.
  for (const c of clients) c.ack(await c.next(TypeUrl.cluster));
  await settled();
  const seq = events.slice(start).filter((e) => e.kind === 'push' || e.kind === 'ack').map((e) => e.kind);
  assert.deepEqual(seq, ['push', 'ack', 'push', 'ack', 'push', 'ack']);
  assert.equal(xds.inFlightBytes, 0);
});
