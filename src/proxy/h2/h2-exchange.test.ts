// HTTP/2 clusters, on the wire: completed requests send no RST_STREAM upstream, and a stream the client abandons
// before the upstream answered is cancelled upstream (RST_STREAM). Frames are counted by a TCP pipe between the
// proxy and a real node:http2 upstream. (The exchange used to call close(CANCEL) on every completed stream: nghttp2
// drops that RST for a stream it has already closed, so it cost CPU, not frames; this test pins the wire behaviour.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { outboundListener, routeConfig, startProxy } from '../../../test/proxy/helpers.ts';
import { h2Cluster, h2Request, startH2Upstream } from '../../../test/proxy/h2-helpers.ts';

const PREFACE_LENGTH = 24;
const FRAME_HEADERS = 0x1;
const FRAME_RST_STREAM = 0x3;

/** A TCP pipe to `upstreamPort` that counts the HTTP/2 frames the client side (the proxy) sends, by type. */
async function framePipe(upstreamPort: number): Promise<{ port: number; sent: Map<number, number>; frame: EventTarget; close(): void }> {
  const sent = new Map<number, number>();
  const frame = new EventTarget();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((down) => {
    const up = net.connect(upstreamPort, '127.0.0.1');
    sockets.add(down).add(up);
    let buf = Buffer.alloc(0);
    let skip = PREFACE_LENGTH;
    down.on('data', (d: Buffer) => {
      up.write(d);
      buf = Buffer.concat([buf, d]);
      if (skip > 0) {
        const n = Math.min(skip, buf.length);
        buf = buf.subarray(n);
        skip -= n;
      }
      while (skip === 0 && buf.length >= 9) {
        const length = buf.readUIntBE(0, 3);
        if (buf.length < 9 + length) break;
        const type = buf[3]!;
        sent.set(type, (sent.get(type) ?? 0) + 1);
        buf = buf.subarray(9 + length);
        frame.dispatchEvent(new Event(String(type)));
      }
    });
    up.pipe(down);
    const end = (): void => {
      down.destroy();
      up.destroy();
    };
    down.on('error', end).on('close', end);
    up.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    sent,
    frame,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

test('HTTP/2 cluster: completed requests send no RST_STREAM upstream; a stream the client abandons is cancelled upstream', async (t) => {
  let seenHang: (() => void) | undefined;
  const upstream = await startH2Upstream((stream, req) => {
    if (req.headers[':path'] === '/hang') return seenHang?.(); // never answered
    stream.respond({ ':status': 200, 'content-type': 'text/plain' });
    stream.end('ok');
  });
  const pipe = await framePipe(upstream.port);
  const p = await startProxy({
    clusters: [h2Cluster('h2', [pipe.port])],
    listeners: [outboundListener(80)],
    routes: [routeConfig('80', [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'h2' } }] }])],
  });
  t.after(async () => {
    p.close();
    pipe.close();
    await upstream.close();
  });

  const client = http2.connect(`http://127.0.0.1:${p.port}`);
  t.after(() => client.close());
  // Sequential and concurrent requests, all completed.
  for (let i = 0; i < 5; i++) assert.equal((await h2Request(p.port, 'svc', `/seq${i}`, { session: client })).body, 'ok');
  const many = await Promise.all(Array.from({ length: 20 }, (_, i) => h2Request(p.port, 'svc', `/par${i}`, { session: client })));
  assert.ok(many.every((r) => r.status === 200 && r.body === 'ok'));
  // Frames on the one upstream session are ordered: a RST_STREAM for an earlier stream would precede this request.
  assert.equal((await h2Request(p.port, 'svc', '/last', { session: client })).body, 'ok');
  assert.equal(pipe.sent.get(FRAME_HEADERS), 26, 'every request reached the upstream');
  assert.equal(pipe.sent.get(FRAME_RST_STREAM) ?? 0, 0, 'no RST_STREAM for completed exchanges');

  // The client gives up on a request the upstream has not answered: the proxy cancels it upstream.
  const seen = new Promise<void>((r) => (seenHang = r));
  const req = client.request({ ':method': 'GET', ':path': '/hang', ':authority': 'svc' }, { endStream: true });
  req.on('error', () => undefined);
  await seen;
  const rst = new Promise<void>((r) => pipe.frame.addEventListener(String(FRAME_RST_STREAM), () => r(), { once: true }));
  req.close(http2.constants.NGHTTP2_CANCEL);
  await rst;
  assert.equal(pipe.sent.get(FRAME_RST_STREAM), 1, 'the abandoned stream was cancelled upstream');
});
