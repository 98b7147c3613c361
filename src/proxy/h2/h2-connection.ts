// HTTP/2 downstream (h2c with prior knowledge, or h2 negotiated by ALPN on inbound mTLS), for gRPC and HTTP/2
// clients: node:http2 frames the connection; each stream is routed with the same compiled route tables as HTTP/1.1
// and forwarded over a multiplexed HTTP/2 session to the chosen host (or, for HTTP/1.1 clusters, as an HTTP/1.1
// request on a pooled connection), headers, body and trailers streamed through. Local replies are gRPC-aware.
// This module routes (security filters, route match, CORS, fault, direct responses, redirects); ./h2-forward.ts
// forwards (attempts, retries, timeouts, mirrors).
import { randomUUID } from 'node:crypto';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import { hcmForPort, type DownstreamTls, type ListenerContext } from '../hcm/connection.ts';
import type { HcmConfig, ListenerConfig } from '../listener/listener-config.ts';
import { DEFAULT_MAX_HEADERS_COUNT } from '../listener/listener-config.ts';
import { StreamInfo, type ResponseFlag } from '../hcm/stream-info.ts';
import { redirectLocation } from '../hcm/redirect.ts';
import { pickCluster } from '../router/route-action.ts';
import { matchRoute, selectVirtualHost, type Route } from '../router/route-table.ts';
import { requestHash } from '../router/hash-key.ts';
import { originalClientIp, type SecurityOutcome } from '../security/http-security.ts';
import { normalizePath } from '../security/path-normalize.ts';
import type { JwtInfo } from '../filters/rbac/request.ts';
import { editH2Headers } from './header-edits.ts';
import { H2Forward } from './h2-forward.ts';
import { decideCors } from '../filters/cors/cors.ts';
import type { Cluster } from '../cluster/cluster-manager.ts';
import type { Host } from '../cluster/host.ts';

const { HTTP2_HEADER_STATUS, NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

/** Headers HTTP/2 forbids or that only describe one hop. */
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings']);

/**
 * One node:http2 server per header-count limit (a session's limit is fixed when node:http2 creates it). The HCM's
 * common_http_protocol_options.max_headers_count (Envoy's default 100, pseudo-headers included, as Envoy counts them)
 * is checked on the 'stream' event: a request with more header fields gets its stream reset (ENHANCE_YOUR_CALM;
 * Envoy resets with INTERNAL_ERROR, `http2.too_many_headers`), counted in `http2.header_overflow` as Envoy counts it,
 * and the connection stays up. node:http2's own maxHeaderListPairs is set to twice the limit, so that such a request
 * reaches JavaScript to be counted while a header flood is still cut off inside node:http2 (whose reset no JavaScript
 * event reports: a request with more than twice the limit is reset without being counted).
 */
const servers = new Map<number, http2.Http2Server>();

function serverFor(maxHeaders: number): http2.Http2Server {
  let s = servers.get(maxHeaders);
  if (s === undefined) {
    s = createServer(maxHeaders);
    servers.set(maxHeaders, s);
  }
  return s;
}

interface ConnInfo {
  ctx: ListenerContext;
  localPort: number;
  tls: DownstreamTls | undefined;
  local: string;
  remote: string;
  remoteIp: string;
  /** The session, once node:http2 created it; its open streams and when the last one closed (idle timeout). */
  session?: http2.ServerHttp2Session;
  streams: number;
  idleSince: number;
  /** Listener mode: the filter chain's HCM, chosen again only after an LDS update replaced the listener. */
  chainListener?: ListenerConfig | undefined;
  chainHcm?: HcmConfig | undefined;
}

const info = new WeakMap<http2.ServerHttp2Session, ConnInfo>();

/** Hand a connection whose first bytes are the HTTP/2 preface (or that negotiated h2) to the HTTP/2 server. */
export function acceptH2(socket: net.Socket, ctx: ListenerContext, tls: DownstreamTls | undefined, tcp: net.Socket): void {
  // node:http2 allows no fewer than 4 (the pseudo-headers of a request).
  const server = serverFor(Math.max(4, ctx.hcm?.maxHeadersCount ?? DEFAULT_MAX_HEADERS_COUNT));
  const meta: ConnInfo = {
    ctx,
    localPort: tcp.localPort ?? 0,
    tls,
    local: `${tcp.localAddress ?? ''}:${tcp.localPort ?? 0}`,
    remote: `${tcp.remoteAddress ?? ''}:${tcp.remotePort ?? 0}`,
    remoteIp: tcp.remoteAddress ?? '',
    streams: 0,
    idleSince: performance.now(),
  };
  ctx.services.track(tcp, {
    // Drain: GOAWAY, streams in flight finish.
    closeIfIdle: () => meta.session?.close(),
    // The HCM idle timeout (common_http_protocol_options.idle_timeout, Envoy default 1 h): a connection without
    // streams for that long gets GOAWAY and is closed, as Envoy does.
    sweep: (now) => {
      const limit = ctx.hcm?.idleTimeoutMs ?? 3_600_000;
      const session = meta.session;
      if (session === undefined || session.closed || meta.streams > 0 || limit <= 0 || now - meta.idleSince <= limit) return;
      session.close();
      setTimeout(() => session.destroy(), 5000).unref();
    },
  });
  // node:http2 creates the session (and emits 'session') synchronously inside 'connection'.
  accepting = meta;
  try {
    server.emit('connection', socket);
  } finally {
    accepting = undefined;
  }
}

let accepting: ConnInfo | undefined;

const HEADER_OVERFLOW = 'http2.header_overflow';

function ignore(): void {}

function createServer(maxHeaders: number): http2.Http2Server {
  const s = http2.createServer({ maxSessionMemory: 16, maxHeaderListPairs: 2 * maxHeaders });
  s.on('session', (session: http2.ServerHttp2Session) => {
    if (accepting) {
      info.set(session, accepting);
      accepting.session = session;
    }
    session.on('error', () => session.destroy());
  });
  s.on('stream', (stream, headers, _flags, rawHeaders: string[]) => {
    const meta = info.get(stream.session as http2.ServerHttp2Session);
    if (!meta) return void stream.close(NGHTTP2_CANCEL);
    if (rawHeaders.length > 2 * maxHeaders) {
      meta.ctx.services.state.stats.counter(HEADER_OVERFLOW).value++;
      // Closing with an error code makes node:http2 emit 'error' on the stream: expected here, nothing to report.
      stream.on('error', ignore);
      return void stream.close(NGHTTP2_ENHANCE_YOUR_CALM);
    }
    meta.streams++;
    try {
      const h2s = new H2Stream(stream, headers, meta);
      // The stream's one 'close' listener: connection accounting (idle timeout), then the forwarder if any.
      stream.on('close', () => {
        meta.streams--;
        meta.idleSince = performance.now();
        h2s.forward?.onDownstreamClose();
      });
      h2s.route(false);
    } catch (e) {
      meta.ctx.services.log('error', `internal error on an HTTP/2 stream: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      if (!stream.destroyed) stream.close(NGHTTP2_CANCEL);
    }
  });
  return s;
}

/** The HCM for a stream to `port` on this connection (as DownstreamConnection.hcmFor for HTTP/1.1). */
function hcmFor(meta: ConnInfo, port: number): HcmConfig | undefined {
  const ctx = meta.ctx;
  if (ctx.mode !== 'listener') return hcmForPort(ctx, meta.localPort, meta.tls, port);
  const l = ctx.services.snapshot.listeners.get(ctx.listenerName);
  if (l === undefined || l !== meta.chainListener) {
    meta.chainListener = l;
    meta.chainHcm = hcmForPort(ctx, meta.localPort, meta.tls, port);
  }
  return meta.chainHcm;
}

/** Flat name/value pairs as a header object. */
function pairs(flat: readonly string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) o[flat[i]!] = flat[i + 1]!;
  return o;
}

function header(h: http2.IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/**
 * One downstream stream: its StreamInfo, its routing (security filters, route match, CORS, fault, direct responses,
 * redirects) and its completion (metrics, access log, span). One object per stream, no closures: the forwarder
 * reports back through local(), finish() and onHost().
 */
class H2Stream {
  readonly stream: http2.ServerHttp2Stream;
  readonly headers: http2.IncomingHttpHeaders;
  readonly meta: ConnInfo;
  readonly si = new StreamInfo();
  readonly method: string;
  readonly target: string;
  readonly authority: string;
  readonly isGrpc: boolean;
  /** The regular (non-pseudo) request headers as name/value pairs; repeated names joined with ",". */
  readonly flat: string[] = [];
  hcm: HcmConfig | undefined;
  private done = false;
  /** Filled in as routing proceeds (read by finish() for the metric labels). */
  private cluster: Cluster | undefined;
  private host: Host | undefined;
  /** The forwarder, once the stream is routed to a cluster (told when the downstream stream closes). */
  forward: H2Forward | undefined;

  constructor(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, meta: ConnInfo) {
    this.stream = stream;
    this.headers = headers;
    this.meta = meta;
    const si = this.si;
    si.startEpochMs = Date.now();
    si.startMono = performance.now();
    si.protocol = 'HTTP/2';
    si.downstreamLocal = meta.local;
    si.downstreamRemote = meta.remote;
    this.method = header(headers, ':method') ?? 'GET';
    this.target = header(headers, ':path') ?? '/';
    this.authority = (header(headers, ':authority') ?? header(headers, 'host') ?? '').toLowerCase();
    this.isGrpc = (header(headers, 'content-type') ?? '').startsWith('application/grpc');
    si.method = this.method;
    si.path = this.target;
    si.authority = this.authority;
    si.userAgent = header(headers, 'user-agent');
    const flat = this.flat;
    for (const k in headers) {
      if (k.charCodeAt(0) === 58 /* : */) continue;
      const v = headers[k];
      if (v !== undefined) flat.push(k, typeof v === 'string' ? v : v.join(','));
    }
  }

  /** Record the completion (metrics, access log, span); once. */
  finish(status: number): void {
    if (this.done) return;
    this.done = true;
    const si = this.si;
    const meta = this.meta;
    const services = meta.ctx.services;
    si.status = status;
    si.durationMs = performance.now() - si.startMono;
    services.metricScope(meta.ctx.direction, si.upstreamCluster ?? '', this.cluster, this.host, meta.tls?.peer).record(status, si.flagString, si.durationMs, si.bytesReceived, si.bytesSent);
    services.accessLog?.log(si);
    si.span?.end(si);
  }

  /** A reply generated here, in the stream's protocol (gRPC-aware); it records the completion. */
  local(status: number, body: string, flag: ResponseFlag | undefined, details: string, extra: Record<string, string> = {}): void {
    const { si, stream } = this;
    if (flag) si.addFlag(flag);
    si.details = details;
    if (stream.destroyed || stream.headersSent) return this.finish(status);
    if (this.isGrpc) {
      // gRPC clients read errors from grpc-status: Envoy maps its local replies (503 → UNAVAILABLE = 14).
      const grpcStatus = status === 404 ? '12' : status === 504 ? '4' : status >= 500 ? '14' : '2';
      stream.respond({ [HTTP2_HEADER_STATUS]: 200, 'content-type': 'application/grpc', 'grpc-status': grpcStatus, 'grpc-message': encodeURIComponent(body || details), ...extra }, { endStream: true });
    } else {
      stream.respond({ [HTTP2_HEADER_STATUS]: status, 'content-type': 'text/plain', server: 'envoy', ...extra }, { endStream: body === '' });
      if (body !== '') stream.end(body);
    }
    this.finish(status);
  }

  onHost(host: Host): void {
    this.host = host;
  }

  /** `delayed`: back from an injected fault delay (the fault is not applied again, the span already started). */
  route(delayed: boolean): void {
    const { meta, si, flat, authority } = this;
    const services = meta.ctx.services;
    const colon = authority.lastIndexOf(':');
    const port = colon > 0 ? Number(authority.slice(colon + 1)) : 80;
    const hcm = hcmFor(meta, port);
    this.hcm = hcm;
    if (hcm?.tracing && !delayed) si.span = services.tracing.start(hcm.tracing, flat, meta.ctx.direction);
    if (hcm && (hcm.security !== undefined || hcm.pathNormalization !== 'NONE')) {
      // Path normalisation and the security filters run before routing, as for HTTP/1.1 (hcm/stream.ts secure()).
      const normalized = normalizePath(this.target, hcm.pathNormalization);
      const security = hcm.security;
      if (!security) return this.proceed(normalized, flat, undefined, delayed);
      const resolve = (name: string): { host: string; port: number } | undefined => {
        const h = services.clusters.get(name)?.choose(performance.now(), () => services.random(), undefined);
        return h ? { host: h.address, port: h.port } : undefined;
      };
      const decided = security.run(
        {
          method: this.method,
          path: normalized,
          host: authority,
          headers: flat,
          sourceIp: meta.remoteIp,
          ...(hcm.xffNumTrustedHops > 0 ? { remoteIp: originalClientIp(flat, hcm.xffNumTrustedHops) ?? meta.remoteIp } : {}),
          destinationPort: meta.localPort,
          ...(meta.tls?.peer ? { peerPrincipal: meta.tls.peer } : {}),
        },
        resolve,
      );
      const next = (o: SecurityOutcome): void => {
        if (o.kind === 'continue') return this.proceed(normalized, o.headers === flat ? flat : [...o.headers], o.jwt, delayed);
        const extra: Record<string, string> = {};
        for (let i = 0; i < o.headers.length; i += 2) extra[o.headers[i]!] = o.headers[i + 1]!;
        this.local(o.status, o.body, o.flag, o.details, extra);
      };
      if (!(decided instanceof Promise)) return next(decided);
      const stream = this.stream;
      stream.pause();
      decided.then(
        (o) => {
          stream.resume();
          next(o);
        },
        () => this.local(500, '', undefined, 'security_filter_failed'),
      );
      return;
    }
    this.proceed(this.target, flat, undefined, delayed);
  }

  private faultAbort(fault: NonNullable<Route['fault']>): void {
    if (this.stream.destroyed) return this.finish(0);
    const grpcStatus = fault.abortGrpcStatus;
    if (grpcStatus !== undefined && this.isGrpc) return this.local(200, 'fault filter abort', 'FI', 'fault_filter_abort', { 'grpc-status': String(grpcStatus) });
    this.local(fault.abortStatus, 'fault filter abort', 'FI', 'fault_filter_abort');
  }

  private proceed(target: string, flat: string[], jwt: JwtInfo | undefined, delayed: boolean): void {
    const { meta, si, stream, authority, method, hcm } = this;
    const services = meta.ctx.services;
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    const query = q < 0 ? '' : target.slice(q + 1);
    const table = hcm ? (hcm.route.kind === 'inline' ? hcm.route.table : services.snapshot.routes.get(hcm.route.name)) : undefined;
    const vh = table ? selectVirtualHost(table, authority) : undefined;
    const route = vh ? matchRoute(vh, { authority, path, query, method, scheme: meta.tls ? 'https' : 'http', headers: flat, ...(jwt ? { jwt } : {}) }) : undefined;
    if (!route) return this.local(404, '', 'NR', 'route_not_found');
    si.routeName = route.name || undefined;
    // CORS (as on HTTP/1.1): a preflight from an allowed origin is answered here; actual requests get the allow headers.
    let corsHeaders: string[] | undefined;
    if (route.cors) {
      const d = decideCors(route.cors, method, header(this.headers, 'origin'), header(this.headers, 'access-control-request-method'));
      if (d.kind === 'preflight') return this.local(200, '', undefined, 'cors_response', pairs(d.headers));
      if (d.kind === 'actual') corsHeaders = d.headers;
    }
    const action = route.action;
    if (action.kind === 'direct') return this.local(action.status, action.body?.toString() ?? '', undefined, 'direct_response');
    if (action.kind === 'redirect') return this.local(action.code, '', undefined, 'via_upstream', { location: redirectLocation(action, 'http', authority, path, query, route.path.kind === 'prefix' ? route.path.value : '') });
    const fault = delayed ? undefined : route.fault;
    if (fault !== undefined) {
      // VirtualService fault injection, as on the HTTP/1.1 path: the request body is not read while it waits.
      const delay = fault.delayMs > 0 && fault.delayFraction > 0 && services.random() < fault.delayFraction;
      const abort = fault.abortStatus > 0 && fault.abortFraction > 0 && services.random() < fault.abortFraction;
      if (delay) {
        si.addFlag('DI');
        const timer = setTimeout(() => (abort ? this.faultAbort(fault) : this.route(true)), fault.delayMs);
        stream.once('close', () => clearTimeout(timer));
        return;
      }
      if (abort) return this.faultAbort(fault);
    }
    const clusterName = pickCluster(action, services.random());
    si.upstreamCluster = clusterName;
    const cluster = services.clusters.get(clusterName);
    if (!cluster) return this.local(503, '', 'NC', 'cluster_not_found');
    this.cluster = cluster;
    cluster.stats.rqTotal++;
    const hash = action.hashPolicies.length > 0 ? requestHash(action.hashPolicies, flat, query, meta.remoteIp) : undefined;

    let outPath = target;
    if (action.prefixRewrite !== undefined && route.path.kind === 'prefix') outPath = action.prefixRewrite + path.slice(route.path.value.length) + (query === '' ? '' : `?${query}`);
    else if (action.regexRewrite !== undefined) outPath = action.regexRewrite.re.matcher(path).replaceAll(action.regexRewrite.substitution) + (query === '' ? '' : `?${query}`);
    const out: http2.OutgoingHttpHeaders = { ':method': method, ':path': outPath, ':authority': action.hostRewrite ?? authority, ':scheme': 'http' };
    for (let i = 0; i < flat.length; i += 2) {
      const k = flat[i]!;
      if (HOP.has(k) || (k === 'te' && flat[i + 1] !== 'trailers')) continue;
      out[k] = flat[i + 1]!;
    }
    out['x-forwarded-proto'] ??= meta.tls ? 'https' : 'http';
    if (out['x-request-id'] === undefined && (hcm?.generateRequestId ?? true)) out['x-request-id'] = randomUUID();
    editH2Headers(out, route.requestHeaders);
    if (si.span && typeof out['x-request-id'] === 'string') out['x-request-id'] = si.span.requestId(out['x-request-id']);
    si.requestId = String(out['x-request-id'] ?? '') || undefined;
    si.span?.injectInto(out);
    const own = services.secrets?.current()?.spiffeId;
    if (meta.tls?.peer !== undefined && own !== undefined) out['x-forwarded-client-cert'] = `By=${own};URI=${meta.tls.peer}`;
    if (action.timeoutMs > 0) out['x-envoy-expected-rq-timeout-ms'] = String(action.timeoutMs);

    this.forward = new H2Forward({
      stream,
      info: si,
      services,
      route,
      action,
      cluster,
      headers: out,
      destination: authority.includes(':') ? authority : `${authority}:80`,
      hash,
      extraResponse: corsHeaders,
      owner: this,
    });
    this.forward.start();
  }
}
