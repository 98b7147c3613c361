// Routing and cluster features of the proxy against real upstream servers, through the explicit outbound port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as net from 'node:net';
import { TypeUrl } from '../../src/xds/protos.ts';
import { assignment, edsCluster, hcm, outboundListener, routeConfig, startProxy, startUpstream, staticCluster, viaProto, viaProxy, vhost } from './helpers.ts';

const svc = (name: string, port = 9080, subset = ''): string => `outbound|${port}|${subset}|${name}.default.svc.cluster.local`;

test('routes by Host through the explicit proxy; unknown hosts get 404 NR; Envoy request headers are added', async (t) => {
  const a = await startUpstream('reviews');
  const p = await startProxy({
    clusters: [staticCluster(svc('reviews'), [a.port])],
    listeners: [outboundListener(9080)],
    routes: [routeConfig('9080', [vhost('reviews', ['reviews', 'reviews:9080', 'reviews.default.svc.cluster.local:9080'], [{ match: { prefix: '/' }, route: { cluster: svc('reviews') } }])])],
  });
  t.after(async () => {
    p.close();
    await a.close();
  });
  const r = await viaProxy(p.port, 'http://reviews:9080/a?b=1', { headers: { 'proxy-connection': 'keep-alive', 'x-request-id': 'fixed-id' } });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'reviews');
  assert.equal(r.headers['x-seen-path'], '/a?b=1');
  assert.equal(r.headers['server'], 'envoy');
  assert.ok(r.headers['x-envoy-upstream-service-time'] !== undefined);
  const seen = a.requests[0]!.headers;
  assert.equal(seen['host'], 'reviews:9080');
  assert.equal(seen['x-forwarded-proto'], 'http');
  assert.equal(seen['x-request-id'], 'fixed-id');
  assert.equal(seen['proxy-connection'], undefined);
  const nr = await viaProxy(p.port, 'http://ratings:9080/');
  assert.equal(nr.status, 404);
  const noListener = await viaProxy(p.port, 'http://reviews:9999/');
  assert.equal(noListener.status, 404);
  // A generated request id when the client sent none.
  await viaProxy(p.port, 'http://reviews.default.svc.cluster.local:9080/');
  assert.match(String(a.requests[1]!.headers['x-request-id']), /^[0-9a-f-]{36}$/);
});

test('curl uses the sidecar as its HTTP proxy: http://reviews:9080/ works without DNS', async (t) => {
  const a = await startUpstream('via-curl');
  const p = await startProxy({
    clusters: [staticCluster(svc('reviews'), [a.port])],
    listeners: [outboundListener(9080)],
    routes: [routeConfig('9080', [vhost('reviews', ['reviews:9080'], [{ match: { prefix: '/' }, route: { cluster: svc('reviews') } }])])],
  });
  t.after(async () => {
    p.close();
    await a.close();
  });
  const { stdout } = await promisify(execFile)('curl', ['-sS', '--max-time', '5', '-x', `http://127.0.0.1:${p.port}`, '-D', '-', 'http://reviews:9080/hello']);
  assert.match(stdout, /^HTTP\/1\.1 200 OK/);
  assert.match(stdout, /via-curl$/);
});

test('path exact / prefix / RE2 regex, headers (exact, presence, absence, regex), query parameters, first match wins', async (t) => {
  const names = ['exact', 'regex', 'hdr', 'absent', 'query', 'prefix'];
  const ups = await Promise.all(names.map((n) => startUpstream(n)));
  const clusters = names.map((n, i) => staticCluster(n, [ups[i]!.port]));
  const routes = [
    { match: { path: '/exact' }, route: { cluster: 'exact' } },
    { match: { safe_regex: { regex: '/api/v[0-9]+' } }, route: { cluster: 'regex' } },
    { match: { prefix: '/h', headers: [{ name: 'x-user', string_match: { exact: 'jason' } }, { name: 'x-debug', present_match: true }] }, route: { cluster: 'hdr' } },
    { match: { prefix: '/h', headers: [{ name: 'x-canary', present_match: false }, { name: 'x-env', string_match: { safe_regex: { regex: 'prod|stage' } } }] }, route: { cluster: 'absent' } },
    { match: { prefix: '/q', query_parameters: [{ name: 'v', string_match: { exact: '2' } }] }, route: { cluster: 'query' } },
    { match: { prefix: '/' }, route: { cluster: 'prefix' } },
  ];
  const p = await startProxy({ clusters, listeners: [outboundListener(80)], routes: [routeConfig('80', [vhost('all', ['*'], routes)])] });
  t.after(async () => {
    p.close();
    await Promise.all(ups.map((u) => u.close()));
  });
  const via = async (path: string, headers: Record<string, string> = {}): Promise<string> => (await viaProxy(p.port, `http://svc${path}`, { headers })).headers['x-upstream'] as string;
  assert.equal(await via('/exact'), 'exact');
  assert.equal(await via('/exact/more'), 'prefix');
  assert.equal(await via('/api/v12'), 'regex');
  assert.equal(await via('/api/v12/x'), 'prefix', 'safe_regex must match the whole path');
  assert.equal(await via('/api/v1?x=1'), 'regex', 'the query string is not part of the path match');
  assert.equal(await via('/h', { 'x-user': 'jason', 'x-debug': '1' }), 'hdr');
  assert.equal(await via('/h', { 'x-user': 'jason' }), 'prefix');
  assert.equal(await via('/h', { 'x-env': 'stage' }), 'absent');
  assert.equal(await via('/h', { 'x-env': 'stage', 'x-canary': '1' }), 'prefix');
  assert.equal(await via('/h', { 'x-env': 'production' }), 'prefix', 'header regex is a full match');
  assert.equal(await via('/q?a=1&v=2'), 'query');
  assert.equal(await via('/q?v=3'), 'prefix');
});

test('virtual host selection: exact beats suffix wildcard beats prefix wildcard beats *', async (t) => {
  const names = ['exact', 'suffix', 'prefix', 'star'];
  const ups = await Promise.all(names.map((n) => startUpstream(n)));
  const p = await startProxy({
    clusters: names.map((n, i) => staticCluster(n, [ups[i]!.port])),
    listeners: [outboundListener(80)],
    routes: [
      routeConfig('80', [
        vhost('star', ['*'], [{ match: { prefix: '/' }, route: { cluster: 'star' } }]),
        vhost('prefix', ['api.*'], [{ match: { prefix: '/' }, route: { cluster: 'prefix' } }]),
        vhost('suffix', ['*.example.com'], [{ match: { prefix: '/' }, route: { cluster: 'suffix' } }]),
        vhost('exact', ['api.example.com'], [{ match: { prefix: '/' }, route: { cluster: 'exact' } }]),
      ]),
    ],
  });
  t.after(async () => {
    p.close();
    await Promise.all(ups.map((u) => u.close()));
  });
  const up = async (host: string): Promise<unknown> => (await viaProxy(p.port, `http://${host}/`)).headers['x-upstream'];
  assert.equal(await up('api.example.com'), 'exact');
  assert.equal(await up('www.example.com'), 'suffix');
  assert.equal(await up('api.other.org'), 'prefix');
  assert.equal(await up('elsewhere'), 'star');
});

test('weighted clusters split traffic by weight; round robin alternates endpoints', async (t) => {
  const v1a = await startUpstream('v1a');
  const v1b = await startUpstream('v1b');
  const v2 = await startUpstream('v2');
  const p = await startProxy({
    clusters: [staticCluster(svc('reviews', 9080, 'v1'), [v1a.port, v1b.port]), staticCluster(svc('reviews', 9080, 'v2'), [v2.port])],
    listeners: [outboundListener(9080)],
    routes: [
      routeConfig('9080', [
        vhost('reviews', ['reviews:9080'], [
          { match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: svc('reviews', 9080, 'v1'), weight: { value: 75 } }, { name: svc('reviews', 9080, 'v2'), weight: { value: 25 } }] } } },
        ]),
      ]),
    ],
  });
  t.after(async () => {
    p.close();
    await Promise.all([v1a.close(), v1b.close(), v2.close()]);
  });
  const counts: Record<string, number> = {};
  for (let i = 0; i < 200; i++) {
    const u = (await viaProxy(p.port, 'http://reviews:9080/')).headers['x-upstream'] as string;
    counts[u] = (counts[u] ?? 0) + 1;
  }
  const v1 = (counts['v1a'] ?? 0) + (counts['v1b'] ?? 0);
  assert.ok(v1 > 120 && v1 < 180, `75% expected on v1, got ${JSON.stringify(counts)}`);
  assert.ok(Math.abs((counts['v1a'] ?? 0) - (counts['v1b'] ?? 0)) <= 1, `round robin alternates: ${JSON.stringify(counts)}`);
});

test('least request and random policies spread load over the endpoints', async (t) => {
  const ups = await Promise.all(['e1', 'e2', 'e3'].map((n) => startUpstream(n)));
  const ports = ups.map((u) => u.port);
  const p = await startProxy({
    clusters: [staticCluster('lr', ports, { lb_policy: 'LEAST_REQUEST' }), staticCluster('rnd', ports, { lb_policy: 'RANDOM' })],
    listeners: [outboundListener(80)],
    routes: [routeConfig('80', [vhost('lr', ['lr'], [{ match: { prefix: '/' }, route: { cluster: 'lr' } }]), vhost('rnd', ['rnd'], [{ match: { prefix: '/' }, route: { cluster: 'rnd' } }])])],
  });
  t.after(async () => {
    p.close();
    await Promise.all(ups.map((u) => u.close()));
  });
  for (const host of ['lr', 'rnd']) {
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) seen.add((await viaProxy(p.port, `http://${host}/`)).headers['x-upstream'] as string);
    assert.equal(seen.size, 3, `${host}: every endpoint used`);
  }
});

test('EDS: a cluster without endpoints answers 503 UH; an assignment makes it serve; endpoint updates apply', async (t) => {
  const a = await startUpstream('first');
  const b = await startUpstream('second');
  const name = svc('ratings');
  const p = await startProxy({
    clusters: [edsCluster(name)],
    listeners: [outboundListener(9080)],
    routes: [routeConfig('9080', [vhost('ratings', ['ratings:9080'], [{ match: { prefix: '/' }, route: { cluster: name } }])])],
  });
  t.after(async () => {
    p.close();
    await Promise.all([a.close(), b.close()]);
  });
  const r0 = await viaProxy(p.port, 'http://ratings:9080/');
  assert.equal(r0.status, 503);
  assert.equal(r0.body, 'no healthy upstream');
  p.engine.apply(TypeUrl.endpoint, [assignment(name, [a.port])], '2');
  assert.equal((await viaProxy(p.port, 'http://ratings:9080/')).body, 'first');
  p.engine.apply(TypeUrl.endpoint, [assignment(name, [b.port])], '3');
  assert.equal((await viaProxy(p.port, 'http://ratings:9080/')).body, 'second');
});

test('direct responses, redirects, prefix rewrite, host rewrite and header edits', async (t) => {
  const a = await startUpstream('app');
  const p = await startProxy({
    clusters: [staticCluster('app', [a.port])],
    listeners: [outboundListener(80)],
    routes: [
      routeConfig('80', [
        vhost('all', ['*'], [
          { match: { path: '/health' }, direct_response: { status: 200, body: { inline_string: 'fine' } } },
          { match: { prefix: '/old' }, redirect: { prefix_rewrite: '/new', response_code: 'FOUND' } },
          { match: { prefix: '/secure' }, redirect: { https_redirect: true } },
          {
            match: { prefix: '/v1/' },
            route: { cluster: 'app', prefix_rewrite: '/api/', host_rewrite_literal: 'internal.app' },
            request_headers_to_add: [{ header: { key: 'x-added', value: 'yes' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
            request_headers_to_remove: ['x-drop'],
            response_headers_to_add: [{ header: { key: 'x-resp', value: 'set' } }],
          },
        ]),
      ]),
    ],
  });
  t.after(async () => {
    p.close();
    await a.close();
  });
  const d = await viaProxy(p.port, 'http://svc/health');
  assert.equal(d.status, 200);
  assert.equal(d.body, 'fine');
  const r = await viaProxy(p.port, 'http://svc/old/path?q=1');
  assert.equal(r.status, 302);
  assert.equal(r.headers['location'], 'http://svc/new/path?q=1');
  const s = await viaProxy(p.port, 'http://svc:80/secure');
  assert.equal(s.status, 301);
  assert.equal(s.headers['location'], 'https://svc/secure');
  const w = await viaProxy(p.port, 'http://svc/v1/items?x=1', { headers: { 'x-drop': '1', 'x-added': 'client' } });
  assert.equal(w.status, 200);
  assert.equal(w.headers['x-seen-path'], '/api/items?x=1');
  assert.equal(w.headers['x-resp'], 'set');
  const seen = a.requests[0]!.headers;
  assert.equal(seen['host'], 'internal.app');
  assert.equal(seen['x-added'], 'yes');
  assert.equal(seen['x-drop'], undefined);
});

test('a bad route configuration is rejected whole and the last good one keeps serving', async (t) => {
  const a = await startUpstream('good');
  const p = await startProxy({
    clusters: [staticCluster('good', [a.port])],
    listeners: [outboundListener(80)],
    routes: [routeConfig('80', [vhost('all', ['*'], [{ match: { prefix: '/' }, route: { cluster: 'good' } }])])],
  });
  t.after(async () => {
    p.close();
    await a.close();
  });
  const bad = routeConfig('80', [vhost('all', ['*'], [{ match: { safe_regex: { regex: '(unclosed' } }, route: { cluster: 'good' } }, { match: { prefix: '/' }, direct_response: { status: 418 } }])]);
  const errors = p.engine.apply(TypeUrl.route, [bad], '2');
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.errors[0]!.path, /virtual_hosts\[0\]\.routes\[0\]\.match\.safe_regex\.regex/);
  assert.equal((await viaProxy(p.port, 'http://svc/')).body, 'good');
  assert.equal(p.engine.state.versions.get(TypeUrl.route), '1');
});

test('explicit mode: CONNECT tunnels to the routed cluster; unknown ports go to PassthroughCluster (ALLOW_ANY)', async (t) => {
  const a = await startUpstream('tunnelled');
  const other = await startUpstream('passthrough');
  const passthrough = viaProto(TypeUrl.cluster, { name: 'PassthroughCluster', type: 'ORIGINAL_DST', connect_timeout: { seconds: 1 }, lb_policy: 'CLUSTER_PROVIDED' });
  const p = await startProxy({
    clusters: [staticCluster(svc('reviews'), [a.port]), passthrough],
    listeners: [outboundListener(9080)],
    routes: [routeConfig('9080', [vhost('reviews', ['reviews:9080'], [{ match: { prefix: '/' }, route: { cluster: svc('reviews') } }])])],
  });
  t.after(async () => {
    p.close();
    await Promise.all([a.close(), other.close()]);
  });
  const curl = (args: string[]): Promise<{ stdout: string }> => promisify(execFile)('curl', ['-sS', '--max-time', '5', ...args]);
  const viaTunnel = await curl(['-p', '-x', `http://127.0.0.1:${p.port}`, '-D', '-', 'http://reviews:9080/in-tunnel']);
  assert.match(viaTunnel.stdout, /HTTP\/1\.1 200 Connection established/);
  assert.match(viaTunnel.stdout, /tunnelled$/);
  const direct = await viaProxy(p.port, `http://127.0.0.1:${other.port}/x`);
  assert.equal(direct.status, 200);
  assert.equal(direct.body, 'passthrough');
  const tunnelToUnknown = await curl(['-p', '-x', `http://127.0.0.1:${p.port}`, `http://127.0.0.1:${other.port}/y`]);
  assert.equal(tunnelToUnknown.stdout, 'passthrough');
});

test('fault injection from typed_per_filter_config: abort with a status (FI) and fixed delay (DI)', async (t) => {
  const a = await startUpstream('app');
  const FAULT = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
  const p = await startProxy({
    clusters: [staticCluster('app', [a.port])],
    listeners: [outboundListener(80)],
    routes: [
      routeConfig('80', [
        vhost('all', ['*'], [
          { match: { prefix: '/abort' }, route: { cluster: 'app' }, typed_per_filter_config: { 'envoy.filters.http.fault': { '@type': FAULT, abort: { http_status: 418, percentage: { numerator: 100 } } } } },
          { match: { prefix: '/delay' }, route: { cluster: 'app' }, typed_per_filter_config: { 'envoy.filters.http.fault': { '@type': FAULT, delay: { fixed_delay: { nanos: 150_000_000 }, percentage: { numerator: 100 } } } } },
          { match: { prefix: '/' }, route: { cluster: 'app' } },
        ]),
      ]),
    ],
  });
  t.after(async () => {
    p.close();
    await a.close();
  });
  const aborted = await viaProxy(p.port, 'http://svc/abort');
  assert.equal(aborted.status, 418);
  assert.equal(aborted.body, 'fault filter abort');
  assert.equal(a.requests.length, 0, 'an aborted request never reaches the upstream');
  const started = performance.now();
  const delayed = await viaProxy(p.port, 'http://svc/delay', { method: 'POST', body: 'held' });
  assert.ok(performance.now() - started >= 150, 'the request was held for the fixed delay');
  assert.equal(delayed.status, 200);
  assert.equal(delayed.body, 'app:held');
});

test('gateway (router) listeners from LDS are bound, follow updates, and are closed when removed', async (t) => {
  const a = await startUpstream('gw-backend');
  const p = await startProxy({ clusters: [staticCluster('backend', [a.port])] });
  t.after(async () => {
    p.close();
    await a.close();
  });
  const free = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
  const gateway = (body: string): Record<string, unknown> =>
    viaProto(TypeUrl.listener, {
      name: `0.0.0.0_${free}`,
      address: { socket_address: { address: '127.0.0.1', port_value: free } },
      filter_chains: [{ filters: [hcm({ route_config: { name: `http.${free}`, virtual_hosts: [{ name: 'bookinfo', domains: ['*'], routes: [{ match: { prefix: '/static' }, direct_response: { status: 200, body: { inline_string: body } } }, { match: { prefix: '/' }, route: { cluster: 'backend' } }] }] } }, { use_remote_address: { value: true } })] }],
    });
  p.engine.apply(TypeUrl.listener, [gateway('v1')], '1');
  await p.engine.listeners.reconcile(p.engine.snapshot.listeners.values(), p.engine.reserved);
  const get = async (path: string): Promise<{ status: number; body: string }> => {
    const r = await fetch(`http://127.0.0.1:${free}${path}`);
    return { status: r.status, body: await r.text() };
  };
  assert.deepEqual(await get('/static'), { status: 200, body: 'v1' });
  assert.deepEqual(await get('/productpage'), { status: 200, body: 'gw-backend' });
  assert.equal(a.requests[0]!.headers['x-forwarded-for'], '127.0.0.1', 'use_remote_address appends the client address');
  p.engine.apply(TypeUrl.listener, [gateway('v2')], '2');
  assert.deepEqual(await get('/static'), { status: 200, body: 'v2' });
  p.engine.apply(TypeUrl.listener, [], '3');
  await p.engine.listeners.reconcile(p.engine.snapshot.listeners.values(), p.engine.reserved);
  await assert.rejects(
    new Promise((resolve, reject) => {
      const c = net.connect(free, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve(undefined);
      });
      c.once('error', reject);
    }),
    /ECONNREFUSED/,
  );
  assert.equal((await get('/static')).status, 404, 'a kept-alive connection of the removed listener gets NR');
});

test('RING_HASH with a header hash policy keeps each user on one endpoint; requests without the header spread', async (t) => {
  const ups = await Promise.all(['h1', 'h2', 'h3', 'h4'].map((n) => startUpstream(n)));
  const p = await startProxy({
    clusters: [staticCluster('sticky', ups.map((u) => u.port), { lb_policy: 'RING_HASH' })],
    listeners: [outboundListener(80)],
    routes: [routeConfig('80', [vhost('all', ['*'], [{ match: { prefix: '/' }, route: { cluster: 'sticky', hash_policy: [{ header: { header_name: 'x-user' } }] } }])])],
  });
  t.after(async () => {
    p.close();
    await Promise.all(ups.map((u) => u.close()));
  });
  const owner = async (user?: string): Promise<string> => (await viaProxy(p.port, 'http://svc/', { headers: user ? { 'x-user': user } : {} })).headers['x-upstream'] as string;
  const users = Array.from({ length: 12 }, (_, i) => `user-${i}`);
  const first = new Map<string, string>();
  for (const u of users) first.set(u, await owner(u));
  for (const u of users) assert.equal(await owner(u), first.get(u), `${u} stays on ${first.get(u)}`);
  assert.ok(new Set(first.values()).size >= 2, 'users are spread over the endpoints');
  const anonymous = new Set<string>();
  for (let i = 0; i < 40; i++) anonymous.add(await owner());
  assert.ok(anonymous.size >= 3, 'no hash: random spread');
});

test('request mirroring: a copy (body included) goes to the mirror cluster with -shadow host; the client sees only the primary', async (t) => {
  const primary = await startUpstream('primary');
  let resolveMirrored: (v: { host: string | undefined; body: string }) => void = () => undefined;
  const mirrored = new Promise<{ host: string | undefined; body: string }>((r) => (resolveMirrored = r));
  const mirrorServer = await startUpstream('mirror', (req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      res.statusCode = 500; // a failing mirror must not matter
      res.end('mirror');
      resolveMirrored({ host: req.headers.host, body });
    });
  });
  const mirrorPort = mirrorServer.port;
  const p = await startProxy({
    clusters: [staticCluster('primary', [primary.port]), staticCluster('mirror', [mirrorPort])],
    listeners: [outboundListener(9080)],
    routes: [routeConfig('9080', [vhost('svc', ['svc:9080'], [{ match: { prefix: '/' }, route: { cluster: 'primary', request_mirror_policies: [{ cluster: 'mirror', runtime_fraction: { default_value: { numerator: 100 } } }] } }])])],
  });
  t.after(async () => {
    p.close();
    await Promise.all([primary.close(), mirrorServer.close()]);
  });
  const r = await viaProxy(p.port, 'http://svc:9080/m', { method: 'POST', body: 'copy me' });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'primary:copy me');
  assert.deepEqual(await mirrored, { host: 'svc-shadow:9080', body: 'copy me' });
});

test('CORS from typed_per_filter_config: preflight answered by the proxy, allow headers on actual responses, other origins untouched', async (t) => {
  const a = await startUpstream('api');
  const CORS = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy';
  const p = await startProxy({
    clusters: [staticCluster('api', [a.port])],
    listeners: [outboundListener(80)],
    routes: [
      routeConfig('80', [
        vhost('all', ['*'], [
          {
            match: { prefix: '/' },
            route: { cluster: 'api' },
            typed_per_filter_config: { 'envoy.filters.http.cors': { '@type': CORS, allow_origin_string_match: [{ exact: 'https://app.example.com' }, { suffix: '.trusted.org' }], allow_methods: 'GET,POST', allow_headers: 'x-user', expose_headers: 'x-trace', max_age: '600', allow_credentials: { value: true } } },
          },
        ]),
      ]),
    ],
  });
  t.after(async () => {
    p.close();
    await a.close();
  });
  const pre = await viaProxy(p.port, 'http://svc/items', { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } });
  assert.equal(pre.status, 200);
  assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example.com');
  assert.equal(pre.headers['access-control-allow-methods'], 'GET,POST');
  assert.equal(pre.headers['access-control-max-age'], '600');
  assert.equal(a.requests.length, 0, 'the preflight is answered by the proxy');
  const actual = await viaProxy(p.port, 'http://svc/items', { headers: { origin: 'https://x.trusted.org' } });
  assert.equal(actual.body, 'api');
  assert.equal(actual.headers['access-control-allow-origin'], 'https://x.trusted.org');
  assert.equal(actual.headers['access-control-expose-headers'], 'x-trace');
  assert.equal(actual.headers['access-control-allow-credentials'], 'true');
  const other = await viaProxy(p.port, 'http://svc/items', { headers: { origin: 'https://evil.example' } });
  assert.equal(other.headers['access-control-allow-origin'], undefined);
});
