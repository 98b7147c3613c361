// CORS and request mirroring on the HTTP/2 request path (as on HTTP/1.1), and mirroring to HTTP/2 clusters from
// both paths, against real node:http2 and node:http upstreams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { outboundListener, routeConfig, startProxy, startUpstream, staticCluster, viaProxy } from './helpers.ts';
import { h2Cluster, h2Request, startH2Upstream, type SeenRequest } from './h2-helpers.ts';

const CORS = 'envoy.filters.http.cors';
const corsPolicy = {
  [CORS]: {
    '@type': 'type.googleapis.com/envoy.config.route.v3.CorsPolicy',
    allow_origin_string_match: [{ exact: 'https://app.example.com' }],
    allow_methods: 'GET,POST',
    allow_headers: 'x-custom',
    expose_headers: 'x-up',
    max_age: '600',
  },
};

test('HTTP/2 path CORS: a preflight from an allowed origin is answered by the proxy; actual responses carry the allow headers; other origins untouched', async (t) => {
  const up = await startH2Upstream((stream) => {
    stream.respond({ ':status': 200, 'x-up': '1' });
    stream.end('app');
  });
  const p = await startProxy({
    clusters: [h2Cluster('h2', [up.port])],
    listeners: [outboundListener(80)],
    routes: [routeConfig('80', [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'h2' }, typed_per_filter_config: corsPolicy }] }])],
  });
  t.after(async () => {
    p.close();
    await up.close();
  });
  const pre = await h2Request(p.port, 'svc', '/api', { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } });
  assert.equal(pre.status, 200);
  assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example.com');
  assert.equal(pre.headers['access-control-allow-methods'], 'GET,POST');
  assert.equal(pre.headers['access-control-allow-headers'], 'x-custom');
  assert.equal(pre.headers['access-control-max-age'], '600');
  assert.equal(up.seen.length, 0, 'the preflight never reached the app');
  const actual = await h2Request(p.port, 'svc', '/api', { headers: { origin: 'https://app.example.com' } });
  assert.equal(actual.body, 'app');
  assert.equal(actual.headers['access-control-allow-origin'], 'https://app.example.com');
  assert.equal(actual.headers['access-control-expose-headers'], 'x-up');
  const other = await h2Request(p.port, 'svc', '/api', { headers: { origin: 'https://evil.example.com' } });
  assert.equal(other.body, 'app');
  assert.equal(other.headers['access-control-allow-origin'], undefined);
  const otherPre = await h2Request(p.port, 'svc', '/api', { method: 'OPTIONS', headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' } });
  assert.equal(otherPre.body, 'app', 'a preflight from another origin goes to the app');
});

test('mirroring: HTTP/2 requests are copied (body included, -shadow authority) to HTTP/2 and HTTP/1.1 mirror clusters; HTTP/1.1 requests to an HTTP/2 mirror; 0% mirrors none', async (t) => {
  const shadowH2: SeenRequest[] = [];
  let onH2: (() => void) | undefined;
  const primary = await startH2Upstream((stream, req) => {
    stream.respond({ ':status': 200 });
    stream.end(`primary:${req.body.toString()}`);
  });
  const mirrorH2 = await startH2Upstream((stream, req) => {
    shadowH2.push(req);
    stream.respond({ ':status': 500 });
    stream.end('ignored');
    onH2?.();
  });
  const shadowH1: { host: string; body: string }[] = [];
  let onH1: (() => void) | undefined;
  const mirrorH1 = await startUpstream('mirror-h1', (req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      shadowH1.push({ host: req.headers.host ?? '', body });
      res.end('ignored');
      onH1?.();
    });
  });
  const mirrors = { request_mirror_policies: [{ cluster: 'm-h2' }, { cluster: 'm-h1' }, { cluster: 'm-h2', runtime_fraction: { default_value: { numerator: 0, denominator: 'HUNDRED' } } }] };
  const p = await startProxy({
    clusters: [h2Cluster('primary', [primary.port]), h2Cluster('m-h2', [mirrorH2.port]), staticCluster('m-h1', [mirrorH1.port])],
    listeners: [outboundListener(9080)],
    routes: [routeConfig('9080', [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'primary', ...mirrors } }] }])],
  });
  t.after(async () => {
    p.close();
    await Promise.all([primary.close(), mirrorH2.close(), mirrorH1.close()]);
  });
  const both = (n: number): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (shadowH2.length >= n && shadowH1.length >= n) resolve();
      };
      onH2 = check;
      onH1 = check;
      check();
    });
  const r = await h2Request(p.port, 'reviews:9080', '/post', { method: 'POST', body: 'payload' });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'primary:payload');
  await both(1);
  assert.equal(shadowH2[0]!.headers[':authority'], 'reviews-shadow:9080');
  assert.equal(shadowH2[0]!.body.toString(), 'payload');
  assert.deepEqual(shadowH1[0], { host: 'reviews-shadow:9080', body: 'payload' });

  const h1 = await viaProxy(p.port, 'http://reviews:9080/h1', { method: 'POST', body: 'from-h1' });
  assert.equal(h1.body, 'primary:from-h1');
  await both(2);
  assert.equal(shadowH2[1]!.headers[':authority'], 'reviews-shadow:9080');
  assert.equal(shadowH2[1]!.body.toString(), 'from-h1');
  assert.equal(shadowH1[1]!.body, 'from-h1');
  assert.equal(mirrorH2.seen.length, 2, 'the 0% mirror policy sent nothing');
});
