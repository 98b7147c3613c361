// One HTTP/1.1 connection to an upstream host: a socket plus a response parser, carrying one request at a time
// for whichever attempt currently owns it. Kept alive in the host's pool between requests.
import * as net from 'node:net';
import * as tls from 'node:tls';
import { connectUpstreamTls } from '../tls/upstream-tls.ts';
import { Http1Parser, type ParserEvents } from '../http1/parser.ts';
import type { MessageHead, ResponseHead, HeadError } from '../http1/head.ts';

/** Why an upstream connection failed, as Envoy names it in response flags / reset reasons. */
/** `refused_stream`: an HTTP/2 upstream refused the stream (REFUSED_STREAM, or past a GOAWAY) before processing it. */
export type UpstreamFailure = 'connect_failure' | 'connect_timeout' | 'connection_termination' | 'protocol_error' | 'refused_stream';

/** The attempt that currently owns the connection receives its events. */
export interface UpstreamHandler {
  onUpstreamConnect(): void;
  onUpstreamHead(head: ResponseHead): void;
  /**
   * Response body bytes. `borrowed`: the chunk is a view of a read buffer that is reused once this call returns,
   * so a handler that keeps it (or hands it to a write that may not complete at once) must copy it. Only handlers
   * that declare `takesBorrowedChunks` get borrowed chunks; the others get chunks of their own.
   */
  onUpstreamBody(chunk: Buffer, borrowed?: boolean): void;
  /** True when onUpstreamBody copies a `borrowed` chunk it keeps (saves a copy of every chunk). */
  readonly takesBorrowedChunks?: boolean;
  onUpstreamEnd(trailers: string[] | undefined): void;
  /** The connection failed or closed before the response ended. */
  onUpstreamFailure(reason: UpstreamFailure, detail: string): void;
  onUpstreamDrain(): void;
  /** One socket read has been processed (flush anything held back for coalescing). */
  onUpstreamReadDone(): void;
}

export interface HostPool {
  release(conn: UpstreamConnection): void;
  forget(conn: UpstreamConnection): void;
}

/**
 * Upstream sockets, plaintext and TLS, read into this one buffer (the `onread` option of net.connect and tls.connect)
 * instead of a new Buffer per read, and skip the Readable stream's per-read work. Reads are handled one at a time and
 * synchronously, so one buffer serves every connection: whatever outlives a read is copied (the parser's held bytes,
 * body chunks kept by handlers).
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

export class UpstreamConnection implements ParserEvents {
  readonly socket: net.Socket;
  readonly parser: Http1Parser;
  readonly pool: HostPool;
  handler: UpstreamHandler | undefined;
  connected = false;
  /** Requests carried so far (for max_requests_per_connection and stale-reuse detection). */
  requests = 0;
  /** Response bytes seen for the current request (0 means a reset can be retried transparently on reuse). */
  responseBytes = 0;
  closed = false;
  private connectTimer: NodeJS.Timeout | undefined;
  /** performance.now() when it went back to the pool (idle timeout is swept, not timed per request). */
  idleSince = 0;

  /** TLS options for an encrypted connection, a string when TLS is required but impossible (no certificate yet). */
  constructor(host: string, port: number, connectTimeoutMs: number, pool: HostPool, tlsOptions?: tls.ConnectionOptions | string) {
    this.pool = pool;
    this.parser = new Http1Parser('response', this, undefined, true);
    if (typeof tlsOptions === 'string') {
      // Fail like a connect failure, asynchronously, so the caller sees the same event order as for a refused TCP connect.
      // The placeholder socket is destroyed up front; writes to it are dropped (their error has a listener).
      this.socket = new net.Socket();
      this.socket.on('error', () => undefined);
      this.socket.destroy();
      setImmediate(() => this.fail('connect_failure', tlsOptions));
      return;
    }
    if (tlsOptions) {
      this.socket = connectUpstreamTls(tlsOptions, host, port, { buffer: READ_BUFFER, callback: this.onReadShared });
      this.socket.setNoDelay(true);
    } else {
      this.socket = net.connect({ host, port, noDelay: true, onread: { buffer: READ_BUFFER, callback: this.onReadShared } });
    }
    this.connectTimer = setTimeout(() => this.fail('connect_timeout', 'connection timeout'), connectTimeoutMs);
    this.socket.on(tlsOptions ? 'secureConnect' : 'connect', () => {
      clearTimeout(this.connectTimer);
      this.connected = true;
      this.handler?.onUpstreamConnect();
    });
    this.socket.on('drain', () => this.handler?.onUpstreamDrain());
    this.socket.on('end', () => {
      if (this.parser.readsUntilClose) this.parser.finish();
      this.fail('connection_termination', 'upstream closed the connection');
    });
    this.socket.on('error', (e: NodeJS.ErrnoException) => {
      this.fail(this.connected ? 'connection_termination' : 'connect_failure', e.code ?? e.message);
    });
    this.socket.on('close', () => this.fail('connection_termination', 'connection closed'));
  }

  private readonly onReadShared = (n: number): boolean => {
    this.onRead(READ_BUFFER.subarray(0, n));
    return true;
  };

  /** Bytes read from the socket: a view of READ_BUFFER, valid during this call only. */
  private onRead(d: Buffer): void {
    this.responseBytes += d.length;
    if (!this.handler) {
      // Bytes on an idle connection are a protocol violation: drop the connection.
      this.destroy();
      return;
    }
    this.parser.execute(d);
    this.handler?.onUpstreamReadDone();
  }

  /** Start a request on this connection for the given handler. */
  attach(handler: UpstreamHandler, method: string): void {
    this.handler = handler;
    this.requests++;
    this.responseBytes = 0;
    this.parser.requestMethod = method;
    if (this.parser.isPaused) this.parser.resume();
  }

  /** Detach the handler; the connection goes back to the pool if reusable. */
  detach(reusable: boolean): void {
    this.handler = undefined;
    if (reusable && !this.closed) this.pool.release(this);
    else this.destroy();
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.connectTimer);
    this.parser.kill();
    this.socket.destroy();
    this.pool.forget(this);
  }

  private fail(reason: UpstreamFailure, detail: string): void {
    const h = this.handler;
    this.handler = undefined;
    this.destroy();
    h?.onUpstreamFailure(reason, detail);
  }

  onHead(head: MessageHead): void {
    if (head.kind === 'response') this.handler?.onUpstreamHead(head);
  }

  onBody(chunk: Buffer): void {
    const h = this.handler;
    if (h === undefined) return;
    // Body chunks are views of READ_BUFFER: only handlers that copy what they keep get them as they are.
    if (h.takesBorrowedChunks === true) h.onUpstreamBody(chunk, true);
    else h.onUpstreamBody(Buffer.from(chunk), false);
  }

  onEnd(trailers: string[] | undefined): void {
    this.handler?.onUpstreamEnd(trailers);
  }

  onError(e: HeadError): void {
    this.fail('protocol_error', e.detail);
  }
}
