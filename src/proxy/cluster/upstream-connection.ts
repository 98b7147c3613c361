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
  onUpstreamBody(chunk: Buffer): void;
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
    this.parser = new Http1Parser('response', this);
    if (typeof tlsOptions === 'string') {
      // Fail like a connect failure, asynchronously, so the caller sees the same event order as for a refused TCP connect.
      // The placeholder socket is destroyed up front; writes to it are dropped (their error has a listener).
      this.socket = new net.Socket();
      this.socket.on('error', () => undefined);
      this.socket.destroy();
      setImmediate(() => this.fail('connect_failure', tlsOptions));
      return;
    }
    this.socket = tlsOptions ? connectUpstreamTls(tlsOptions, host, port) : net.connect({ host, port, noDelay: true });
    if (tlsOptions) this.socket.setNoDelay(true);
    this.connectTimer = setTimeout(() => this.fail('connect_timeout', 'connection timeout'), connectTimeoutMs);
    this.socket.on(tlsOptions ? 'secureConnect' : 'connect', () => {
      clearTimeout(this.connectTimer);
      this.connected = true;
      this.handler?.onUpstreamConnect();
    });
    this.socket.on('data', (d: Buffer) => {
      this.responseBytes += d.length;
      if (!this.handler) {
        // Bytes on an idle connection are a protocol violation: drop the connection.
        this.destroy();
        return;
      }
      this.parser.execute(d);
      this.handler?.onUpstreamReadDone();
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
    this.handler?.onUpstreamBody(chunk);
  }

  onEnd(trailers: string[] | undefined): void {
    this.handler?.onUpstreamEnd(trailers);
  }

  onError(e: HeadError): void {
    this.fail('protocol_error', e.detail);
  }
}
