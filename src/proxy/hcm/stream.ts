// One request/response exchange on a downstream connection: route it (virtual host → route → cluster), forward it
// to an upstream host over a pooled HTTP/1.1 connection, stream both bodies with backpressure, apply timeouts and
// retries, and turn failures into Envoy's local replies with response flags. This is the proxy's hot path: one
// object per request, heads serialised as single strings, body bytes passed as slices (no copies, no buffering
// except the bounded replay buffer that retries need).
// The file is long because it is one state machine (request, attempts, response, tunnel, completion) whose states
// share fields; the pieces without state live beside it: request-head.ts, response-head.ts, local-reply.ts,
// redirect.ts, mirror.ts, connect-route.ts, and the filters (fault, CORS) under ../filters/.
import * as net from 'node:net';
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import type { Cluster } from '../cluster/cluster-manager.ts';
import type { Host } from '../cluster/host.ts';
import type { UpstreamFailure, UpstreamHandler } from '../cluster/upstream-connection.ts';
import { acquireLink, type UpstreamLink } from '../h2/upstream-link.ts';
import { RetryState, retriableReset, retriableResponse, withAttemptCount } from '../router/retry.ts';
import { ejectIfOutlier } from '../cluster/outlier.ts';
import type { HeadError, RequestHead, ResponseHead } from '../http1/head.ts';
import { CHUNK_END, chunkHeader, lastChunk, statusText } from '../http1/serialize.ts';
import type { HcmConfig } from '../listener/listener-config.ts';
import { pickCluster, type RouteAction } from '../router/route-action.ts';
import { headerValue, matchRoute, type MatchInput, type Route } from '../router/route-table.ts';
import type { DownstreamConnection } from './connection.ts';
import { writeLocalReply } from './local-reply.ts';
import { StreamInfo, type ResponseFlag } from './stream-info.ts';
import { redirectLocation } from './redirect.ts';
import { connectCluster } from './connect-route.ts';
import { connectHost } from '../listener/tcp-proxy.ts';
import type { TcpSeries } from '../stats/istio-metrics.ts';
import { Mirror } from './mirror.ts';
import { writeSocket } from '../http1/socket-write.ts';
import { upstreamRequestHead, type RequestHeadContext } from './request-head.ts';
import { responseHeadLines } from './response-head.ts';
import { decideCors } from '../filters/cors/cors.ts';
import { requestHash } from '../router/hash-key.ts';
import { PASSTHROUGH_HCM, PASSTHROUGH_ROUTE } from './passthrough.ts';
import type { FaultConfig } from '../filters/fault/fault.ts';
import { PassthroughCluster } from '../../core/names/cluster-name.ts';
import { originalClientIp, type SecurityOutcome } from '../security/http-security.ts';
import { normalizePath } from '../security/path-normalize.ts';
import type { JwtInfo } from '../filters/rbac/request.ts';

/** Envoy marks circuit-breaker overflow replies with this header (clients and retries can tell overload apart). */
const OVERLOADED = ['x-envoy-overloaded', 'true'];

/** Request bodies up to this size are kept for replay so the request can be retried (Envoy's buffer limit). */
const RETRY_BUFFER_LIMIT = 64 * 1024;

type Forward = Extract<RouteAction, { kind: 'cluster' }>;

export class Stream implements UpstreamHandler {
  readonly conn: DownstreamConnection;
  readonly req: RequestHead;
  readonly info = new StreamInfo();
  private hcm: HcmConfig | undefined;
  private route: Route | undefined;
  private action: Forward | undefined;
  private cluster: Cluster | undefined;
  private host: Host | undefined;
  private upstream: UpstreamLink | undefined;
  private upstreamHead = '';
  private destination: string | undefined;
  /** Headers a filter adds to the upstream response (CORS). */
  private extraResponseHeaders: string[] | undefined;
  /** Set while queued for a connection (max_connections reached). */
  private waiter: (() => void) | undefined;
  /** Consistent-hash key of this request (route hash_policy), if any. */
  private hash: number | undefined;
  private retry: RetryState | undefined;
  private replay: Buffer[] | undefined;
  private replayBytes = 0;
  private requestEnded = false;
  private requestTrailers: string[] | undefined;
  private responseStarted = false;
  private responseChunked = false;
  private closeAfter = false;
  private done = false;
  private upstreamStart = 0;
  private timer: NodeJS.Timeout | undefined;
  private tryTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  tunnelling = false;
  /** onUpstreamBody copies what it keeps of a borrowed chunk (see UpstreamHandler). */
  readonly takesBorrowedChunks = true;

  constructor(conn: DownstreamConnection, req: RequestHead) {
    this.conn = conn;
    this.req = req;
  }

  start(): void {
    const info = this.info;
    const req = this.req;
    info.startEpochMs = Date.now();
    // A head parsed from a socket read starts at that read's time (one clock read less per request).
    info.startMono = this.conn.parsing ? this.conn.lastActivity : performance.now();
    info.method = req.method;
    info.protocol = req.versionMinor === 1 ? 'HTTP/1.1' : 'HTTP/1.0';
    info.downstreamLocal = this.conn.localAddress;
    info.downstreamRemote = this.conn.remoteAddress;
    if (!req.keepAlive) this.closeAfter = true;

    // Request target → authority, path, query. Absolute-form is what an app sends to its HTTP proxy.
    let target = req.target;
    let authority = req.host;
    if (target.charCodeAt(0) !== 47 /* / */) {
      if (req.method === 'CONNECT') return this.startConnect(target);
      const m = /^http:\/\/([^/?#]+)(.*)$/i.exec(target);
      if (m) {
        authority = m[1]!.toLowerCase();
        target = m[2] === '' ? '/' : m[2]!.charCodeAt(0) === 47 ? m[2]! : `/${m[2]!}`;
      } else if (target !== '*') return this.localReply(400, undefined, 'DPE', 'http1.invalid_url');
    }
    info.path = target;
    info.authority = authority;
    // A keep-alive connection mostly repeats its authority: its port and destination are kept on the connection.
    const conn = this.conn;
    if (authority !== conn.lastAuthority) {
      const colon = authority.lastIndexOf(':');
      const hasPort = colon > 0 && authority.indexOf(']', colon) < 0;
      conn.lastAuthority = authority;
      conn.lastPort = hasPort ? Number(authority.slice(colon + 1)) : 80;
      conn.lastDestination = hasPort ? authority : `${authority}:80`;
    }
    const port = conn.lastPort;
    this.destination = conn.lastDestination;

    const hcm = this.conn.hcmFor(port);
    if (hcm?.tracing) info.span = this.conn.ctx.services.tracing.start(hcm.tracing, req.headers, this.conn.ctx.direction);
    if (hcm && (hcm.security !== undefined || hcm.pathNormalization !== 'NONE')) return this.secure(hcm, authority, target, port);
    this.routeRequest(hcm, authority, target, port);
  }

  /**
   * Path normalisation, then the security filters (jwt_authn → ext_authz → RBAC) before routing, as Envoy runs its
   * HTTP filters before the router. A denial is a local reply; an asynchronous step (JWKS fetch, authorizer call)
   * pauses the downstream socket, with body bytes kept as during an injected delay.
   */
  /** The JWT verified by the security chain (claim-based routing reads it). */
  private jwt: JwtInfo | undefined;

  private secure(hcm: HcmConfig, authority: string, rawTarget: string, port: number): void {
    const target = normalizePath(rawTarget, hcm.pathNormalization);
    const security = hcm.security;
    if (!security) return this.routeRequest(hcm, authority, target, port);
    const req = this.req;
    const tls = this.conn.tls;
    const services = this.conn.ctx.services;
    const resolve = (name: string): { host: string; port: number } | undefined => {
      const h = services.clusters.get(name)?.choose(performance.now(), () => services.random(), undefined);
      return h ? { host: h.address, port: h.port } : undefined;
    };
    const out = security.run({
      method: req.method,
      path: target,
      host: authority,
      headers: req.headers,
      sourceIp: this.conn.remoteIp,
      ...(hcm.xffNumTrustedHops > 0 ? { remoteIp: originalClientIp(req.headers, hcm.xffNumTrustedHops) ?? this.conn.remoteIp } : {}),
      destinationPort: this.conn.localPort,
      ...(tls?.peer ? { peerPrincipal: tls.peer } : {}),
    }, resolve);
    const next = (o: SecurityOutcome): void => {
      if (o.kind === 'respond') return this.localReply(o.status, o.body, o.flag, o.details, o.headers.length > 0 ? [...o.headers] : undefined);
      if (o.headers !== req.headers) req.headers = [...o.headers];
      this.jwt = o.jwt;
      this.routeRequest(hcm, authority, target, port);
    };
    if (!(out instanceof Promise)) return next(out);
    if (req.body !== 'none') this.replay = [];
    this.conn.socket.pause();
    out.then(
      (o) => {
        if (this.done) return;
        this.conn.socket.resume();
        next(o);
      },
      () => {
        if (this.done) return;
        this.conn.socket.resume();
        this.localReply(500, undefined, undefined, 'security_filter_failed');
      },
    );
  }

  private routeRequest(hcm: HcmConfig | undefined, authority: string, target: string, port: number): void {
    const info = this.info;
    const req = this.req;
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    const query = q < 0 ? '' : target.slice(q + 1);
    const services = this.conn.ctx.services;
    let route: Route | undefined;
    if (!hcm && this.conn.refusesPlaintext(port)) {
      // PeerAuthentication STRICT: no filter chain takes plaintext here; Envoy closes such connections.
      this.info.addFlag('NR');
      return this.abort('filter_chain_not_found');
    }
    if (hcm) {
      this.hcm = hcm;
      const table = hcm.route.kind === 'inline' ? hcm.route.table : services.snapshot.routes.get(hcm.route.name);
      const vh = table ? this.conn.virtualHost(table, authority) : undefined;
      const input: MatchInput = { authority, path, query, method: req.method, scheme: this.conn.tls ? 'https' : 'http', headers: req.headers, jwt: this.jwt };
      route = vh ? matchRoute(vh, input) : undefined;
    } else if (this.conn.ctx.mode === 'explicit' && services.clusters.get(PassthroughCluster)) {
      // No service listens on this port: with ALLOW_ANY the request goes to its original destination.
      this.hcm = PASSTHROUGH_HCM;
      route = PASSTHROUGH_ROUTE;
    }
    if (!route) return this.localReply(404, undefined, 'NR', 'route_not_found');
    this.route = route;
    info.routeName = route.name || undefined;
    if (route.cors) {
      const d = decideCors(route.cors, req.method, headerValue(req.headers, 'origin'), headerValue(req.headers, 'access-control-request-method'));
      if (d.kind === 'preflight') return this.localReply(200, undefined, undefined, 'cors_response', d.headers);
      if (d.kind === 'actual') this.extraResponseHeaders = d.headers;
    }
    // Body bytes are kept (bounded) from here on, for retries and for requests held by an injected delay.
    if (req.body !== 'none') this.replay ??= [];
    const fault = route.fault;
    if (fault !== undefined) {
      const delay = fault.delayMs > 0 && fault.delayFraction > 0 && services.random() < fault.delayFraction;
      const abort = fault.abortStatus > 0 && fault.abortFraction > 0 && services.random() < fault.abortFraction;
      const go = (): void => (abort ? this.faultAbort(fault) : this.dispatch(route, authority, target, path, query));
      if (delay) {
        // Stop reading the request while it waits, so its body cannot pile up in memory.
        info.addFlag('DI');
        this.conn.socket.pause();
        this.timer = setTimeout(() => {
          this.timer = undefined;
          if (this.done) return;
          this.conn.socket.resume();
          go();
        }, fault.delayMs);
        return;
      }
      return go();
    }
    this.dispatch(route, authority, target, path, query);
  }

  private faultAbort(fault: FaultConfig): void {
    if (fault.abortGrpcStatus !== undefined) {
      return this.localReply(200, undefined, 'FI', 'fault_filter_abort', ['content-type', 'application/grpc', 'grpc-status', String(fault.abortGrpcStatus), 'grpc-message', 'fault filter abort']);
    }
    this.localReply(fault.abortStatus, 'fault filter abort', 'FI', 'fault_filter_abort');
  }

  /** After routing (and any injected delay): answer directly, redirect, or forward to a cluster. */
  private dispatch(route: Route, authority: string, target: string, path: string, query: string): void {
    const info = this.info;
    const services = this.conn.ctx.services;
    const action = route.action;
    switch (action.kind) {
      case 'direct':
        return this.localReply(action.status, action.body, undefined, 'direct_response');
      case 'redirect':
        return this.localReply(action.code, undefined, undefined, 'via_upstream', ['location', redirectLocation(action, 'http', authority, path, query, route.path.kind === 'prefix' ? route.path.value : '')]);
      case 'cluster':
        break;
    }
    this.action = action;
    const clusterName = pickCluster(action, services.random());
    info.upstreamCluster = clusterName;
    const cluster = services.clusters.get(clusterName);
    if (!cluster) return this.localReply(503, undefined, 'NC', 'cluster_not_found');
    this.cluster = cluster;
    cluster.stats.rqTotal++;
    if (cluster.active >= cluster.config.maxRequests) {
      cluster.stats.overflow++;
      return this.localReply(503, 'upstream connect error or disconnect/reset before headers. reset reason: overflow', 'UO', 'upstream_reset_before_response_started{overflow}', OVERLOADED);
    }
    this.retry = action.retry ? new RetryState(action.retry) : undefined;
    if (action.hashPolicies.length > 0) this.hash = requestHash(action.hashPolicies, this.req.headers, query, this.conn.remoteIp);
    this.upstreamHead = this.buildUpstreamHead(action, authority, target, path, query);
    if (action.mirrors.length > 0) this.startMirrors(action.mirrors);
    // The request may have ended already (bodiless, or while a fault delay held it): the route timeout starts now.
    if (this.requestEnded && action.timeoutMs > 0) this.startGlobalTimer();
    this.attempt();
  }

  // ---- request head -------------------------------------------------------------------------------------------

  private buildUpstreamHead(action: Forward, authority: string, target: string, path: string, query: string): string {
    const ctx: RequestHeadContext = { req: this.req, route: this.route!, hcm: this.hcm!, tls: this.conn.tls, remoteIp: this.conn.remoteIp, ownSpiffe: this.conn.ctx.services.secrets?.current()?.spiffeId, info: this.info };
    return upstreamRequestHead(ctx, action, authority, target, path, query);
  }

  // ---- mirroring ---------------------------------------------------------------------------------------------

  private mirrors: Mirror[] | undefined;

  private startMirrors(policies: { cluster: string; fraction: number }[]): void {
    const services = this.conn.ctx.services;
    const head = this.upstreamHead;
    const at = head.indexOf('\r\nhost: ') + 8;
    const end = head.indexOf('\r\n', at);
    const host = head.slice(at, end);
    const colon = host.lastIndexOf(':');
    const shadow = colon > 0 && host.indexOf(']', colon) < 0 ? `${host.slice(0, colon)}-shadow${host.slice(colon)}` : `${host}-shadow`;
    const shadowHead = head.slice(0, at) + shadow + head.slice(end);
    for (const m of policies) {
      if (m.fraction < 1 && services.random() >= m.fraction) continue;
      const cluster = services.clusters.get(m.cluster);
      const h = cluster?.choose(performance.now(), services.random, undefined);
      const acquired = h && cluster ? acquireLink(h, cluster, 'http1') : undefined;
      if (!cluster || !h || !acquired) continue;
      const mirror = new Mirror(cluster, h, acquired.conn, this.req.method, shadowHead, this.req.body === 'chunked');
      if (this.replay) for (const c of this.replay) mirror.body(c);
      if (this.requestEnded) mirror.end(this.requestTrailers);
      (this.mirrors ??= []).push(mirror);
    }
  }

  // ---- upstream attempts ----------------------------------------------------------------------------------------

  private attempt(): void {
    const cluster = this.cluster!;
    const random = this.conn.ctx.services.random;
    const now = this.conn.parsing ? this.conn.lastActivity : performance.now();
    const host = this.retry ? this.retry.pickHost(cluster, random, this.destination, this.hash) : cluster.choose(now, random, this.destination, this.hash);
    if (!host) {
      cluster.stats.noHealthy++;
      return this.localReply(503, 'no healthy upstream', 'UH', 'no_healthy_upstream');
    }
    const acquired = acquireLink(host, cluster, this.req.upgrade ? 'upgrade' : 'http1');
    if (!acquired) return this.waitForConnection(cluster);
    this.host = host;
    this.info.upstreamHost = host.key;
    this.info.attempts++;
    host.active++;
    host.totalRequests++;
    cluster.active++;
    const conn = acquired.conn;
    this.upstream = conn;
    conn.attach(this, this.req.method);
    this.upstreamStart = now;
    const retry = this.retry;
    if (retry && retry.perTryTimeoutMs > 0) this.tryTimer = setTimeout(() => this.onTryTimeout(), retry.perTryTimeoutMs);
    const sock = conn.socket;
    const head = this.route!.includeAttemptCount ? withAttemptCount(this.upstreamHead, this.info.attempts) : this.upstreamHead;
    if (this.req.body === 'none') {
      writeSocket(sock, head); // one write: corking would only add work
      return;
    }
    if (this.conn.parsing && this.replayBytes === 0 && !this.requestEnded) {
      // The first body bytes are usually in the same read as the head: hold the head so that both leave in one
      // write (writeUpstreamBody), or alone when the read ends without body bytes (flushUpstreamHead).
      this.heldUpstreamHead = head;
      this.conn.flushAtReadEnd(this);
      this.releaseHeldBody();
      return;
    }
    sock.cork();
    sock.write(head, 'latin1');
    if (this.replay) for (const c of this.replay) this.writeUpstreamBody(c);
    if (this.requestEnded && this.req.body === 'chunked') sock.write(lastChunk(this.requestTrailers), 'latin1');
    sock.uncork();
    this.releaseHeldBody();
  }

  /** max_connections reached: wait as a pending request (bounded by max_pending_requests, else 503 UO). */
  private waitForConnection(cluster: Cluster): void {
    if (cluster.pending.length >= cluster.config.maxPendingRequests) {
      cluster.stats.overflow++;
      return this.localReply(503, 'upstream connect error or disconnect/reset before headers. reset reason: overflow', 'UO', 'upstream_reset_before_response_started{overflow}', OVERLOADED);
    }
    const waiter = (): void => {
      this.waiter = undefined;
      if (!this.done) this.attempt();
    };
    this.waiter = waiter;
    cluster.pending.push(waiter);
    // Slots held by idle connections to other hosts are given back, so this request can open its own.
    cluster.freeIdleSlot();
  }

  /** The upstream request head of a request with a body, held until the body bytes of the same read (see attempt). */
  private heldUpstreamHead: string | undefined;

  /** Write the upstream head if it is still held (the downstream read ended without body bytes). */
  flushUpstreamHead(): void {
    const head = this.heldUpstreamHead;
    if (head === undefined) return;
    this.heldUpstreamHead = undefined;
    if (this.upstream && !this.done) writeSocket(this.upstream.socket, head);
  }

  /** Leave the current attempt (the upstream connection is closed unless reusable). */
  private releaseUpstream(reusable: boolean): void {
    this.heldUpstreamHead = undefined;
    this.headThisRead = false;
    const up = this.upstream;
    if (!up) return;
    this.upstream = undefined;
    clearTimeout(this.tryTimer);
    this.host!.active--;
    this.cluster!.active--;
    if (up.socket.isPaused()) up.socket.resume();
    up.detach(reusable);
  }

  private writeUpstreamBody(chunk: Buffer): boolean {
    const sock = this.upstream!.socket;
    const head = this.heldUpstreamHead;
    if (head !== undefined) {
      this.heldUpstreamHead = undefined;
      if (chunk.length <= 16384) return writeSocket(sock, withHead(head, chunk, this.req.body === 'chunked'));
      writeSocket(sock, head);
    }
    if (this.req.body === 'chunked') {
      sock.write(chunkHeader(chunk.length), 'latin1');
      sock.write(chunk);
      return sock.write('\r\n', 'latin1');
    }
    return writeSocket(sock, chunk);
  }

  private canRetry(): boolean {
    return !this.responseStarted && (this.req.body === 'none' || (this.replay !== undefined && this.replayBytes <= RETRY_BUFFER_LIMIT));
  }

  /** Reading paused while body bytes past the replay limit wait for an attempt (see onDownstreamBody). */
  private holdingBody = false;

  /** An attempt took the kept body: drop a buffer past the limit, read again. */
  private releaseHeldBody(): void {
    if (this.replayBytes > RETRY_BUFFER_LIMIT) this.replay = undefined;
    if (this.holdingBody) {
      this.holdingBody = false;
      this.conn.socket.resume();
    }
  }

  /** Retry when the outcome is retriable (flag URX when out of retries, UO when max_retries is full); false: pass it on. */
  private maybeRetry(retry: RetryState, retriable: boolean): boolean {
    const d = retry.decide(retriable, this.canRetry(), this.cluster!, this.conn.ctx.services.random);
    if (d.kind === 'exhausted') this.info.addFlag('URX');
    else if (d.kind === 'overflow') this.info.addFlag('UO');
    if (d.kind !== 'retry') return false;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      retry.release();
      if (!this.done) this.attempt();
    }, d.delayMs);
    return true;
  }

  onUpstreamConnect(): void {
    // Writes were buffered by the socket while connecting; nothing to do.
  }

  onUpstreamHead(resp: ResponseHead): void {
    if (this.done) return;
    const now = performance.now();
    this.conn.lastActivity = now;
    this.headThisRead = true;
    if (resp.status < 200 && resp.status !== 101) {
      // Interim response (100 Continue …): pass it on and keep waiting for the final one.
      let s = `HTTP/1.1 ${resp.status} ${resp.reason || statusText(resp.status)}\r\n`;
      for (let i = 0; i < resp.headers.length; i += 2) s += `${resp.headers[i]}: ${resp.headers[i + 1]}\r\n`;
      this.conn.socket.write(s + '\r\n', 'latin1');
      return;
    }
    const host = this.host!;
    if (resp.status >= 500) {
      host.consecutive5xx++;
      host.totalErrors++;
      this.outlierCheck(host, resp.status);
    } else host.consecutive5xx = 0;
    const retry = this.retry;
    if (retry && this.maybeRetry(retry, retriableResponse(retry.policy, resp.status, resp.headers))) {
      this.releaseUpstream(false);
      return;
    }
    this.responseStarted = true;
    this.lastUpstreamKeepAlive = resp.keepAlive;
    this.info.status = resp.status;
    this.info.upstreamServiceTimeMs = Math.round(now - this.upstreamStart);
    this.info.details = 'via_upstream';
    this.writeResponseHead(resp);
    if (resp.status === 101) this.startTunnel();
  }

  private writeResponseHead(resp: ResponseHead): void {
    const upgrade = resp.status === 101;
    let s = responseHeadLines(resp, this.route!, this.hcm!, this.info.upstreamServiceTimeMs, this.extraResponseHeaders);
    if (upgrade) s += 'connection: upgrade\r\n';
    else {
      if (resp.body === 'chunked' || resp.body === 'close') {
        if (this.req.versionMinor === 1) {
          this.responseChunked = true;
          s += 'transfer-encoding: chunked\r\n';
        } else this.closeAfter = true;
      }
      if (this.conn.ctx.services.draining || !this.requestEndedOrEmpty()) this.closeAfter = true;
      if (this.closeAfter) s += 'connection: close\r\n';
      else if (this.req.versionMinor === 0) s += 'connection: keep-alive\r\n';
    }
    // Held until the first body bytes (or the end) so head and body leave in one write (one syscall).
    this.pendingHead = s + '\r\n';
    if (upgrade) this.flushHead();
  }

  private pendingHead: string | undefined;

  /** Write a response head still held back (called when an upstream read ends without body bytes). */
  flushHead(): void {
    const h = this.pendingHead;
    if (h === undefined) return;
    this.pendingHead = undefined;
    writeSocket(this.conn.socket, h);
  }

  private requestEndedOrEmpty(): boolean {
    return this.requestEnded || this.req.body === 'none';
  }

  /** The HCM's stream idle timeout for this request (ms, 0 = off). */
  get streamIdleTimeoutMs(): number {
    return this.hcm?.streamIdleTimeoutMs ?? 300_000;
  }

  /** No bytes either way for stream_idle_timeout: 408 if nothing was answered yet, else reset (flag SI). */
  onStreamIdleTimeout(): void {
    if (this.done) return;
    this.info.addFlag('SI');
    this.releaseUpstream(false);
    if (this.responseStarted) return this.finish(false, true);
    this.closeAfter = true;
    this.localReply(408, 'stream timeout', undefined, 'stream_idle_timeout');
  }

  onUpstreamBody(chunk: Buffer, borrowed?: boolean): void {
    if (this.done) return;
    // The head of this response came in this same read: its time stands.
    if (!this.headThisRead) this.conn.lastActivity = performance.now();
    if (!this.responseStarted) return;
    this.info.bytesSent += chunk.length;
    const sock = this.conn.socket;
    let ok: boolean;
    const head = this.pendingHead;
    if (head !== undefined && chunk.length <= 16384) {
      // Head and a small body in one buffer: one write, one syscall.
      this.pendingHead = undefined;
      ok = writeSocket(sock, withHead(head, chunk, this.responseChunked));
    } else {
      if (head !== undefined) this.flushHead();
      // A write the kernel does not take at once keeps the buffer: a view of a reused read buffer is copied first.
      if (borrowed) chunk = Buffer.from(chunk);
      if (this.responseChunked) {
        sock.cork();
        sock.write(chunkHeader(chunk.length), 'latin1');
        sock.write(chunk);
        ok = sock.write('\r\n', 'latin1');
        sock.uncork();
      } else ok = writeSocket(sock, chunk);
    }
    if (!ok && this.upstream) this.upstream.socket.pause();
  }

  onUpstreamEnd(trailers: string[] | undefined): void {
    if (this.done || !this.responseStarted) return;
    if (this.pendingHead !== undefined) {
      const tail = this.responseChunked ? (trailers ? lastChunk(trailers) : CHUNK_END) : '';
      this.pendingHead += tail;
      this.flushHead();
    } else if (this.responseChunked) this.conn.socket.write(trailers ? lastChunk(trailers) : CHUNK_END, 'latin1');
    const reusable = this.requestEndedOrEmpty() && this.upstream !== undefined && !this.upstream.closed && this.upstreamKeepAlive();
    this.releaseUpstream(reusable);
    this.finish(!this.closeAfter && this.requestEndedOrEmpty());
  }

  private upstreamKeepAlive(): boolean {
    // The upstream parser's last head decided keep-alive; a paused parser after a complete message means reusable.
    return this.upstream!.parser.isPaused && this.lastUpstreamKeepAlive;
  }

  private lastUpstreamKeepAlive = true;

  onUpstreamFailure(reason: UpstreamFailure, detail: string): void {
    if (this.done) return;
    const up = this.upstream;
    // A pooled connection the upstream closed while idle fails before any response byte: retry on another
    // connection (bounded by the pool size), for idempotent methods only since the upstream may have seen it.
    const stale = up !== undefined && up.requests > 1 && up.responseBytes === 0 && isIdempotent(this.req.method);
    this.upstream = undefined;
    if (up) {
      clearTimeout(this.tryTimer);
      this.host!.active--;
      this.cluster!.active--;
    }
    if (this.tunnelling) {
      this.finish(false);
      return;
    }
    if (!this.responseStarted && stale && (this.req.body === 'none' || this.replay !== undefined)) {
      // The pooled connection was closed by the upstream while idle: retry once on a fresh one (not a retry).
      this.info.attempts--;
      this.attempt();
      return;
    }
    const flag: ResponseFlag = reason === 'connect_failure' || reason === 'connect_timeout' ? 'UF' : reason === 'protocol_error' ? 'UPE' : 'UC';
    if (flag === 'UF') this.cluster!.stats.cxConnectFail++;
    if (this.host && flag !== 'UF') {
      this.host.consecutive5xx++;
      this.outlierCheck(this.host, 503);
    }
    if (this.retry && this.maybeRetry(this.retry, retriableReset(this.retry.policy, reason))) return;
    if (this.responseStarted) {
      // Mid-response: the downstream cannot be told with a status any more; reset it as Envoy does.
      this.info.addFlag('UC');
      this.info.details = 'upstream_reset_after_response_started{connection_termination}';
      this.flushHead();
      this.finish(false, true);
      return;
    }
    const why = flag === 'UF' ? `connection failure, transport failure reason: ${detail}` : flag === 'UPE' ? 'protocol error' : 'connection termination';
    const details = flag === 'UF' ? 'upstream_reset_before_response_started{connection_failure}' : flag === 'UPE' ? 'upstream_reset_before_response_started{protocol_error}' : 'upstream_reset_before_response_started{connection_termination}';
    this.localReply(flag === 'UPE' ? 502 : 503, `upstream connect error or disconnect/reset before headers. reset reason: ${why}`, flag, details);
  }

  /** onUpstreamHead ran during the current upstream read (cleared when the read is done). */
  private headThisRead = false;

  onUpstreamReadDone(): void {
    this.headThisRead = false;
    if (this.pendingHead !== undefined) this.flushHead();
  }

  onUpstreamDrain(): void {
    if (this.conn.socket.isPaused() && !this.done) this.conn.socket.resume();
  }

  onDownstreamDrain(): void {
    if (this.tunnelSocket?.isPaused()) this.tunnelSocket.resume();
    const up = this.upstream;
    if (up && up.socket.isPaused()) up.socket.resume();
  }

  private outlierCheck(host: Host, status: number): void {
    ejectIfOutlier(this.cluster!, host, status);
  }

  // ---- downstream events ---------------------------------------------------------------------------------------

  /** `borrowed`: the chunk is a view of a reused read buffer (copied here, since it may be kept or queued). */
  onDownstreamBody(chunk: Buffer, borrowed?: boolean): void {
    if (this.done) return;
    if (borrowed) chunk = Buffer.from(chunk);
    this.info.bytesReceived += chunk.length;
    if (this.tunnelSocket) {
      if (this.tunnelSeries) this.tunnelSeries.received += chunk.length;
      if (!this.tunnelSocket.write(chunk)) this.conn.socket.pause();
      return;
    }
    if (this.tunnelling) {
      if (this.upstream && !this.upstream.socket.write(chunk)) this.conn.socket.pause();
      return;
    }
    if (this.mirrors) for (const m of this.mirrors) m.body(chunk);
    if (this.replay !== undefined) {
      this.replayBytes += chunk.length;
      // Past the limit the buffer goes (no more retries), unless no attempt is in flight (waiting for a connection,
      // or a retry in backoff): then these bytes exist only here and are kept for the next attempt.
      if (this.replayBytes > RETRY_BUFFER_LIMIT && this.upstream) this.replay = undefined;
      else this.replay.push(chunk);
    }
    if (this.upstream) {
      if (!this.writeUpstreamBody(chunk)) this.conn.socket.pause();
    } else if (this.replayBytes > RETRY_BUFFER_LIMIT && !this.holdingBody) {
      // Stop reading until the attempt starts, so what is kept stays bounded.
      this.holdingBody = true;
      this.conn.socket.pause();
    }
  }

  onDownstreamEnd(trailers: string[] | undefined): void {
    if (this.done) return;
    this.requestEnded = true;
    this.requestTrailers = trailers;
    if (this.mirrors) for (const m of this.mirrors) m.end(trailers);
    if (this.req.body === 'chunked' && this.upstream) {
      this.flushUpstreamHead();
      this.upstream.socket.write(lastChunk(trailers), 'latin1');
    }
    if (this.action && this.action.timeoutMs > 0 && this.timer === undefined && !this.responseStarted) this.startGlobalTimer();
  }

  onDownstreamProtocolError(e: HeadError): void {
    // A malformed body (bad chunk) mid-request: stop forwarding; answer if nothing was sent yet, and close.
    this.info.addFlag('DPE');
    this.closeAfter = true;
    if (this.responseStarted) return this.finish(false, true);
    this.releaseUpstream(false);
    this.localReply(e.status, undefined, undefined, e.detail);
  }

  /** The client half-closed: an HTTP/1.1 client that sends FIN still reads the response. */
  onDownstreamEof(): void {
    this.closeAfter = true;
    this.tunnelSocket?.end();
    if (this.tunnelling) this.upstream?.socket.end();
  }

  /** The client went away before the response completed. */
  onDownstreamReset(): void {
    if (this.mirrors) for (const m of this.mirrors) m.abandon();
    if (this.done) return;
    this.info.addFlag('DC');
    this.info.details = 'downstream_remote_disconnect';
    this.releaseUpstream(false);
    this.finish(false, true);
  }

  abort(reason: string): void {
    if (this.done) return;
    this.info.details = reason;
    this.releaseUpstream(false);
    this.finish(false, true);
  }

  // ---- timeouts ------------------------------------------------------------------------------------------------

  private startGlobalTimer(): void {
    this.timer = setTimeout(() => this.onTimeout(), this.action!.timeoutMs);
  }

  private onTimeout(): void {
    if (this.done) return;
    this.cluster!.stats.rqTimeout++;
    this.releaseUpstream(false);
    clearTimeout(this.retryTimer);
    if (this.responseStarted) {
      this.info.addFlag('UT');
      return this.finish(false, true);
    }
    this.localReply(504, 'upstream request timeout', 'UT', 'upstream_response_timeout');
  }

  private onTryTimeout(): void {
    if (this.done || this.responseStarted) return;
    this.releaseUpstream(false);
    if (this.retry && this.maybeRetry(this.retry, retriableReset(this.retry.policy, 'per_try_timeout'))) return;
    this.cluster!.stats.rqTimeout++;
    this.localReply(504, 'upstream request timeout', 'UT', 'upstream_per_try_timeout');
  }

  // ---- upgrades ------------------------------------------------------------------------------------------------

  private startTunnel(): void {
    // An upgraded stream lives as long as its peers do; the route timeout covered only the handshake.
    clearTimeout(this.timer);
    this.tunnelling = true;
    const up = this.upstream!;
    const fromClient = this.conn.parser.tunnel();
    const fromServer = up.parser.tunnel();
    if (fromServer && fromServer.length > 0) this.onUpstreamBody(fromServer);
    if (fromClient && fromClient.length > 0) up.socket.write(fromClient);
    if (this.conn.socket.isPaused()) this.conn.socket.resume();
  }

  // ---- CONNECT (explicit proxy tunnels) -------------------------------------------------------------------------

  private tunnelSocket: net.Socket | undefined;
  /** The tunnel's Istio TCP series (istio_tcp_*), once the upstream connection is up. */
  private tunnelSeries: TcpSeries | undefined;

  /** `CONNECT host:port`: pick the cluster as a request to that authority would, then splice bytes both ways. */
  private startConnect(target: string): void {
    const info = this.info;
    const authority = target.toLowerCase();
    info.path = target;
    info.authority = authority;
    const colon = authority.lastIndexOf(':');
    const port = colon > 0 ? Number(authority.slice(colon + 1)) : NaN;
    if (!Number.isInteger(port) || port <= 0 || port > 65535) return this.localReply(400, undefined, 'DPE', 'http1.invalid_url');
    this.destination = authority;
    const services = this.conn.ctx.services;
    this.hcm = this.conn.hcmFor(port);
    const clusterName = connectCluster(services, this.hcm, authority, port);
    if (clusterName === undefined) return this.localReply(404, undefined, 'NR', 'route_not_found');
    info.upstreamCluster = clusterName;
    const cluster = services.clusters.get(clusterName);
    if (!cluster) return this.localReply(503, undefined, 'NC', 'cluster_not_found');
    this.cluster = cluster;
    const host = cluster.choose(performance.now(), services.random, authority);
    if (!host) return this.localReply(503, 'no healthy upstream', 'UH', 'no_healthy_upstream');
    this.host = host;
    info.upstreamHost = host.key;
    host.active++;
    cluster.active++;
    cluster.stats.rqTotal++;
    // TLS origination as the cluster says (ISTIO_MUTUAL to a peer sidecar's TCP port).
    const { socket: sock, readyEvent, timer } = connectHost(host, cluster.config.connectTimeoutMs);
    this.tunnelSocket = sock;
    this.upstreamStart = performance.now();
    sock.once(readyEvent, () => {
      clearTimeout(timer);
      if (this.done) return;
      this.tunnelling = true;
      this.responseStarted = true;
      info.status = 200;
      info.details = 'via_upstream';
      info.upstreamServiceTimeMs = Math.round(performance.now() - this.upstreamStart);
      this.conn.socket.write('HTTP/1.1 200 Connection established\r\n\r\n', 'latin1');
      // A tunnel is a TCP connection for Istio's TCP metrics, as tcp_proxy counts them (finish() counts the CONNECT too).
      const series = (this.tunnelSeries = services.metricScope(this.conn.ctx.direction, clusterName, cluster, host, this.conn.tls?.peer).tcp('-'));
      series.opened++;
      const held = this.conn.parser.tunnel();
      if (held && held.length > 0) {
        series.received += held.length;
        info.bytesReceived += held.length;
        sock.write(held);
      }
      if (this.conn.socket.isPaused()) this.conn.socket.resume();
    });
    sock.on('data', (d: Buffer) => {
      info.bytesSent += d.length;
      if (this.tunnelSeries) this.tunnelSeries.sent += d.length;
      if (!this.conn.socket.write(d)) sock.pause();
    });
    sock.on('drain', () => {
      if (this.conn.socket.isPaused()) this.conn.socket.resume();
    });
    sock.on('end', () => this.conn.socket.end());
    sock.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (this.done || this.responseStarted) return;
      this.tunnelSocket = undefined;
      host.active--;
      cluster.active--;
      cluster.stats.cxConnectFail++;
      this.closeAfter = true;
      this.localReply(503, `upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: ${e.code ?? e.message}`, 'UF', 'upstream_reset_before_response_started{connection_failure}');
    });
    sock.on('close', () => {
      if (!this.done && this.responseStarted) this.finish(false);
    });
  }

  // ---- completion ----------------------------------------------------------------------------------------------

  private localReply(status: number, body: string | Buffer | undefined, flag: ResponseFlag | undefined, details: string, extra?: string[]): void {
    if (this.done) return;
    if (flag) this.info.addFlag(flag);
    this.info.details = details;
    this.info.status = status;
    // If the request body is still arriving we cannot read the next request reliably: close after replying.
    if (!this.requestEndedOrEmpty() || this.conn.ctx.services.draining) this.closeAfter = true;
    this.releaseUpstream(false);
    this.info.bytesSent += writeLocalReply(this.conn.socket, status, body, this.closeAfter, extra, this.hcm?.serverName ?? 'envoy', this.req.method === 'HEAD');
    this.responseStarted = true;
    this.finish(!this.closeAfter);
  }

  private finish(keepAlive: boolean, reset = false): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    clearTimeout(this.tryTimer);
    clearTimeout(this.retryTimer);
    this.retry?.release();
    if (this.upstream) this.releaseUpstream(false);
    if (this.waiter) {
      const q = this.cluster!.pending;
      const i = q.indexOf(this.waiter);
      if (i >= 0) q.splice(i, 1);
      this.waiter = undefined;
    }
    if (this.tunnelSocket) {
      this.tunnelSocket.destroy();
      this.host!.active--;
      this.cluster!.active--;
      this.tunnelSocket = undefined;
    }
    if (this.tunnelSeries) this.tunnelSeries.closed++;
    const info = this.info;
    info.durationMs = performance.now() - info.startMono;
    const services = this.conn.ctx.services;
    const clusterName = info.upstreamCluster ?? '';
    services.metricScope(this.conn.ctx.direction, clusterName, this.cluster, this.host, this.conn.tls?.peer).record(info.status, info.flagString, info.durationMs, info.bytesReceived, info.bytesSent);
    services.accessLog?.log(info);
    info.span?.end(info);
    if (reset) {
      this.conn.socket.destroy();
      this.conn.streamDone(this, false);
      return;
    }
    this.conn.streamDone(this, keepAlive);
  }
}

/** A head and a body chunk (framed as a chunk when `chunked`) in one new buffer, for a single write. */
function withHead(head: string, chunk: Buffer, chunked: boolean): Buffer {
  const prefix = chunked ? head + chunkHeader(chunk.length) : head;
  const out = Buffer.allocUnsafe(prefix.length + chunk.length + (chunked ? 2 : 0));
  out.write(prefix, 0, 'latin1');
  chunk.copy(out, prefix.length);
  if (chunked) {
    out[prefix.length + chunk.length] = 13;
    out[prefix.length + chunk.length + 1] = 10;
  }
  return out;
}

function isIdempotent(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS' || method === 'PUT' || method === 'DELETE' || method === 'TRACE';
}
