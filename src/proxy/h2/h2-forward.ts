// An HTTP/2 stream forwarded to its cluster, attempt by attempt: each attempt takes an upstream link (a stream on
// a pooled HTTP/2 session, or a pooled HTTP/1.1 connection for HTTP/1.1 clusters, the request re-framed), and the
// response comes back through the same UpstreamHandler events, re-framed as HTTP/2 (headers, data, trailers;
// trailers-only gRPC responses stay trailers-only). Retries follow the route's retry_policy with Envoy's semantics
// (../router/retry.ts, as the HTTP/1.1 stream): the request body is kept for replay up to 64 KiB, per-try timeouts,
// jittered backoff, max_retries, x-envoy-attempt-count. Route timeout, mirrors (../hcm/mirror.ts) and outlier
// accounting as on the HTTP/1.1 path.
import type * as http2 from 'node:http2';
import { constants } from 'node:http2';
import type { Cluster } from '../cluster/cluster-manager.ts';
import type { Host } from '../cluster/host.ts';
import { ejectIfOutlier } from '../cluster/outlier.ts';
import type { UpstreamFailure, UpstreamHandler } from '../cluster/upstream-connection.ts';
import type { ResponseHead } from '../http1/head.ts';
import { chunkHeader, isHopByHop, lastChunk } from '../http1/serialize.ts';
import { writeSocket } from '../http1/socket-write.ts';
import { Mirror } from '../hcm/mirror.ts';
import type { ProxyServices } from '../hcm/services.ts';
import type { ResponseFlag, StreamInfo } from '../hcm/stream-info.ts';
import type { RouteAction } from '../router/route-action.ts';
import { RetryState, retriableReset, retriableResponse } from '../router/retry.ts';
import type { Route } from '../router/route-table.ts';
import { H2Exchange } from './h2-exchange.ts';
import { editH2Headers } from './header-edits.ts';
import { acquireLink, type UpstreamLink } from './upstream-link.ts';

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR } = constants;

/** Request bodies up to this size are kept for replay so the request can be retried (Envoy's buffer limit). */
const RETRY_BUFFER_LIMIT = 64 * 1024;

const OVERFLOW = 'upstream connect error or disconnect/reset before headers. reset reason: overflow';

export type Forward = Extract<RouteAction, { kind: 'cluster' }>;

/** A local reply in the stream's protocol (gRPC-aware); it records the stream's completion. */
export type LocalReply = (status: number, body: string, flag: ResponseFlag | undefined, details: string, extra?: Record<string, string>) => void;

/** What a routed HTTP/2 stream hands to the forwarder. */
export interface H2Request {
  stream: http2.ServerHttp2Stream;
  info: StreamInfo;
  services: ProxyServices;
  route: Route;
  action: Forward;
  cluster: Cluster;
  /** The upstream request headers, pseudo-headers included (built once; attempts add x-envoy-attempt-count). */
  headers: http2.OutgoingHttpHeaders;
  /** Load-balancer inputs: the authority as host:port (ORIGINAL_DST) and the consistent-hash key. */
  destination: string;
  hash: number | undefined;
  /** Headers a filter adds to the response (CORS), name/value pairs. */
  extraResponse: string[] | undefined;
  /** The routed stream: local replies, the completion record (metrics, access log), the host chosen (metric labels). */
  owner: StreamOwner;
}

export interface StreamOwner {
  local: LocalReply;
  finish(status: number): void;
  onHost(host: Host): void;
}

export class H2Forward implements UpstreamHandler {
  private readonly r: H2Request;
  private readonly method: string;
  private readonly retry: RetryState | undefined;
  /** Body bytes kept for replay (undefined once past the limit, or without a retry policy). */
  private replay: Buffer[] | undefined;
  private replayBytes = 0;
  /** Body bytes that arrived while no attempt was in flight (waiting for a connection): sent by the next attempt. */
  private held: Buffer[] | undefined;
  private requestEnded: boolean;
  /** HTTP/1.1 upstreams: how the body is framed (content-length kept, else chunked). */
  private readonly h1Framing: 'none' | 'length' | 'chunked';
  private link: UpstreamLink | undefined;
  private host: Host | undefined;
  private responseStarted = false;
  private responseKeepAlive = true;
  private status = 0;
  private trailers: http2.OutgoingHttpHeaders | undefined;
  /**
   * The response head, held until the end of the upstream read that carried it: a response that arrives whole
   * (the common small one) leaves as one respond() + end(body), without an empty END_STREAM DATA frame or a
   * trailers round; one that spans reads is flushed with its first chunks at the end of the read.
   */
  private pendingHead: http2.OutgoingHttpHeaders | undefined;
  private pendingBody: Buffer[] | undefined;
  /** The response may end with trailers (HTTP/2 upstream, chunked HTTP/1.1): respond() with waitForTrailers. */
  private trailersPossible = false;
  private drainListening = false;
  private done = false;
  private upstreamStart = 0;
  private timer: NodeJS.Timeout | undefined;
  private tryTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private waiter: (() => void) | undefined;
  private mirrors: Mirror[] | undefined;

  constructor(r: H2Request) {
    this.r = r;
    this.method = String(r.headers[':method'] ?? 'GET');
    this.retry = r.action.retry && r.action.retry.numRetries > 0 ? new RetryState(r.action.retry) : undefined;
    const s = r.stream;
    this.requestEnded = s.endAfterHeaders || s.readableEnded;
    const bodyless = this.requestEnded || (r.headers['content-length'] === undefined && (this.method === 'GET' || this.method === 'HEAD'));
    this.h1Framing = bodyless ? 'none' : r.headers['content-length'] !== undefined ? 'length' : 'chunked';
    if (this.retry && !bodyless) this.replay = [];
  }

  start(): void {
    const { stream, action, cluster } = this.r;
    if (cluster.active >= cluster.config.maxRequests) {
      cluster.stats.overflow++;
      return this.reply(503, OVERFLOW, 'UO', 'upstream_reset_before_response_started{overflow}', { 'x-envoy-overloaded': 'true' });
    }
    // Listeners only for what can happen: a request that ended with its headers has no body to read; 'drain' and
    // 'wantTrailers' are added when a write first returns false or a response may carry trailers. The stream's
    // 'close' reaches onDownstreamClose() through its owner (h2-connection.ts listens once per stream).
    if (!this.requestEnded) {
      stream.on('data', (d: Buffer) => this.onRequestBody(d));
      stream.on('end', () => this.onRequestEnd());
    }
    if (action.mirrors.length > 0) this.startMirrors();
    // The route timeout runs from the end of the request (Envoy), so a client stream may take its time.
    if (this.requestEnded) this.startTimer();
    this.attempt();
  }

  // ---- attempts ----------------------------------------------------------------------------------------------

  private attempt(): void {
    const { cluster, services, info } = this.r;
    const host = this.retry ? this.retry.pickHost(cluster, services.random, this.r.destination, this.r.hash) : cluster.choose(performance.now(), services.random, this.r.destination, this.r.hash);
    if (!host) {
      cluster.stats.noHealthy++;
      return this.reply(503, 'no healthy upstream', 'UH', 'no_healthy_upstream');
    }
    const acquired = acquireLink(host, cluster, 'http2');
    if (!acquired) return this.waitForConnection();
    this.host = host;
    this.r.owner.onHost(host);
    info.upstreamHost = host.key;
    info.attempts++;
    host.active++;
    host.totalRequests++;
    cluster.active++;
    const link = acquired.conn;
    this.link = link;
    link.attach(this, this.method);
    this.upstreamStart = performance.now();
    const perTry = this.retry?.perTryTimeoutMs ?? 0;
    if (perTry > 0) this.tryTimer = setTimeout(() => this.onTryTimeout(), perTry);
    const headers = this.r.route.includeAttemptCount ? { ...this.r.headers, 'x-envoy-attempt-count': String(info.attempts) } : this.r.headers;
    const replay = this.replay ?? this.held ?? [];
    this.held = undefined;
    // A buffer that outgrew the limit while no attempt was in flight is sent once, then dropped (no more retries).
    if (this.replayBytes > RETRY_BUFFER_LIMIT) this.replay = undefined;
    if (this.r.stream.isPaused()) this.r.stream.resume();
    if (link instanceof H2Exchange) {
      link.request(headers, this.requestEnded && replay.length === 0);
      for (const c of replay) link.writeBody(c);
      if (this.requestEnded && replay.length > 0) link.endBody();
      return;
    }
    const sock = link.socket;
    if (replay.length === 0 && this.h1Framing !== 'chunked') {
      writeSocket(sock, h1Head(headers, this.h1Framing)); // one write, to the handle when idle (no Writable)
      return;
    }
    sock.cork();
    sock.write(h1Head(headers, this.h1Framing), 'latin1');
    for (const c of replay) this.writeH1Body(c);
    if (this.requestEnded && this.h1Framing === 'chunked') sock.write(lastChunk(undefined), 'latin1');
    sock.uncork();
  }

  /** max_connections reached: wait as a pending request (bounded by max_pending_requests, else 503 UO). */
  private waitForConnection(): void {
    const cluster = this.r.cluster;
    if (cluster.pending.length >= cluster.config.maxPendingRequests) {
      cluster.stats.overflow++;
      return this.reply(503, OVERFLOW, 'UO', 'upstream_reset_before_response_started{overflow}', { 'x-envoy-overloaded': 'true' });
    }
    const waiter = (): void => {
      this.waiter = undefined;
      if (!this.done) this.attempt();
    };
    this.waiter = waiter;
    cluster.pending.push(waiter);
    cluster.freeIdleSlot();
  }

  private writeH1Body(chunk: Buffer): boolean {
    const sock = this.link!.socket;
    if (this.h1Framing !== 'chunked') return sock.write(chunk);
    sock.write(chunkHeader(chunk.length), 'latin1');
    sock.write(chunk);
    return sock.write('\r\n', 'latin1');
  }

  /** Leave the current attempt (an HTTP/1.1 connection goes back to the pool when reusable). */
  private releaseLink(reusable: boolean): void {
    const up = this.link;
    if (!up) return;
    this.link = undefined;
    clearTimeout(this.tryTimer);
    this.host!.active--;
    this.r.cluster.active--;
    if (up.socket.isPaused()) up.socket.resume();
    up.detach(reusable);
  }

  private canReplay(): boolean {
    return !this.responseStarted && (this.h1Framing === 'none' || (this.replay !== undefined && this.replayBytes <= RETRY_BUFFER_LIMIT));
  }

  /** Retry when the outcome is retriable (URX when out of retries, UO when max_retries is full); false: pass it on. */
  private maybeRetry(retriable: (r: RetryState) => boolean): boolean {
    const retry = this.retry;
    if (!retry) return false;
    const d = retry.decide(retriable(retry), this.canReplay(), this.r.cluster, this.r.services.random);
    if (d.kind === 'exhausted') this.r.info.addFlag('URX');
    else if (d.kind === 'overflow') this.r.info.addFlag('UO');
    if (d.kind !== 'retry') return false;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      retry.release();
      if (!this.done) this.attempt();
    }, d.delayMs);
    return true;
  }

  // ---- request body --------------------------------------------------------------------------------------------

  private onRequestBody(d: Buffer): void {
    if (this.done) return;
    this.r.info.bytesReceived += d.length;
    if (this.mirrors) for (const m of this.mirrors) m.body(d);
    const up = this.link;
    if (this.replay !== undefined) {
      this.replayBytes += d.length;
      // Past the limit the buffer goes (no more retries), unless no attempt is in flight (waiting for a connection,
      // or a retry in backoff): then these bytes exist only here and are kept for the next attempt.
      if (this.replayBytes > RETRY_BUFFER_LIMIT && up) this.replay = undefined;
      else this.replay.push(d);
    } else if (!up) (this.held ??= []).push(d);
    if (!up) {
      // No attempt in flight: stop reading until one starts, so what is kept stays bounded.
      this.r.stream.pause();
      return;
    }
    const ok = up instanceof H2Exchange ? up.writeBody(d) : this.writeH1Body(d);
    if (!ok) this.r.stream.pause();
  }

  private onRequestEnd(): void {
    if (this.requestEnded) return; // ended with the headers: handled when the stream started
    this.requestEnded = true;
    if (this.mirrors) for (const m of this.mirrors) m.end(undefined);
    if (this.done) return;
    const up = this.link;
    if (up instanceof H2Exchange) up.endBody();
    else if (up && this.h1Framing === 'chunked') up.socket.write(lastChunk(undefined), 'latin1');
    if (this.timer === undefined && !this.responseStarted) this.startTimer();
  }

  onUpstreamDrain(): void {
    if (this.r.stream.isPaused() && !this.done) this.r.stream.resume();
  }

  // ---- response --------------------------------------------------------------------------------------------------

  onUpstreamConnect(): void {}

  onUpstreamHead(resp: ResponseHead): void {
    if (this.done || resp.status < 200) return;
    const { cluster, info, route } = this.r;
    const host = this.host!;
    if (resp.status >= 500) {
      host.consecutive5xx++;
      host.totalErrors++;
      ejectIfOutlier(cluster, host, resp.status);
    } else host.consecutive5xx = 0;
    if (this.maybeRetry((r) => retriableResponse(r.policy, resp.status, resp.headers))) return this.releaseLink(false);
    this.responseStarted = true;
    this.responseKeepAlive = resp.keepAlive;
    this.status = resp.status;
    info.status = resp.status;
    info.upstreamServiceTimeMs = Math.round(performance.now() - this.upstreamStart);
    info.details = 'via_upstream';
    const h: http2.OutgoingHttpHeaders = { ':status': resp.status };
    addFlat(h, resp.headers);
    h['x-envoy-upstream-service-time'] = String(info.upstreamServiceTimeMs);
    editH2Headers(h, route.responseHeaders);
    if (this.r.extraResponse) addFlat(h, this.r.extraResponse);
    this.trailersPossible = resp.body === 'chunked' || this.link instanceof H2Exchange;
    this.pendingHead = h;
  }

  onUpstreamBody(chunk: Buffer): void {
    if (this.done || !this.responseStarted) return;
    this.r.info.bytesSent += chunk.length;
    if (this.pendingHead !== undefined) {
      (this.pendingBody ??= []).push(chunk);
      return;
    }
    this.writeDown(chunk);
  }

  private writeDown(chunk: Buffer): void {
    const s = this.r.stream;
    if (s.destroyed || s.write(chunk)) return;
    this.link?.socket.pause();
    if (this.drainListening) return;
    this.drainListening = true;
    s.on('drain', () => {
      const up = this.link;
      if (up && up.socket.isPaused()) up.socket.resume();
    });
  }

  /** The read that carried the head is done and the response goes on: send the head and what came with it. */
  onUpstreamReadDone(): void {
    const h = this.pendingHead;
    if (h === undefined || this.done) return;
    this.pendingHead = undefined;
    const s = this.r.stream;
    if (s.destroyed) return;
    if (this.trailersPossible) this.respondWithTrailers(h);
    else s.respond(h);
    const body = this.pendingBody;
    this.pendingBody = undefined;
    if (body) for (const c of body) this.writeDown(c);
  }

  private respondWithTrailers(h: http2.OutgoingHttpHeaders): void {
    const s = this.r.stream;
    s.on('wantTrailers', () => s.sendTrailers(this.trailers ?? {}));
    s.respond(h, { waitForTrailers: true });
  }

  onUpstreamEnd(trailers: string[] | undefined): void {
    if (this.done || !this.responseStarted) return;
    const hasTrailers = trailers !== undefined && trailers.length > 0;
    if (hasTrailers) {
      const t: http2.OutgoingHttpHeaders = {};
      addFlat(t, trailers);
      this.trailers = t;
    }
    const up = this.link;
    this.releaseLink(this.requestEnded && up !== undefined && !up.closed && up.parser.isPaused && this.responseKeepAlive);
    const s = this.r.stream;
    const h = this.pendingHead;
    if (h !== undefined) {
      // The whole response is here: one HEADERS frame (END_STREAM when bodiless: a trailers-only gRPC error stays
      // trailers-only), or HEADERS + DATA with END_STREAM, or with trailers HEADERS + DATA + trailing HEADERS.
      this.pendingHead = undefined;
      const body = this.pendingBody;
      this.pendingBody = undefined;
      if (!s.destroyed) {
        if (hasTrailers) {
          this.respondWithTrailers(h);
          if (body) for (const c of body) s.write(c);
          s.end();
        } else if (body === undefined) s.respond(h, { endStream: true });
        else {
          s.respond(h);
          s.end(body.length === 1 ? body[0] : Buffer.concat(body));
        }
      }
    } else if (!s.destroyed && !s.writableEnded) s.end();
    this.complete(this.status);
  }

  onUpstreamFailure(reason: UpstreamFailure, detail: string): void {
    if (this.done) return;
    const { cluster, info } = this.r;
    const up = this.link;
    this.link = undefined;
    if (up) {
      clearTimeout(this.tryTimer);
      this.host!.active--;
      cluster.active--;
    }
    const uf = reason === 'connect_failure' || reason === 'connect_timeout';
    if (uf) cluster.stats.cxConnectFail++;
    else if (this.host) {
      this.host.consecutive5xx++;
      ejectIfOutlier(cluster, this.host, 503);
    }
    if (this.maybeRetry((r) => retriableReset(r.policy, reason))) return;
    if (this.responseStarted) {
      // Mid-response: reset the downstream stream, as Envoy does.
      info.addFlag('UC');
      info.details = 'upstream_reset_after_response_started{connection_termination}';
      if (!this.r.stream.destroyed) this.r.stream.close(NGHTTP2_INTERNAL_ERROR);
      return this.complete(this.status);
    }
    if (uf) return this.reply(503, `upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: ${detail}`, 'UF', 'upstream_reset_before_response_started{connection_failure}');
    if (reason === 'protocol_error') return this.reply(502, 'upstream connect error or disconnect/reset before headers. reset reason: protocol error', 'UPE', 'upstream_reset_before_response_started{protocol_error}');
    if (reason === 'refused_stream') return this.reply(503, 'upstream connect error or disconnect/reset before headers. reset reason: remote refused stream reset', 'UC', 'upstream_reset_before_response_started{remote_refused_stream_reset}');
    this.reply(503, 'upstream connect error or disconnect/reset before headers. reset reason: connection termination', 'UC', 'upstream_reset_before_response_started{connection_termination}');
  }

  // ---- timeouts ------------------------------------------------------------------------------------------------

  private startTimer(): void {
    const ms = this.r.action.timeoutMs;
    if (ms > 0) this.timer = setTimeout(() => this.onTimeout(), ms);
  }

  private onTimeout(): void {
    if (this.done) return;
    this.r.cluster.stats.rqTimeout++;
    this.releaseLink(false);
    if (this.responseStarted) {
      this.r.info.addFlag('UT');
      if (!this.r.stream.destroyed) this.r.stream.close(NGHTTP2_CANCEL);
      return this.complete(this.status);
    }
    this.reply(504, 'upstream request timeout', 'UT', 'upstream_response_timeout');
  }

  private onTryTimeout(): void {
    if (this.done || this.responseStarted) return;
    this.releaseLink(false);
    if (this.maybeRetry((r) => retriableReset(r.policy, 'per_try_timeout'))) return;
    this.r.cluster.stats.rqTimeout++;
    this.reply(504, 'upstream request timeout', 'UT', 'upstream_per_try_timeout');
  }

  // ---- mirrors ---------------------------------------------------------------------------------------------------

  private startMirrors(): void {
    const { services, action, headers } = this.r;
    const authority = String(headers[':authority'] ?? '');
    const colon = authority.lastIndexOf(':');
    const shadow = colon > 0 && authority.indexOf(']', colon) < 0 ? `${authority.slice(0, colon)}-shadow${authority.slice(colon)}` : `${authority}-shadow`;
    const framing = this.h1Framing;
    const head = h1Head({ ...headers, ':authority': shadow }, framing);
    for (const m of action.mirrors) {
      if (m.fraction < 1 && services.random() >= m.fraction) continue;
      const cluster = services.clusters.get(m.cluster);
      const h = cluster?.choose(performance.now(), services.random, undefined);
      const acquired = h && cluster ? acquireLink(h, cluster, 'http2') : undefined;
      if (!cluster || !h || !acquired) continue;
      const mirror = new Mirror(cluster, h, acquired.conn, this.method, head, framing === 'chunked');
      if (this.requestEnded || framing === 'none') mirror.end(undefined);
      (this.mirrors ??= []).push(mirror);
    }
  }

  // ---- completion ----------------------------------------------------------------------------------------------

  /** The downstream stream closed (reset by the client, or done). */
  onDownstreamClose(): void {
    if (this.done) return;
    if (this.mirrors) for (const m of this.mirrors) m.abandon();
    this.r.info.addFlag('DC');
    this.r.info.details = 'downstream_remote_disconnect';
    this.releaseLink(false);
    this.complete(this.status);
  }

  private reply(status: number, body: string, flag: ResponseFlag | undefined, details: string, extra?: Record<string, string>): void {
    if (this.done) return;
    this.cleanup();
    this.r.owner.local(status, body, flag, details, extra);
  }

  private complete(status: number): void {
    if (this.done) return;
    this.cleanup();
    this.r.owner.finish(status);
  }

  private cleanup(): void {
    this.done = true;
    clearTimeout(this.timer);
    clearTimeout(this.tryTimer);
    clearTimeout(this.retryTimer);
    this.retry?.release();
    this.releaseLink(false);
    if (this.waiter) {
      const q = this.r.cluster.pending;
      const i = q.indexOf(this.waiter);
      if (i >= 0) q.splice(i, 1);
      this.waiter = undefined;
    }
  }
}

/** Add flat name/value pairs to an HTTP/2 header object (hop-by-hop dropped; repeats joined, set-cookie kept apart). */
function addFlat(h: http2.OutgoingHttpHeaders, flat: readonly string[]): void {
  for (let i = 0; i < flat.length; i += 2) {
    const k = flat[i]!;
    if (isHopByHop(k) || k === 'host') continue;
    const v = flat[i + 1]!;
    const prev = h[k];
    if (prev === undefined) h[k] = v;
    else if (k === 'set-cookie') h[k] = Array.isArray(prev) ? [...prev, v] : [String(prev), v];
    else h[k] = `${Array.isArray(prev) ? prev.join(', ') : String(prev)}, ${v}`;
  }
}

/** The HTTP/1.1 request head for HTTP/2 request headers (ends with the blank line). */
export function h1Head(h: http2.OutgoingHttpHeaders, framing: 'none' | 'length' | 'chunked'): string {
  let s = `${String(h[':method'])} ${String(h[':path'])} HTTP/1.1\r\nhost: ${String(h[':authority'])}\r\n`;
  for (const k in h) {
    const v = h[k];
    if (k.charCodeAt(0) === 58 /* : */ || v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) s += `${k}: ${x}\r\n`;
    else s += `${k}: ${String(v)}\r\n`;
  }
  if (framing === 'chunked') s += 'transfer-encoding: chunked\r\n';
  return s + '\r\n';
}
