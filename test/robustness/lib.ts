// Shared machinery for the proxy's robustness suite: a real `weft proxy sidecar` process on a static bootstrap
// (explicit outbound port, services routed by Host), a misbehaving upstream ("chaos" server: hangs, resets, huge
// bodies, slow reads, WebSocket), a TCP echo for CONNECT tunnels, and the process-level probes the tests judge by:
// open file descriptors and RSS from /proc, downstream and upstream connection counts from the admin port.
import { createHash } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { weft, type Proc } from '../e2e/harness.ts';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const HTTP_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

type Json = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------------------------
// Deterministic payloads: a 64 KiB pseudo-random block repeated, hashed on both ends.

const BLOCK = (() => {
  const b = Buffer.alloc(64 * 1024);
  let x = 0x2545f491;
  for (let i = 0; i < b.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  return b;
})();

/** The i-th chunk of a payload: the block rotated by i so that a dropped or repeated chunk changes the hash. */
export function chunk(i: number): Buffer {
  const r = (i * 4099) % BLOCK.length;
  return Buffer.concat([BLOCK.subarray(r), BLOCK.subarray(0, r)]);
}

const hashes = new Map<number, string>();

/** sha256 of a payload of `bytes` (a whole number of chunks). */
export function payloadHash(bytes: number): string {
  let known = hashes.get(bytes);
  if (known) return known;
  const h = createHash('sha256');
  for (let i = 0; i * BLOCK.length < bytes; i++) h.update(chunk(i));
  known = h.digest('hex');
  hashes.set(bytes, known);
  return known;
}

export const CHUNK = BLOCK.length;

/** Write `bytes` of payload to `out`, honouring backpressure; resolves when all is written (or out is destroyed). */
export async function writePayload(out: NodeJS.WritableStream & { destroyed?: boolean }, bytes: number, onWritten?: (n: number) => void): Promise<void> {
  let written = 0;
  for (let i = 0; written < bytes; i++) {
    if (out.destroyed) return;
    const ok = out.write(chunk(i));
    written += CHUNK;
    onWritten?.(written);
    if (!ok) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          out.off('drain', done);
          out.off('close', done);
          resolve();
        };
        out.on('drain', done);
        out.on('close', done);
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The misbehaving upstream.

/** Progress of the current /big response and /upload request, and the upstream's reading switch. */
export interface Transfers {
  /** Bytes written so far on the current /big response. */
  bigWritten: number;
  /** Bytes read so far on the current /upload request. */
  uploadRead: number;
  /** Read /upload bodies only while this is true (a slow upstream). */
  uploadReading: boolean;
  resumeUpload(): void;
}

export interface Chaos extends Transfers {
  port: number;
  server: http.Server;
  /** Upstream sockets open right now. */
  openSockets(): number;
  /** Emits `request` (path) as each request head arrives. */
  events: EventEmitter;
  close(): Promise<void>;
}

/**
 * node:http upstream whose behaviour is chosen by path: /ok, /echo (body echoed), /big?bytes=N (payload, backpressure
 * respected), /upload (payload read, answered with its length and sha256; reads only while `uploadReading`),
 * /reset (head and part of a body, then the socket is destroyed), /hang (never answers), and WebSocket upgrades
 * (101, then bytes echoed; the frame `close-from-upstream` makes it hang up).
 */
export async function startChaos(): Promise<Chaos> {
  const sockets = new Set<net.Socket>();
  let uploadResume: (() => void) | undefined;
  const chaos: Chaos = {
    port: 0,
    server: undefined as unknown as http.Server,
    bigWritten: 0,
    uploadRead: 0,
    uploadReading: true,
    resumeUpload: () => {
      chaos.uploadReading = true;
      uploadResume?.();
    },
    openSockets: () => sockets.size,
    events: new EventEmitter(),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        chaos.server.close(() => r());
      }),
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    chaos.events.emit('request', url.pathname);
    switch (url.pathname) {
      case '/big': {
        const bytes = Number(url.searchParams.get('bytes') ?? CHUNK);
        chaos.bigWritten = 0;
        res.writeHead(200, { 'content-length': String(bytes), 'content-type': 'application/octet-stream' });
        void writePayload(res, bytes, (n) => (chaos.bigWritten = n)).then(() => res.end());
        return;
      }
      case '/upload': {
        const h = createHash('sha256');
        chaos.uploadRead = 0;
        req.on('data', (d: Buffer) => {
          h.update(d);
          chaos.uploadRead += d.length;
          if (!chaos.uploadReading) {
            req.pause();
            uploadResume = () => req.resume();
          }
        });
        req.on('end', () => res.end(JSON.stringify({ bytes: chaos.uploadRead, sha256: h.digest('hex') })));
        return;
      }
      case '/reset':
        res.writeHead(200, { 'content-length': '1000000' });
        res.write(chunk(0), () => req.socket.destroy());
        return;
      case '/hang':
        req.resume();
        return;
      case '/echo': {
        const parts: Buffer[] = [];
        req.on('data', (d: Buffer) => parts.push(d));
        req.on('end', () => res.end(Buffer.concat(parts)));
        return;
      }
      default:
        req.resume();
        res.end('ok');
    }
  });
  // Idle keep-alive connections close quickly, so a proxy at rest holds no upstream sockets (a clean baseline).
  server.keepAliveTimeout = 300;
  (server as http.Server & { keepAliveTimeoutBuffer?: number }).keepAliveTimeoutBuffer = 0;
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n');
    if (head.length > 0) socket.write(head);
    socket.on('data', (d: Buffer) => {
      if (d.toString().includes('close-from-upstream')) socket.destroy();
      else socket.write(d);
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  chaos.server = server;
  chaos.port = (server.address() as AddressInfo).port;
  return chaos;
}

/**
 * An h2c upstream with the same paths as the chaos server that matter for streams: /ok, /big?bytes=N, /hang, /reset
 * (head and part of a body, then RST_STREAM INTERNAL_ERROR), /upload (length and sha256 of the body).
 */
export interface H2Chaos extends Transfers {
  port: number;
  openSessions(): number;
  events: EventEmitter;
  close(): Promise<void>;
}

export async function startH2Chaos(): Promise<H2Chaos> {
  const sessions = new Set<http2.ServerHttp2Session>();
  const events = new EventEmitter();
  let uploadResume: (() => void) | undefined;
  const server = http2.createServer();
  const self: H2Chaos = {
    port: 0,
    bigWritten: 0,
    uploadRead: 0,
    uploadReading: true,
    resumeUpload: () => {
      self.uploadReading = true;
      uploadResume?.();
    },
    openSessions: () => sessions.size,
    events,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sessions) s.destroy();
        server.close(() => r());
      }),
  };
  server.on('session', (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => s.destroy());
  });
  server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    stream.on('error', () => stream.destroy());
    const url = new URL(String(headers[':path'] ?? '/'), 'http://x');
    events.emit('request', url.pathname);
    switch (url.pathname) {
      case '/big': {
        const bytes = Number(url.searchParams.get('bytes') ?? CHUNK);
        stream.respond({ ':status': 200, 'content-length': String(bytes) });
        self.bigWritten = 0;
        void writePayload(stream, bytes, (n) => (self.bigWritten = n)).then(() => stream.end());
        return;
      }
      case '/hang':
        stream.resume();
        return;
      case '/reset':
        stream.respond({ ':status': 200 });
        stream.write(chunk(0), () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
        return;
      case '/upload': {
        const h = createHash('sha256');
        self.uploadRead = 0;
        stream.on('data', (d: Buffer) => {
          h.update(d);
          self.uploadRead += d.length;
          if (!self.uploadReading) {
            stream.pause();
            uploadResume = () => stream.resume();
          }
        });
        stream.on('end', () => {
          stream.respond({ ':status': 200 });
          stream.end(JSON.stringify({ bytes: self.uploadRead, sha256: h.digest('hex') }));
        });
        return;
      }
      default:
        stream.resume();
        stream.respond({ ':status': 200 });
        stream.end('ok');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  self.port = (server.address() as AddressInfo).port;
  return self;
}

/** A TCP echo server (the target of CONNECT tunnels); the line `close-from-upstream` makes it hang up. */
export async function startEcho(): Promise<{ port: number; openSockets(): number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    s.on('data', (d) => {
      if (d.toString().includes('close-from-upstream')) s.destroy();
      else s.write(d);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    openSockets: () => sockets.size,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Static config: Istio-shaped outbound listeners/routes/clusters for the sidecar's explicit port.

export interface Service {
  /** host:port the client names (`app:9080`). */
  authority: string;
  /** Upstream port on 127.0.0.1. */
  upstreamPort: number;
  /** Extra routes, before the catch-all `/` route. */
  routes?: Json[];
  /** Route timeout of the catch-all route (default 0s: big transfers must not be cut). */
  timeout?: string;
  /** The cluster speaks HTTP/2 (h2c). */
  http2?: boolean;
  /** Upstream idle timeout of the cluster's pooled connections (common_http_protocol_options.idle_timeout). */
  idleTimeout?: string;
}

/** The STATIC cluster name of a service (Istio's outbound cluster name). */
export function clusterName(s: Service): string {
  return `outbound|${s.authority.split(':')[1]}||${s.authority.split(':')[0]}.default.svc.cluster.local`;
}

/**
 * A listener the proxy binds itself on 127.0.0.1:`port` (as a gateway or a Sidecar egress listener with `bind`), all
 * requests to `service`'s cluster, with extra HttpConnectionManager fields (timeouts, limits).
 */
export function boundListener(port: number, service: Service, hcmExtra: Json = {}): Json {
  return {
    name: `bound_${port}`,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': HCM,
              stat_prefix: `bound_${port}`,
              route_config: { name: `bound_${port}`, virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: clusterName(service), timeout: '0s' } }] }] },
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
              ...hcmExtra,
            },
          },
        ],
      },
    ],
  };
}

/** Envoy bootstrap (static_resources) for `services`, one outbound listener + route config per port, plus `listeners`. */
export function bootstrap(services: Service[], listeners: Json[] = []): Json {
  const ports = new Map<number, Service[]>();
  for (const s of services) {
    const p = Number(s.authority.split(':')[1]);
    ports.set(p, [...(ports.get(p) ?? []), s]);
  }
  return {
    static_resources: {
      listeners: [
        ...listeners,
        ...[...ports.keys()].map((p) => ({
          name: `0.0.0.0_${p}`,
          address: { socket_address: { address: '0.0.0.0', port_value: p } },
          bind_to_port: false,
          filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: { '@type': HCM, stat_prefix: `outbound_0.0.0.0_${p}`, rds: { route_config_name: String(p), config_source: { ads: {} } }, http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }] } }] }],
        })),
      ],
      routes: [...ports.entries()].map(([p, list]) => ({
        name: String(p),
        virtual_hosts: list.map((s) => ({
          name: s.authority,
          domains: [s.authority, s.authority.split(':')[0]],
          routes: [...(s.routes ?? []).map((r) => ({ ...r, route: { cluster: clusterName(s), ...(r['route'] as Json | undefined) } })), { match: { prefix: '/' }, route: { cluster: clusterName(s), timeout: s.timeout ?? '0s' } }],
        })),
      })),
      clusters: services.map((s) => ({
        name: clusterName(s),
        type: 'STATIC',
        connect_timeout: '1s',
        load_assignment: { cluster_name: clusterName(s), endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: s.upstreamPort } } } }] }] },
        ...(s.http2 || s.idleTimeout
          ? {
              typed_extension_protocol_options: {
                [HTTP_OPTIONS]: {
                  '@type': `type.googleapis.com/${HTTP_OPTIONS}`,
                  ...(s.idleTimeout ? { common_http_protocol_options: { idle_timeout: s.idleTimeout } } : {}),
                  explicit_http_config: s.http2 ? { http2_protocol_options: {} } : { http_protocol_options: {} },
                },
              },
            }
          : {}),
      })),
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The proxy process and its probes.

export interface ProxyProcess {
  proc: Proc;
  pid: number;
  outbound: number;
  inbound: number;
  admin: number;
  stop(): Promise<void>;
}

/** `weft proxy sidecar --bootstrap` (static config, no control plane), every port on 127.0.0.1 and picked by the kernel. */
export async function startStaticSidecar(config: Json, extra: string[] = []): Promise<ProxyProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-robust-'));
  const file = join(dir, 'bootstrap.json');
  writeFileSync(file, JSON.stringify(config));
  const proc = weft(['proxy', 'sidecar', '--bootstrap', file, '--admin-port', '0', '--outbound-port', '0', '--inbound-port', '0', '--inbound-address', '127.0.0.1', '--stats-port', '-1', '--readiness-port', '-1', '--status-port', '-1', '--drain-duration', '1s', ...extra]);
  await proc.waitFor(/weft proxy ready/, 20_000);
  const n = (what: string): number => Number(new RegExp(`${what} port (\\d+)`).exec(proc.out())![1]);
  return {
    proc,
    pid: proc.child.pid!,
    outbound: n('outbound'),
    inbound: n('inbound'),
    admin: n('admin'),
    stop: async () => {
      await proc.stop(3000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Open file descriptors of a process. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Resident set size of a process, in bytes. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** GET on the admin port without keep-alive (a pooled admin connection would itself be an open descriptor). */
export function adminGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error(`admin ${path} timed out`)));
  });
}

export interface Counts {
  fds: number;
  /** Downstream connections the proxy tracks (server.total_connections). */
  downstream: number;
  /** Upstream connections open, summed over hosts (/clusters cx_active). */
  upstream: number;
}

export async function counts(p: ProxyProcess): Promise<Counts> {
  const fds = fdCount(p.pid);
  const stats = await adminGet(p.admin, '/stats');
  const clusters = await adminGet(p.admin, '/clusters');
  const downstream = Number(/^server\.total_connections: (\d+)$/m.exec(stats)?.[1] ?? NaN);
  let upstream = 0;
  for (const m of clusters.matchAll(/::cx_active::(\d+)$/gm)) upstream += Number(m[1]);
  return { fds, downstream, upstream };
}

/**
 * Wait (bounded) until the proxy is back at its baseline: no more descriptors than at rest, no downstream
 * connection, no upstream connection. Rejects with the last counts seen.
 */
export async function backToBaseline(p: ProxyProcess, baseline: Counts, what: string, ms = 10_000): Promise<Counts> {
  const deadline = Date.now() + ms;
  let last: Counts | undefined;
  for (let i = 0; ; i++) {
    last = await counts(p);
    if (last.fds <= baseline.fds && last.downstream <= baseline.downstream && last.upstream <= baseline.upstream) return last;
    if (Date.now() > deadline) throw new Error(`${what}: the proxy did not return to its baseline within ${ms} ms: baseline ${JSON.stringify(baseline)}, now ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, Math.min(50 * (i + 1), 250)));
  }
}

/** The counts at rest: polled until two consecutive readings agree (bounded). */
export async function baselineOf(p: ProxyProcess): Promise<Counts> {
  let prev = await counts(p);
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const c = await counts(p);
    if (c.fds === prev.fds && c.downstream === 0 && c.upstream === 0 && prev.upstream === 0) return c;
    prev = c;
  }
  throw new Error(`the proxy never came to rest: ${JSON.stringify(prev)}`);
}

/**
 * Bytes queued in the kernel (send + receive queues) on the established TCP connections that have one end on one of
 * `ports` (127.0.0.1 only) — what sits in socket buffers rather than in a process.
 */
export function kernelQueued(ports: readonly number[]): number {
  const want = new Set(ports);
  let total = 0;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || f[3] !== '01') continue; // ESTABLISHED
    const local = parseInt(f[1]!.split(':')[1]!, 16);
    const remote = parseInt(f[2]!.split(':')[1]!, 16);
    if (!want.has(local) && !want.has(remote)) continue;
    const [tx, rx] = f[4]!.split(':');
    total += parseInt(tx!, 16) + parseInt(rx!, 16);
  }
  return total;
}

// ---------------------------------------------------------------------------------------------------------------
// Clients.

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One request through the explicit proxy port (absolute URI, as an HTTP_PROXY client sends it). */
export function request(proxyPort: number, url: string, opts: { method?: string; body?: Buffer | string; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: '127.0.0.1', port: proxyPort, method: opts.method ?? 'GET', path: url, headers: { host: u.host, ...opts.headers }, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error(`request to ${url} timed out`)));
    req.end(opts.body);
  });
}

/** A raw TCP connection to the proxy. */
export async function connect(port: number): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => undefined);
  await once(s, 'connect');
  return s;
}

/** Resolve with the first `n` bytes (or less, at close) the socket receives as latin1. */
export function readUntil(s: net.Socket, pred: (text: string) => boolean, ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (): void => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('close', onClose);
    };
    const onData = (d: Buffer): void => {
      text += d.toString('latin1');
      if (pred(text)) {
        done();
        resolve(text);
      }
    };
    const onClose = (): void => {
      done();
      resolve(text);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`timed out after ${ms} ms; got ${JSON.stringify(text.slice(0, 200))}`));
    }, ms);
    s.on('data', onData);
    s.on('close', onClose);
  });
}

/** Resolves when the emitter closes (errors are expected here and ignored), rejects after `ms`. */
export function closed(e: EventEmitter, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not closed after ${ms} ms`)), ms);
    e.on('error', () => undefined);
    // A readable that nobody reads never sees its end: drain it so a close from the other side is noticed.
    if (e instanceof Readable) e.resume();
    e.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Run `fn` for indexes 0..n-1, at most `concurrency` at a time. */
export async function pool(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, concurrency) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}
