// common_http_protocol_options.max_connection_duration (DestinationRule connectionPool.tcp.maxConnectionDuration)
// against real upstream servers that count their connections: at that age an idle upstream connection is closed,
// a busy one finishes its request untouched and is closed after it (HTTP/1.1) or drained (HTTP/2), and the next
// request goes out on a new connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import { staticCluster, startProxy, viaProxy, outboundListener, routeConfig, vhost } from '../../../test/proxy/helpers.ts';

const HPO = 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const AGE_MS = 400;

function protocolOptions(h2: boolean): Record<string, unknown> {
  return {
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': HPO,
        common_http_protocol_options: { max_connection_duration: { nanos: AGE_MS * 1_000_000 } },
        explicit_http_config: h2 ? { http2_protocol_options: {} } : { http_protocol_options: {} },
      },
    },
  };
}

/** Resolves when `fn` returns true; polled, bounded (the events are in another module's sockets). */
async function until(what: string, fn: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function routes(cluster: string): ReturnType<typeof routeConfig>[] {
  return [routeConfig('9080', [vhost('svc', ['svc', 'svc:9080'], [{ match: { prefix: '/' }, route: { cluster, timeout: { seconds: 10 } } }])])];
}

test('HTTP/1.1 upstream: a request spanning max_connection_duration completes, then its connection closes; idle ones close at their age', async (t) => {
  const sockets: net.Socket[] = [];
  const closed = new Set<net.Socket>();
  const served: net.Socket[] = [];
  const server = http.createServer((req, res) => {
    served.push(req.socket);
    // /slow answers only once the connection is older than its maximum age.
    const delay = req.url === '/slow' ? AGE_MS + 300 : 0;
    setTimeout(() => res.end(`ok ${req.url}`), delay);
  });
  server.on('connection', (s: net.Socket) => {
    sockets.push(s);
    s.on('close', () => closed.add(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const p = await startProxy({ clusters: [staticCluster('svc', [port], protocolOptions(false))], listeners: [outboundListener(9080)], routes: routes('svc') });
  t.after(() => {
    p.close();
    server.closeAllConnections();
    server.close();
  });

  const slow = await viaProxy(p.port, 'http://svc:9080/slow');
  assert.equal(slow.status, 200);
  assert.equal(slow.body, 'ok /slow', 'the request in flight at the connection age is not cut');
  assert.equal(sockets.length, 1);
  await until('the aged connection to close after its request', () => closed.has(sockets[0]!));

  const next = await viaProxy(p.port, 'http://svc:9080/next');
  assert.equal(next.body, 'ok /next');
  assert.equal(sockets.length, 2, 'the next request opened a new connection');
  assert.equal(served[1], sockets[1]);
  // Idle in the pool, the second connection closes at its age without any traffic.
  await until('the idle connection to close at its age', () => closed.has(sockets[1]!));
  assert.equal(p.engine.clusters.get('svc')?.allHosts()[0]?.connections, 0);
});

test('HTTP/2 upstream: the session past max_connection_duration finishes its stream, takes no new one, and closes', async (t) => {
  const sessions: http2.ServerHttp2Session[] = [];
  const closed = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer();
  server.on('session', (s) => {
    sessions.push(s);
    s.on('close', () => closed.add(s));
  });
  server.on('stream', (stream, headers) => {
    const path = String(headers[':path']);
    const delay = path === '/slow' ? AGE_MS + 300 : 0;
    setTimeout(() => {
      stream.respond({ ':status': 200 });
      stream.end(`ok ${path}`);
    }, delay);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const p = await startProxy({ clusters: [staticCluster('svc', [port], protocolOptions(true))], listeners: [outboundListener(9080)], routes: routes('svc') });
  t.after(() => {
    p.close();
    for (const s of sessions) s.destroy();
    server.close();
  });

  const slow = viaProxy(p.port, 'http://svc:9080/slow');
  await until('the first session', () => sessions.length === 1);
  // A second request after the age (while /slow is still open) must not ride the draining session.
  await new Promise((r) => setTimeout(r, AGE_MS + 100));
  const during = await viaProxy(p.port, 'http://svc:9080/during');
  assert.equal(during.body, 'ok /during');
  assert.equal(sessions.length, 2, 'a request after the age opened a new session');
  const s = await slow;
  assert.equal(s.status, 200);
  assert.equal(s.body, 'ok /slow', 'the stream open at the session age is not cut');
  await until('the aged session to close once its stream ended', () => closed.has(sessions[0]!));
});
