// One request/response on a pooled upstream HTTP/2 session, delivering the response through the same
// UpstreamHandler events an HTTP/1.1 connection delivers (head as a ResponseHead, body slices, trailers, failures
// with Envoy's reset reasons), so the HTTP/1.1 stream, the mirror and the HTTP/2 stream drive either alike.
// Two ways in: structured (request(headers) / writeBody / endBody, for HTTP/2 downstreams) or bytes — the HTTP/1.1
// request head and body framing an HTTP/1.1 connection would receive, parsed back by the HTTP/1.1 parser and sent
// as HTTP/2 (h2UpgradePolicy: an HTTP/1.1 client's request to an HTTP/2 cluster).
import * as http2 from 'node:http2';
import type { UpstreamFailure, UpstreamHandler } from '../cluster/upstream-connection.ts';
import type { BodyFraming, HeadError, MessageHead, ResponseHead } from '../http1/head.ts';
import { Http1Parser, type ParserEvents } from '../http1/parser.ts';
import { isHopByHop, statusText } from '../http1/serialize.ts';
import type { PooledSession } from './h2-pool.ts';
import type { LinkSocket, UpstreamLink } from './upstream-link.ts';

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_FLAG_END_STREAM } = http2.constants;

export class H2Exchange implements UpstreamLink, ParserEvents {
  private readonly ps: PooledSession | undefined;
  /** Set for an exchange that cannot start (no certificate for TLS): attach() reports it as a connect failure. */
  private readonly unusable: string | undefined;
  private handler: UpstreamHandler | undefined;
  private method = 'GET';
  private stream: http2.ClientHttp2Stream | undefined;
  private requestParser: Http1Parser | undefined;
  private lastWrite = true;
  /** Byte mode: trailers go back only when the client said `TE: trailers` (chunked trailers need it). */
  private passTrailers = true;
  private responded = false;
  private trailers: string[] | undefined;
  private error: NodeJS.ErrnoException | undefined;
  private over = false;
  private drainListening = false;
  private slotHeld: boolean;
  readonly requests = 1;
  responseBytes = 0;
  readonly socket: LinkSocket;

  constructor(ps: PooledSession | undefined, unusable?: string) {
    this.ps = ps;
    this.unusable = unusable;
    this.slotHeld = ps !== undefined;
    ps?.opened();
    this.socket = new ExchangeSocket(this);
  }

  // ---- UpstreamLink ------------------------------------------------------------------------------------------------

  get closed(): boolean {
    return this.over;
  }

  /** HTTP/1.1 connection reuse does not apply: an exchange is one stream. */
  readonly parser = { isPaused: true, tunnel: (): Buffer | undefined => undefined };

  attach(handler: UpstreamHandler, method: string): void {
    this.handler = handler;
    this.method = method;
    if (this.unusable !== undefined) {
      const detail = this.unusable;
      setImmediate(() => this.fail('connect_failure', detail));
    }
  }

  detach(): void {
    this.handler = undefined;
    this.over = true;
    const s = this.stream;
    // A stream whose response ended and whose request was sent whole closes by itself: cancelling it would send
    // RST_STREAM for every completed exchange (it is detached from its 'end', before node:http2's 'close').
    if (s && !s.closed && !s.destroyed && !(s.readableEnded && s.writableEnded)) s.close(NGHTTP2_CANCEL);
    if (!s) this.releaseSlot();
  }

  // ---- structured requests -------------------------------------------------------------------------------------

  /** Open the stream with these headers (pseudo-headers included). */
  request(headers: http2.OutgoingHttpHeaders, endStream: boolean): void {
    const ps = this.ps;
    if (!ps || this.over) return;
    let s: http2.ClientHttp2Stream;
    try {
      s = ps.session.request(headerArray(headers) as unknown as http2.OutgoingHttpHeaders, { endStream });
    } catch (e) {
      // The session closed (GOAWAY) between the pool's check and now: the stream was never sent.
      const detail = e instanceof Error ? e.message : String(e);
      setImmediate(() => this.fail('refused_stream', detail));
      return;
    }
    this.stream = s;
    // Shared listeners (no closures per stream): each finds its exchange through the stream.
    (s as Tagged)[EXCHANGE] = this;
    s.on('response', H2Exchange.onResponseEvent);
    s.on('headers', H2Exchange.onHeadersEvent);
    s.on('continue', H2Exchange.onContinueEvent);
    s.on('trailers', H2Exchange.onTrailersEvent);
    s.on('data', H2Exchange.onDataEvent);
    s.on('end', H2Exchange.onEndEvent);
    s.on('error', H2Exchange.onErrorEvent);
    s.on('close', H2Exchange.onCloseEvent);
  }

  private static onResponseEvent(this: Tagged, h: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, flags: number): void {
    this[EXCHANGE].onResponse(h, flags);
  }

  private static onHeadersEvent(this: Tagged, h: http2.IncomingHttpHeaders): void {
    this[EXCHANGE].onInterim(Number(h[':status'] ?? 0), flatten(h));
  }

  private static onContinueEvent(this: Tagged): void {
    this[EXCHANGE].onInterim(100, []);
  }

  private static onTrailersEvent(this: Tagged, t: http2.IncomingHttpHeaders): void {
    this[EXCHANGE].trailers = flatten(t);
  }

  private static onDataEvent(this: Tagged, d: Buffer): void {
    const ex = this[EXCHANGE];
    ex.responseBytes += d.length;
    ex.handler?.onUpstreamBody(d);
  }

  private static onDrainEvent(this: Tagged): void {
    this[EXCHANGE].handler?.onUpstreamDrain();
  }

  private static onEndEvent(this: Tagged): void {
    this[EXCHANGE].onResponseEnd();
  }

  private static onErrorEvent(this: Tagged, e: NodeJS.ErrnoException): void {
    this[EXCHANGE].error = e;
  }

  private static onCloseEvent(this: Tagged): void {
    const ex = this[EXCHANGE];
    ex.releaseSlot();
    if (!ex.over) ex.onReset(this.rstCode);
  }

  writeBody(chunk: Buffer): boolean {
    const s = this.stream;
    if (!s || s.destroyed || s.writableEnded) return true;
    this.lastWrite = s.write(chunk);
    if (!this.lastWrite && !this.drainListening) {
      this.drainListening = true;
      s.on('drain', H2Exchange.onDrainEvent);
    }
    return this.lastWrite;
  }

  endBody(): void {
    const s = this.stream;
    if (s && !s.destroyed && !s.writableEnded) s.end();
  }

  // ---- byte mode: HTTP/1.1 framing in, HTTP/2 out ------------------------------------------------------------------

  writeBytes(data: Buffer): boolean {
    if (this.over || this.unusable !== undefined) return true;
    this.requestParser ??= new Http1Parser('request', this);
    this.lastWrite = true;
    this.requestParser.execute(data);
    return this.lastWrite;
  }

  onHead(head: MessageHead): void {
    if (head.kind !== 'request') return;
    const h: http2.OutgoingHttpHeaders = { ':method': head.method, ':path': head.target, ':authority': head.host, ':scheme': this.ps?.pool.host.tls ? 'https' : 'http' };
    this.passTrailers = false;
    const hs = head.headers;
    for (let i = 0; i < hs.length; i += 2) {
      const k = hs[i]!;
      const v = hs[i + 1]!;
      if (k === 'host' || k === 'transfer-encoding' || k === 'http2-settings') continue;
      if (isHopByHop(k)) {
        if (k !== 'te' || v.toLowerCase() !== 'trailers') continue;
        this.passTrailers = true;
      }
      const prev = h[k];
      h[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [String(prev), v];
    }
    this.request(h, head.body === 'none');
  }

  onBody(chunk: Buffer): void {
    // The parser's slice is a view of the caller's buffer, which the caller no longer touches after write().
    this.writeBody(chunk);
  }

  onEnd(): void {
    // Request trailers (rare on HTTP/1.1) are not carried over: HTTP/2 would need them announced before the body.
    this.endBody();
  }

  onError(e: HeadError): void {
    this.fail('protocol_error', e.detail);
  }

  // ---- response --------------------------------------------------------------------------------------------------

  private onInterim(status: number, headers: string[]): void {
    if (status < 100 || status >= 200 || status === 101) return;
    this.handler?.onUpstreamHead(responseHead(status, headers, 'none', 0));
  }

  private onResponse(h: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, flags: number): void {
    if (this.over) return;
    this.responded = true;
    const status = Number(h[':status'] ?? 502);
    const flat = flatten(h);
    const cl = h['content-length'];
    const endStream = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    let body: BodyFraming;
    let length = 0;
    if (endStream || this.method === 'HEAD' || status === 204 || status === 304) {
      body = 'none';
      // A bodiless response (a gRPC trailers-only error …) still needs its length for an HTTP/1.1 client.
      // (HTTP/2 clients get it as it came: one HEADERS frame.)
      if (this.requestParser && cl === undefined && this.method !== 'HEAD' && status !== 204 && status !== 304) flat.push('content-length', '0');
    } else if (cl !== undefined && /^\d+$/.test(cl)) {
      body = 'length';
      length = Number(cl);
    } else body = 'chunked';
    this.handler?.onUpstreamHead(responseHead(status, flat, body, length));
    // The head is held for coalescing with the first body bytes; flush it if none come in this turn.
    setImmediate(readDone, this);
  }

  /** The turn that delivered the response head is over (see onResponse). */
  flushReadDone(): void {
    this.handler?.onUpstreamReadDone();
  }

  private onResponseEnd(): void {
    if (this.over || !this.responded) return;
    this.over = true;
    const h = this.handler;
    this.handler = undefined;
    h?.onUpstreamEnd(this.passTrailers ? this.trailers : undefined);
  }

  private onReset(rstCode: number | undefined): void {
    const ps = this.ps;
    const e = this.error;
    const cause = (e?.cause as NodeJS.ErrnoException | undefined)?.code;
    if (ps && !ps.connected) return this.fail(ps.timedOut ? 'connect_timeout' : 'connect_failure', ps.failure ?? cause ?? e?.code ?? 'connection failure');
    if (rstCode === NGHTTP2_REFUSED_STREAM && !this.responded) return this.fail('refused_stream', 'remote refused stream reset');
    this.fail('connection_termination', e?.code ?? (rstCode !== undefined ? `stream reset (code ${rstCode})` : 'connection closed'));
  }

  private fail(reason: UpstreamFailure, detail: string): void {
    if (this.over) return;
    this.over = true;
    const h = this.handler;
    this.handler = undefined;
    const s = this.stream;
    if (s && !s.destroyed) s.close(NGHTTP2_CANCEL);
    if (!s) this.releaseSlot();
    h?.onUpstreamFailure(reason, detail);
  }

  private releaseSlot(): void {
    if (!this.slotHeld) return;
    this.slotHeld = false;
    this.ps?.closed();
  }

  // ---- flow control (byte mode's socket) --------------------------------------------------------------------------

  pauseResponse(): void {
    this.stream?.pause();
  }

  resumeResponse(): void {
    this.stream?.resume();
  }

  get responsePaused(): boolean {
    return this.stream?.isPaused() ?? false;
  }

  get queued(): number {
    return this.stream?.writableLength ?? 0;
  }
}

/**
 * The headers as a flat name/value array (pseudo-headers first, as they were inserted), the form node:http2 (Node
 * >= 24) takes without copying the object and deleting its pseudo-headers: about 1.5–2 µs less CPU per proxied
 * stream (bench/proxy/RESULTS.md, "HTTP/2 CPU, session 3").
 */
function headerArray(h: http2.OutgoingHttpHeaders): string[] {
  const a: string[] = [];
  for (const k in h) {
    const v = h[k];
    if (v === undefined) continue;
    if (typeof v === 'string') a.push(k, v);
    else if (Array.isArray(v)) for (const x of v) a.push(k, x);
    else a.push(k, String(v));
  }
  return a;
}

const EXCHANGE = Symbol('h2Exchange');
type Tagged = http2.ClientHttp2Stream & { [EXCHANGE]: H2Exchange };

function readDone(ex: H2Exchange): void {
  ex.flushReadDone();
}

/** What an HTTP/1.1 writer sees in place of the connection's socket. */
class ExchangeSocket implements LinkSocket {
  private readonly ex: H2Exchange;

  constructor(ex: H2Exchange) {
    this.ex = ex;
  }

  write(data: string | Uint8Array, encoding?: BufferEncoding): boolean {
    return this.ex.writeBytes(typeof data === 'string' ? Buffer.from(data, encoding ?? 'utf8') : Buffer.isBuffer(data) ? data : Buffer.from(data));
  }

  cork(): void {}
  uncork(): void {}

  pause(): this {
    this.ex.pauseResponse();
    return this;
  }

  resume(): this {
    this.ex.resumeResponse();
    return this;
  }

  isPaused(): boolean {
    return this.ex.responsePaused;
  }

  end(): this {
    this.ex.endBody();
    return this;
  }

  get writableLength(): number {
    return this.ex.queued;
  }
}

function responseHead(status: number, headers: string[], body: BodyFraming, contentLength: number): ResponseHead {
  return { kind: 'response', status, reason: statusText(status), versionMinor: 1, headers, body, contentLength, keepAlive: true, upgrade: false };
}

/** HTTP/2 header object → flat lower-case name/value list without pseudo-headers and hop-by-hop headers. */
export function flatten(h: http2.IncomingHttpHeaders): string[] {
  const flat: string[] = [];
  for (const k of Object.keys(h)) {
    if (k.charCodeAt(0) === 58 /* : */ || isHopByHop(k)) continue;
    const v = h[k];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) flat.push(k, x);
    else flat.push(k, v);
  }
  return flat;
}
