// One gRPC call on one HTTP/2 stream: request headers (metadata, grpc-timeout), framed messages out with
// node:http2's backpressure, framed messages in, and exactly one status at the end — from trailers, from a
// trailers-only response, from the HTTP status of a non-gRPC answer, from a stream reset, or from the client
// itself (deadline, cancellation, a broken connection, an undecodable message).
import { EventEmitter } from 'node:events';
import http2 from 'node:http2';
import { FramingError, MessageDecoder, frameMessage } from './framing.ts';
import { GrpcStatus, type GrpcMetadata, type GrpcStatusInfo, formatGrpcTimeout, headerValue, statusFromHttp, statusFromRstCode, statusFromTrailers } from './status.ts';

/** How a method's messages are encoded and decoded: the caller brings its own codec (protobufjs or hand-written). */
export interface MethodDescriptor<Req, Res> {
  /** `/package.Service/Method`. */
  path: string;
  encode(request: Req): Uint8Array;
  decode(bytes: Buffer): Res;
}

/** Per-call options. */
export interface CallOptions {
  /** Request metadata (e.g. `authorization: Bearer …`, `ClusterID`); names are sent in lower case. */
  metadata?: Readonly<Record<string, string | readonly string[]>>;
  /** Deadline from now, ms: sent as grpc-timeout and enforced here (DEADLINE_EXCEEDED). Default none. */
  timeoutMs?: number;
  /** Aborting cancels the call (CANCELLED). */
  signal?: AbortSignal;
}

/** What the call needs from its channel. */
export interface CallContext {
  authority: string;
  userAgent: string;
  maxReceiveMessageBytes: number;
  /**
   * Opens the stream on the channel's current session, with a function telling why that session failed, if it did
   * (named in UNAVAILABLE statuses). Throws when there is no usable session.
   */
  open(headers: http2.OutgoingHttpHeaders): { stream: http2.ClientHttp2Stream; sessionError: () => Error | undefined };
  release(): void;
}

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR } = http2.constants;

/**
 * A streaming call. Events: `headers` (response headers), `message` (each decoded response), `drain` (the
 * request side can take more after write() returned false), and `status` exactly once, last.
 */
export class GrpcCall<Req, Res> extends EventEmitter<{ headers: [GrpcMetadata]; message: [Res]; drain: []; status: [GrpcStatusInfo] }> {
  readonly method: MethodDescriptor<Req, Res>;
  /** Set once the call has ended. */
  status: GrpcStatusInfo | undefined;
  readonly #ctx: CallContext;
  #stream: http2.ClientHttp2Stream | undefined;
  #sessionError: () => Error | undefined = () => undefined;
  #headers: GrpcMetadata | undefined;
  #trailers: GrpcMetadata | undefined;
  #streamError: Error | undefined;
  #timer: NodeJS.Timeout | undefined;
  #signal: AbortSignal | undefined;
  readonly #onAbort = (): void => this.cancel('the call was aborted');
  readonly #decoder: MessageDecoder;

  constructor(ctx: CallContext, method: MethodDescriptor<Req, Res>, opts: CallOptions = {}) {
    super();
    this.#ctx = ctx;
    this.method = method;
    this.#decoder = new MessageDecoder(ctx.maxReceiveMessageBytes, () => (this.#headers ? headerValue(this.#headers, 'grpc-encoding') : undefined));
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': method.path,
      ':authority': ctx.authority,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-accept-encoding': 'identity',
      'user-agent': ctx.userAgent,
    };
    for (const [k, v] of Object.entries(opts.metadata ?? {})) headers[k.toLowerCase()] = typeof v === 'string' ? v : [...v];
    if (opts.timeoutMs !== undefined) {
      headers['grpc-timeout'] = formatGrpcTimeout(opts.timeoutMs);
      this.#timer = setTimeout(() => this.#fail(GrpcStatus.DEADLINE_EXCEEDED, `deadline of ${opts.timeoutMs} ms exceeded`), Math.max(0, opts.timeoutMs));
    }
    if (opts.signal) {
      if (opts.signal.aborted) {
        process.nextTick(this.#onAbort);
        return;
      }
      this.#signal = opts.signal;
      opts.signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    let stream: http2.ClientHttp2Stream;
    try {
      const opened = ctx.open(headers);
      stream = opened.stream;
      this.#sessionError = opened.sessionError;
    } catch (e) {
      // No session (closed channel, failed connection): report asynchronously, as any other ending.
      process.nextTick(() => this.#fail(GrpcStatus.UNAVAILABLE, e instanceof Error ? e.message : String(e)));
      return;
    }
    this.#stream = stream;
    stream.on('response', (h) => this.#onResponse(h));
    stream.on('data', (chunk: Buffer) => this.#onData(chunk));
    stream.on('trailers', (t) => (this.#trailers = t as GrpcMetadata));
    stream.on('drain', () => this.emit('drain'));
    stream.on('error', (e: Error) => (this.#streamError = e));
    // The server's END_STREAM (after trailers, or a trailers-only answer) ends the call even while this side is
    // still open, as on an ADS stream the server closes: the stream is then closed from here too.
    stream.on('end', () => this.#onEnd());
    stream.on('close', () => this.#onClose());
  }

  /** Send one request message. Returns false when HTTP/2 flow control is holding data back: wait for `drain`. */
  write(request: Req): boolean {
    const s = this.#stream;
    if (!s || this.status || s.destroyed || s.writableEnded) return false;
    return s.write(frameMessage(this.method.encode(request)));
  }

  /** Half-close: no more requests. */
  end(): void {
    const s = this.#stream;
    if (s && !this.status && !s.writableEnded && !s.destroyed) s.end();
  }

  /** Stop reading responses (inbound flow control then holds the server back) / read again. */
  pause(): void {
    this.#stream?.pause();
  }

  resume(): void {
    this.#stream?.resume();
  }

  /** Cancel the call: the server sees RST_STREAM(CANCEL); the status is CANCELLED. */
  cancel(details = 'cancelled by the client'): void {
    this.#fail(GrpcStatus.CANCELLED, details);
  }

  #onResponse(h: http2.IncomingHttpHeaders): void {
    this.#headers = h as GrpcMetadata;
    if (this.#grpcResponse()) this.emit('headers', this.#headers);
  }

  /** A 200 with a gRPC content type; anything else is mapped from its HTTP status and its body ignored. */
  #grpcResponse(): boolean {
    const h = this.#headers;
    if (!h) return false;
    return Number(headerValue(h, ':status')) === 200 && (headerValue(h, 'content-type') ?? '').startsWith('application/grpc');
  }

  #onData(chunk: Buffer): void {
    if (this.status || !this.#grpcResponse()) return;
    let messages: Buffer[];
    try {
      messages = this.#decoder.push(chunk);
    } catch (e) {
      const tooLarge = e instanceof FramingError && e.kind === 'too-large';
      this.#fail(tooLarge ? GrpcStatus.RESOURCE_EXHAUSTED : GrpcStatus.INTERNAL, e instanceof Error ? e.message : String(e));
      return;
    }
    for (const bytes of messages) {
      let message: Res;
      try {
        message = this.method.decode(bytes);
      } catch (e) {
        this.#fail(GrpcStatus.INTERNAL, `cannot decode the response message: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      this.emit('message', message);
      if (this.status) return;
    }
  }

  #onEnd(): void {
    if (this.status) return;
    const s = this.#stream;
    this.#finish(this.#statusAtClose());
    if (s && !s.destroyed) s.close(NGHTTP2_NO_ERROR);
  }

  #onClose(): void {
    if (this.status) return;
    this.#finish(this.#statusAtClose());
  }

  #statusAtClose(): GrpcStatusInfo {
    const fromTrailers = (this.#trailers && statusFromTrailers(this.#trailers)) ?? (this.#headers && statusFromTrailers(this.#headers));
    const h = this.#headers;
    const httpStatus = h ? Number(headerValue(h, ':status')) : undefined;
    const md: GrpcMetadata = this.#trailers ?? h ?? {};
    if (h && !this.#grpcResponse()) {
      const ct = headerValue(h, 'content-type') ?? 'none';
      const code = httpStatus === 200 ? GrpcStatus.UNKNOWN : statusFromHttp(httpStatus ?? 0);
      return { code, details: `the server answered HTTP ${httpStatus} with content-type ${ct}, not a gRPC response`, metadata: md };
    }
    if (fromTrailers) {
      if (fromTrailers.code === GrpcStatus.OK && this.#decoder.pending > 0) return { code: GrpcStatus.INTERNAL, details: `the stream ended inside a message (${this.#decoder.pending} bytes left over)`, metadata: md };
      return fromTrailers;
    }
    // The connection failed (refused, TLS verification, keepalive timeout, GOAWAY with an error): UNAVAILABLE.
    const sessionError = this.#sessionError();
    if (sessionError) return { code: GrpcStatus.UNAVAILABLE, details: describeCause(sessionError), metadata: md };
    const rst = this.#stream?.rstCode;
    if (rst !== undefined && rst !== 0) return { code: statusFromRstCode(rst), details: `stream reset by the server (HTTP/2 error code ${rst})`, metadata: md };
    if (this.#streamError) return { code: GrpcStatus.UNAVAILABLE, details: describeCause(this.#streamError), metadata: md };
    if (!h) return { code: GrpcStatus.UNAVAILABLE, details: 'the connection closed before the server answered', metadata: md };
    return { code: GrpcStatus.INTERNAL, details: 'the server closed the stream without a grpc-status', metadata: md };
  }

  /** End the call from this side and reset the stream. */
  #fail(code: number, details: string): void {
    if (this.status) return;
    const s = this.#stream;
    this.#finish({ code, details, metadata: this.#trailers ?? this.#headers ?? {} });
    if (s && !s.destroyed) s.close(NGHTTP2_CANCEL);
  }

  #finish(status: GrpcStatusInfo): void {
    this.status = status;
    clearTimeout(this.#timer);
    this.#signal?.removeEventListener('abort', this.#onAbort);
    if (this.#stream) this.#ctx.release();
    this.emit('status', status);
  }
}

/** Node wraps the session's failure in ERR_HTTP2_STREAM_CANCEL for streams not yet sent: name the real cause. */
function describeCause(e: Error): string {
  const c = (e as { cause?: unknown }).cause;
  return c instanceof Error ? c.message : e.message;
}
