// HTTP/2 downstream (h2c with prior knowledge, or h2 negotiated by ALPN on inbound mTLS), for gRPC and HTTP/2
// clients: node:http2 frames the connection; each stream is routed with the same compiled route tables as HTTP/1.1
// and forwarded over a multiplexed HTTP/2 session to the chosen host (or, for HTTP/1.1 clusters, as an HTTP/1.1
// request on a pooled connection), headers, body and trailers streamed through. Local replies are gRPC-aware.
// Route timeouts apply; retries and fault injection are on the HTTP/1.1 path only for now.
import { randomUUID } from 'node:crypto';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import { hcmForPort, type DownstreamTls, type ListenerContext } from '../hcm/connection.ts';
import { StreamInfo, type ResponseFlag } from '../hcm/stream-info.ts';
import { redirectLocation } from '../hcm/redirect.ts';
import { pickCluster } from '../router/route-action.ts';
import { matchRoute, selectVirtualHost } from '../router/route-table.ts';
import { requestHash } from '../router/hash-key.ts';
import { originalClientIp, type SecurityOutcome } from '../security/http-security.ts';
import { normalizePath } from '../security/path-normalize.ts';
import type { JwtInfo } from '../filters/rbac/request.ts';
import { h2Session } from './h2-upstream.ts';
import { editH2Headers } from './header-edits.ts';
import type { HeaderOps } from '../router/route-action.ts';
import { H1Bridge } from './h1-bridge.ts';
import type { Cluster } from '../cluster/cluster-manager.ts';
import type { Host } from '../cluster/host.ts';

const { HTTP2_HEADER_STATUS, NGHTTP2_CANCEL, NGHTTP2_FLAG_END_STREAM } = http2.constants;

/** Headers HTTP/2 forbids or that only describe one hop. */
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings']);

let server: http2.Http2Server | undefined;

interface ConnInfo {
  ctx: ListenerContext;
  localPort: number;
  tls: DownstreamTls | undefined;
  local: string;
  remote: string;
  remoteIp: string;
}

const info = new WeakMap<http2.ServerHttp2Session, ConnInfo>();

/** Hand a connection whose first bytes are the HTTP/2 preface (or that negotiated h2) to the HTTP/2 server. */
export function acceptH2(socket: net.Socket, ctx: ListenerContext, tls: DownstreamTls | undefined, tcp: net.Socket): void {
  server ??= createServer();
  const meta: ConnInfo = {
    ctx,
    localPort: tcp.localPort ?? 0,
    tls,
    local: `${tcp.localAddress ?? ''}:${tcp.localPort ?? 0}`,
    remote: `${tcp.remoteAddress ?? ''}:${tcp.remotePort ?? 0}`,
    remoteIp: tcp.remoteAddress ?? '',
  };
  ctx.services.track(tcp);
  // node:http2 creates the session (and emits 'session') synchronously inside 'connection'.
  accepting = meta;
  try {
    server.emit('connection', socket);
  } finally {
    accepting = undefined;
  }
}

let accepting: ConnInfo | undefined;

function createServer(): http2.Http2Server {
  const s = http2.createServer({ maxSessionMemory: 16 });
  s.on('session', (session: http2.ServerHttp2Session) => {
    if (accepting) info.set(session, accepting);
    session.on('error', () => session.destroy());
  });
  s.on('stream', (stream, headers) => {
    const meta = info.get(stream.session as http2.ServerHttp2Session);
    if (!meta) return void stream.close(NGHTTP2_CANCEL);
    try {
      handleStream(stream, headers, meta);
    } catch (e) {
      meta.ctx.services.log('error', `internal error on an HTTP/2 stream: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      if (!stream.destroyed) stream.close(NGHTTP2_CANCEL);
    }
  });
  return s;
}

function header(h: http2.IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/** `delayed`: the stream's info when it comes back from an injected fault delay (the fault is not applied again). */
function handleStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, meta: ConnInfo, delayed?: StreamInfo): void {
  const services = meta.ctx.services;
  const si = delayed ?? new StreamInfo();
  if (!delayed) si.startEpochMs = Date.now();
  if (!delayed) si.startMono = performance.now();
  si.protocol = 'HTTP/2';
  si.downstreamLocal = meta.local;
  si.downstreamRemote = meta.remote;
  const method = header(headers, ':method') ?? 'GET';
  const target = header(headers, ':path') ?? '/';
  const authority = (header(headers, ':authority') ?? header(headers, 'host') ?? '').toLowerCase();
  const isGrpc = (header(headers, 'content-type') ?? '').startsWith('application/grpc');
  si.method = method;
  si.path = target;
  si.authority = authority;
  si.userAgent = header(headers, 'user-agent');
  const flat: string[] = [];
  for (const [k, v] of Object.entries(headers)) if (!k.startsWith(':') && v !== undefined) flat.push(k, Array.isArray(v) ? v.join(',') : v);
  let done = false;
  /** Filled in as routing proceeds (read by finish() for the metric labels). */
  const picked: { cluster?: Cluster; host?: Host } = {};
  const finish = (status: number): void => {
    if (done) return;
    done = true;
    si.status = status;
    si.durationMs = performance.now() - si.startMono;
    services.metricScope(meta.ctx.direction, si.upstreamCluster ?? '', picked.cluster, picked.host, meta.tls?.peer).record(status, si.flagString, si.durationMs, si.bytesReceived, si.bytesSent);
    services.accessLog?.log(si);
  };
  const local = (status: number, body: string, flag: ResponseFlag | undefined, details: string, extra: Record<string, string> = {}): void => {
    if (flag) si.addFlag(flag);
    si.details = details;
    if (stream.destroyed || stream.headersSent) return finish(status);
    if (isGrpc) {
      // gRPC clients read errors from grpc-status: Envoy maps its local replies (503 → UNAVAILABLE = 14).
      const grpcStatus = status === 404 ? '12' : status === 504 ? '4' : status >= 500 ? '14' : '2';
      stream.respond({ [HTTP2_HEADER_STATUS]: 200, 'content-type': 'application/grpc', 'grpc-status': grpcStatus, 'grpc-message': encodeURIComponent(body || details), ...extra }, { endStream: true });
    } else {
      stream.respond({ [HTTP2_HEADER_STATUS]: status, 'content-type': 'text/plain', server: 'envoy', ...extra }, { endStream: body === '' });
      if (body !== '') stream.end(body);
    }
    finish(status);
  };

  const colon = authority.lastIndexOf(':');
  const port = colon > 0 ? Number(authority.slice(colon + 1)) : 80;
  const hcm = hcmForPort(meta.ctx, meta.localPort, meta.tls, port);
  if (hcm && (hcm.security !== undefined || hcm.pathNormalization !== 'NONE')) {
    // Path normalisation and the security filters run before routing, as for HTTP/1.1 (hcm/stream.ts secure()).
    const normalized = normalizePath(target, hcm.pathNormalization);
    const security = hcm.security;
    if (!security) return proceed(normalized, flat);
    const resolve = (name: string): { host: string; port: number } | undefined => {
      const h = services.clusters.get(name)?.choose(performance.now(), () => services.random(), undefined);
      return h ? { host: h.address, port: h.port } : undefined;
    };
    const decided = security.run({ method, path: normalized, host: authority, headers: flat, sourceIp: meta.remoteIp, ...(hcm.xffNumTrustedHops > 0 ? { remoteIp: originalClientIp(flat, hcm.xffNumTrustedHops) ?? meta.remoteIp } : {}), destinationPort: meta.localPort, ...(meta.tls?.peer ? { peerPrincipal: meta.tls.peer } : {}) }, resolve);
    const next = (o: SecurityOutcome): void => {
      if (o.kind === 'continue') return proceed(normalized, o.headers === flat ? flat : [...o.headers], o.jwt);
      const extra: Record<string, string> = {};
      for (let i = 0; i < o.headers.length; i += 2) extra[o.headers[i]!] = o.headers[i + 1]!;
      local(o.status, o.body, o.flag, o.details, extra);
    };
    if (!(decided instanceof Promise)) return next(decided);
    stream.pause();
    decided.then(
      (o) => {
        stream.resume();
        next(o);
      },
      () => local(500, '', undefined, 'security_filter_failed'),
    );
    return;
  }
  proceed(target, flat);

  function proceed(target: string, flat: string[], jwt?: JwtInfo): void {
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    const query = q < 0 ? '' : target.slice(q + 1);
    const table = hcm ? (hcm.route.kind === 'inline' ? hcm.route.table : services.snapshot.routes.get(hcm.route.name)) : undefined;
    const vh = table ? selectVirtualHost(table, authority) : undefined;
    const route = vh ? matchRoute(vh, { authority, path, query, method, scheme: meta.tls ? 'https' : 'http', headers: flat, ...(jwt ? { jwt } : {}) }) : undefined;
    if (!route) return local(404, '', 'NR', 'route_not_found');
    si.routeName = route.name || undefined;
    const action = route.action;
    if (action.kind === 'direct') return local(action.status, action.body?.toString() ?? '', undefined, 'direct_response');
    if (action.kind === 'redirect') return local(action.code, '', undefined, 'via_upstream', { location: redirectLocation(action, 'http', authority, path, query, route.path.kind === 'prefix' ? route.path.value : '') });
    const fault = delayed ? undefined : route.fault;
    if (fault !== undefined) {
      // VirtualService fault injection, as on the HTTP/1.1 path: the request body is not read while it waits.
      const delay = fault.delayMs > 0 && fault.delayFraction > 0 && services.random() < fault.delayFraction;
      const abort = fault.abortStatus > 0 && fault.abortFraction > 0 && services.random() < fault.abortFraction;
      if (delay) {
        si.addFlag('DI');
        const timer = setTimeout(() => (abort ? faultAbort() : handleStream(stream, headers, meta, si)), fault.delayMs);
        stream.once('close', () => clearTimeout(timer));
        return;
      }
      if (abort) return faultAbort();
    }
    function faultAbort(): void {
      if (stream.destroyed) return finish(0);
      const grpcStatus = fault?.abortGrpcStatus;
      if (grpcStatus !== undefined && isGrpc) return local(200, 'fault filter abort', 'FI', 'fault_filter_abort', { 'grpc-status': String(grpcStatus) });
      local(fault?.abortStatus ?? 503, 'fault filter abort', 'FI', 'fault_filter_abort');
    }
    const clusterName = pickCluster(action, services.random());
    si.upstreamCluster = clusterName;
    const cluster = services.clusters.get(clusterName);
    if (!cluster) return local(503, '', 'NC', 'cluster_not_found');
    picked.cluster = cluster;
    cluster.stats.rqTotal++;
    const hash = action.hashPolicies.length > 0 ? requestHash(action.hashPolicies, flat, query, meta.remoteIp) : undefined;
    const host = cluster.choose(performance.now(), services.random, authority.includes(':') ? authority : `${authority}:80`, hash);
    if (!host) return local(503, 'no healthy upstream', 'UH', 'no_healthy_upstream');
    picked.host = host;
    si.upstreamHost = host.key;

    let outPath = target;
    if (action.prefixRewrite !== undefined && route.path.kind === 'prefix') outPath = action.prefixRewrite + path.slice(route.path.value.length) + (query === '' ? '' : `?${query}`);
    const out: http2.OutgoingHttpHeaders = { ':method': method, ':path': outPath, ':authority': action.hostRewrite ?? authority, ':scheme': 'http' };
    for (let i = 0; i < flat.length; i += 2) {
      const k = flat[i]!;
      if (HOP.has(k) || (k === 'te' && flat[i + 1] !== 'trailers')) continue;
      out[k] = flat[i + 1]!;
    }
    out['x-forwarded-proto'] ??= meta.tls ? 'https' : 'http';
    if (out['x-request-id'] === undefined && (hcm?.generateRequestId ?? true)) out['x-request-id'] = randomUUID();
    editH2Headers(out, route.requestHeaders);
    si.requestId = String(out['x-request-id'] ?? '') || undefined;
    const own = services.secrets?.current()?.spiffeId;
    if (meta.tls?.peer !== undefined && own !== undefined) out['x-forwarded-client-cert'] = `By=${own};URI=${meta.tls.peer}`;

    if (cluster.config.upstreamProtocol === 'http1') return bridgeToHttp1(stream, out, method, cluster, host, si, local, finish, route.responseHeaders);
    const session = h2Session(host, cluster.config.connectTimeoutMs);
    if (typeof session === 'string') return local(503, `upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: ${session}`, 'UF', 'upstream_reset_before_response_started{connection_failure}');
    const start = performance.now();
    host.active++;
    cluster.active++;
    const h = host;
    const c = cluster;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      h.active--;
      c.active--;
    };
    let up: http2.ClientHttp2Stream;
    try {
      up = session.request(out);
    } catch (e) {
      release();
      return local(503, `upstream connect error or disconnect/reset before headers. reset reason: ${e instanceof Error ? e.message : String(e)}`, 'UF', 'upstream_reset_before_response_started{connection_failure}');
    }
    let trailers: http2.IncomingHttpHeaders | undefined;
    let status = 0;
    stream.on('data', (d: Buffer) => (si.bytesReceived += d.length));
    stream.pipe(up);
    up.on('response', (rh, flags: number) => {
      status = Number(rh[HTTP2_HEADER_STATUS] ?? 502);
      si.upstreamServiceTimeMs = Math.round(performance.now() - start);
      si.details = 'via_upstream';
      const resp: http2.OutgoingHttpHeaders = { [HTTP2_HEADER_STATUS]: status };
      for (const [k, v] of Object.entries(rh)) if (!k.startsWith(':') && !HOP.has(k) && v !== undefined) resp[k] = v;
      resp['x-envoy-upstream-service-time'] = String(si.upstreamServiceTimeMs);
      editH2Headers(resp, route.responseHeaders);
      // A trailers-only response (gRPC errors: grpc-status in the only HEADERS frame) must stay trailers-only.
      const endStream = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
      if (!stream.destroyed) stream.respond(resp, endStream ? { endStream: true } : { waitForTrailers: true });
    });
    up.on('trailers', (t) => (trailers = t));
    up.on('data', (d: Buffer) => {
      si.bytesSent += d.length;
      if (!stream.destroyed && !stream.write(d)) up.pause();
    });
    stream.on('drain', () => up.resume());
    stream.on('wantTrailers', () => {
      const t: http2.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(trailers ?? {})) if (!k.startsWith(':') && v !== undefined) t[k] = v;
      stream.sendTrailers(t);
    });
    // The route timeout (Envoy's default 15 s; Istio sets 0s = none unless the VirtualService has one).
    const timer =
      action.timeoutMs > 0
        ? setTimeout(() => {
            if (done) return;
            if (!up.destroyed) up.close(NGHTTP2_CANCEL);
            release();
            if (status === 0) return local(504, 'upstream request timeout', 'UT', 'upstream_response_timeout');
            si.addFlag('UT');
            if (!stream.destroyed) stream.close(NGHTTP2_CANCEL);
            finish(status);
          }, action.timeoutMs)
        : undefined;
    stream.once('close', () => clearTimeout(timer));
    up.on('end', () => {
      clearTimeout(timer);
      release();
      if (!stream.destroyed && !stream.writableEnded) stream.end();
      finish(status);
    });
    up.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (done) return;
      release();
      if (status === 0) {
        const refused = e.code === 'ECONNREFUSED' || e.code === 'ERR_HTTP2_STREAM_CANCEL' || /connect|timeout/i.test(e.message);
        return local(503, `upstream connect error or disconnect/reset before headers. reset reason: ${refused ? 'connection failure' : 'connection termination'}, transport failure reason: ${e.code ?? e.message}`, refused ? 'UF' : 'UC', refused ? 'upstream_reset_before_response_started{connection_failure}' : 'upstream_reset_before_response_started{connection_termination}');
      }
      si.addFlag('UC');
      if (!stream.destroyed) stream.close(NGHTTP2_CANCEL);
      finish(status);
    });
    stream.on('close', () => {
      if (!done) {
        si.addFlag('DC');
        si.details = 'downstream_remote_disconnect';
        if (!up.destroyed) up.close(NGHTTP2_CANCEL);
        release();
        finish(status);
      }
    });
  }
}

type LocalReply = (status: number, body: string, flag: ResponseFlag | undefined, details: string, extra?: Record<string, string>) => void;

/** The cluster speaks HTTP/1.1: send the stream as an HTTP/1.1 request on a pooled connection. */
function bridgeToHttp1(stream: http2.ServerHttp2Stream, out: http2.OutgoingHttpHeaders, method: string, cluster: Cluster, host: Host, si: StreamInfo, local: LocalReply, finish: (status: number) => void, responseHeaders: HeaderOps): void {
  const acquired = host.acquire();
  if (!acquired) return local(503, 'upstream connect error or disconnect/reset before headers. reset reason: overflow', 'UO', 'upstream_reset_before_response_started{overflow}', { 'x-envoy-overloaded': 'true' });
  let head = `${method} ${String(out[':path'])} HTTP/1.1\r\nhost: ${String(out[':authority'])}\r\n`;
  for (const [k, v] of Object.entries(out)) if (!k.startsWith(':') && v !== undefined) head += `${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}\r\n`;
  host.active++;
  cluster.active++;
  host.totalRequests++;
  const start = performance.now();
  let status = 0;
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    host.active--;
    cluster.active--;
  };
  new H1Bridge(stream, host, acquired.conn, method, head, out['content-length'] !== undefined, {
    onResponse: (s) => {
      status = s;
      si.upstreamServiceTimeMs = Math.round(performance.now() - start);
      si.details = 'via_upstream';
    },
    editResponse: (h) => editH2Headers(h, responseHeaders),
    onBytesSent: (n) => (si.bytesSent += n),
    onDone: () => {
      release();
      finish(status);
    },
    onFailure: (reason, detail) => {
      release();
      const uf = reason === 'connect_failure' || reason === 'connect_timeout';
      if (uf) cluster.stats.cxConnectFail++;
      local(503, `upstream connect error or disconnect/reset before headers. reset reason: ${uf ? `connection failure, transport failure reason: ${detail}` : 'connection termination'}`, uf ? 'UF' : 'UC', uf ? 'upstream_reset_before_response_started{connection_failure}' : 'upstream_reset_before_response_started{connection_termination}');
    },
  });
}
