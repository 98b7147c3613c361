// HTTP/2 requests carry at most the HCM's max_headers_count header fields (Envoy's default 100, pseudo-headers
// included, as Envoy counts them): one more and the stream is reset before anything reaches the upstream, while the
// connection stays up for the client's other streams — as Envoy resets such a stream (http2.too_many_headers).
// HTTP/1.1 answers the same case 431 (test/robustness/hostile.test.ts). Each such reset is counted in
// `http2.header_overflow` (Envoy's HTTP/2 codec counter), on /stats and /stats/prometheus.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { TypeUrl } from '../../src/xds/protos.ts';
import { renderEnvoyStats, renderProxyPrometheus } from '../../src/proxy/admin/admin-stats.ts';
import type { ProxyEngine } from '../../src/proxy/engine.ts';
import { hcm, outboundListener, routeConfig, startProxy, viaProto } from './helpers.ts';
import { h2Cluster, h2Request, startH2Upstream } from './h2-helpers.ts';

/** `n` extra headers besides the 4 pseudo-headers of a request. */
function extra(n: number): Record<string, string> {
  const h: Record<string, string> = {};
  for (let i = 0; i < n; i++) h[`x-h${i}`] = 'v';
  return h;
}

/** `http2.header_overflow` as /stats shows it, checked against /stats/prometheus. */
function headerOverflow(engine: ProxyEngine): number {
  const line = renderEnvoyStats(engine, undefined).split('\n').find((l) => l.startsWith('http2.header_overflow: '));
  const n = line === undefined ? 0 : Number(line.slice('http2.header_overflow: '.length));
  const prom = renderProxyPrometheus(engine, undefined);
  if (n > 0) {
    assert.match(prom, /^# TYPE envoy_http2_header_overflow counter$/m);
    assert.ok(prom.split('\n').includes(`envoy_http2_header_overflow ${n}`), `/stats/prometheus shows ${n}`);
  }
  return n;
}

/** The stream's outcome: its response status, or the RST_STREAM code it was reset with. */
function attempt(session: http2.ClientHttp2Session, headers: Record<string, string>): Promise<{ status?: number; rst?: number }> {
  return new Promise((resolve) => {
    const req = session.request({ ':method': 'GET', ':path': '/', ':authority': 'svc', ...headers });
    req.on('response', (h) => {
      req.resume();
      req.on('end', () => resolve({ status: Number(h[':status']) }));
    });
    req.on('error', () => undefined);
    req.on('close', () => resolve({ rst: req.rstCode }));
  });
}

test('HTTP/2: 100 header fields pass, 101 reset the stream (not forwarded), the connection keeps serving', async (t) => {
  const up = await startH2Upstream((stream) => {
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  const p = await startProxy({
    clusters: [h2Cluster('h2', [up.port])],
    listeners: [outboundListener(80)],
    routes: [routeConfig('80', [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'h2' } }] }])],
  });
  const session = http2.connect(`http://127.0.0.1:${p.port}`);
  session.on('error', () => undefined);
  t.after(async () => {
    session.destroy();
    p.close();
    await up.close();
  });
  assert.deepEqual(await attempt(session, extra(96)), { status: 200 }, '96 + 4 pseudo-headers = 100 fields');
  assert.equal(headerOverflow(p.engine), 0, 'nothing counted for a request within the limit');
  const refused = await attempt(session, extra(97));
  assert.equal(refused.status, undefined);
  assert.equal(refused.rst, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, '101 fields: the stream is reset');
  assert.equal(headerOverflow(p.engine), 1, 'the reset is counted');
  assert.equal((await attempt(session, extra(150))).rst, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  assert.equal(headerOverflow(p.engine), 2);
  // Past twice the limit node:http2 itself resets the stream (a header flood never reaches JavaScript): not counted.
  assert.equal((await attempt(session, extra(400))).rst, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  assert.deepEqual(await attempt(session, extra(3)), { status: 200 }, 'the same connection serves the next stream');
  assert.equal(up.seen.length, 2, 'the refused requests never reached the upstream');
  assert.ok(up.seen.every((r) => Object.keys(r.headers).filter((k) => k.startsWith('x-h')).length <= 96));
});

test("HTTP/2: the HCM's common_http_protocol_options.max_headers_count is the limit", async (t) => {
  const up = await startH2Upstream((stream) => {
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  const p = await startProxy({ clusters: [h2Cluster('h2', [up.port])] });
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const n = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(n));
    });
  });
  p.engine.apply(
    TypeUrl.listener,
    [
      viaProto(TypeUrl.listener, {
        name: 'gw',
        address: { socket_address: { address: '127.0.0.1', port_value: port } },
        filter_chains: [
          {
            filters: [
              hcm(
                { route_config: { name: 'r', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'h2' } }] }] } },
                { common_http_protocol_options: { max_headers_count: { value: 20 } } },
              ),
            ],
          },
        ],
      }),
    ],
    '1',
  );
  await p.engine.listeners.reconcile(p.engine.snapshot.listeners.values(), p.engine.reserved);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  t.after(async () => {
    session.destroy();
    p.close();
    await up.close();
  });
  assert.deepEqual(await attempt(session, extra(16)), { status: 200 });
  assert.equal((await attempt(session, extra(17))).rst, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  assert.equal(headerOverflow(p.engine), 1, 'counted against the HCM limit (21 fields > 20)');
  // h2Request opens a connection of its own: a fresh session gets the same limit.
  assert.equal((await h2Request(port, 'svc', '/', { headers: extra(10) })).status, 200);
});
