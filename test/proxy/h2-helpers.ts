// Test helpers for the proxy's HTTP/2 paths: real node:http2 upstreams on port 0 (h2c, or a server that speaks
// both HTTP/1.1 and h2c on one port and reports which one each request used), an HTTP/2 client through the proxy,
// and HTTP/2 clusters in Envoy's shape.
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Raw } from '../../src/proxy/config/raw.ts';
import { staticCluster } from './helpers.ts';

export const H2_OPTIONS = {
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
    '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    explicit_http_config: { http2_protocol_options: {} },
  },
};

/** A STATIC cluster whose upstream protocol is HTTP/2 (http2_protocol_options), as Istio makes for http2/grpc ports or UPGRADE. */
export function h2Cluster(name: string, ports: number[], extra: Raw = {}, maxConcurrentStreams?: number): Raw {
  const opts = maxConcurrentStreams === undefined ? H2_OPTIONS : { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { ...H2_OPTIONS['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'], explicit_http_config: { http2_protocol_options: { max_concurrent_streams: { value: maxConcurrentStreams } } } } };
  return staticCluster(name, ports, { typed_extension_protocol_options: opts, ...extra });
}

export interface SeenRequest {
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  session: http2.ServerHttp2Session;
}

export interface H2Upstream {
  port: number;
  server: http2.Http2Server;
  seen: SeenRequest[];
  /** Sessions (connections) accepted so far. */
  sessions: number;
  close(): Promise<void>;
}

/** A real h2c server. The handler answers each stream after its request body has been read. */
export async function startH2Upstream(handler: (stream: http2.ServerHttp2Stream, req: SeenRequest, n: number) => void): Promise<H2Upstream> {
  const server = http2.createServer();
  const up: H2Upstream = { port: 0, server, seen: [], sessions: 0, close: () => closeH2(server) };
  const open = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    up.sessions++;
    open.add(s);
    s.on('close', () => open.delete(s));
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const chunks: Buffer[] = [];
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('end', () => {
      const req = { headers, body: Buffer.concat(chunks), session: stream.session as http2.ServerHttp2Session };
      up.seen.push(req);
      handler(stream, req, up.seen.length);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  up.port = (server.address() as AddressInfo).port;
  up.close = async () => {
    for (const s of open) s.destroy();
    await closeH2(server);
  };
  return up;
}

function closeH2(server: http2.Http2Server): Promise<void> {
  return new Promise((r) => server.close(() => r()));
}

export interface DualUpstream {
  port: number;
  /** The HTTP version of each request, in arrival order ('1.1' or '2.0'). */
  versions: string[];
  close(): Promise<void>;
}

/** One port serving HTTP/1.1 and h2c (prior knowledge): answers `version=<HTTP version>` so a test sees which one came. */
export async function startDualUpstream(): Promise<DualUpstream> {
  const versions: string[] = [];
  const handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void => {
    versions.push(req.httpVersion);
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'text/plain');
      res.end(`version=${req.httpVersion}`);
    });
  };
  const h1 = http.createServer(handler);
  const h2 = http2.createServer(handler);
  const sockets = new Set<net.Socket>();
  const front = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.once('readable', () => {
      const head = sock.read(3) as Buffer | null;
      if (!head) return sock.destroy();
      sock.unshift(head);
      (head.toString('latin1') === 'PRI' ? h2 : h1).emit('connection', sock);
    });
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  return {
    port: (front.address() as AddressInfo).port,
    versions,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => front.close(() => r()));
    },
  };
}

export interface H2Reply {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
  trailers: http2.IncomingHttpHeaders | undefined;
}

/** One HTTP/2 request to the proxy's port (h2c prior knowledge) with the given :authority. */
export async function h2Request(port: number, authority: string, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; session?: http2.ClientHttp2Session } = {}): Promise<H2Reply> {
  const session = opts.session ?? http2.connect(`http://127.0.0.1:${port}`);
  try {
    return await new Promise<H2Reply>((resolve, reject) => {
      const req = session.request({ ':method': opts.method ?? 'GET', ':path': path, ':authority': authority, ...opts.headers }, { endStream: opts.body === undefined });
      let status = 0;
      let headers: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders | undefined;
      const chunks: Buffer[] = [];
      req.on('response', (h) => {
        status = Number(h[':status']);
        headers = h;
      });
      req.on('trailers', (t) => (trailers = t));
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => resolve({ status, headers, body: Buffer.concat(chunks).toString(), trailers }));
      req.on('error', reject);
      if (opts.body !== undefined) req.end(opts.body);
    });
  } finally {
    if (!opts.session) session.close();
  }
}
