// An HTTP/2 stream forwarded to an HTTP/1.1 upstream: the request goes out on a pooled HTTP/1.1 connection
// (chunked when it has a body), the response comes back through the HTTP/1.1 parser and is re-framed as HTTP/2
// (status and headers, data, trailers). Used when the cluster speaks HTTP/1.1 (Envoy's default upstream protocol).
import type * as http2 from 'node:http2';
import type { Host } from '../cluster/host.ts';
import type { UpstreamConnection, UpstreamFailure, UpstreamHandler } from '../cluster/upstream-connection.ts';
import type { ResponseHead } from '../http1/head.ts';
import { chunkHeader, isHopByHop, lastChunk } from '../http1/serialize.ts';

export interface BridgeEvents {
  onResponse(status: number): void;
  /** Route response header edits, applied to the re-framed HTTP/2 head before it is sent. */
  editResponse?(h: http2.OutgoingHttpHeaders): void;
  onBytesSent(n: number): void;
  onDone(): void;
  /** Failed before any response was sent downstream (the caller answers locally). */
  onFailure(reason: UpstreamFailure, detail: string): void;
}

export class H1Bridge implements UpstreamHandler {
  private readonly stream: http2.ServerHttp2Stream;
  private readonly conn: UpstreamConnection;
  private readonly ev: BridgeEvents;
  private readonly host: Host;
  private started = false;
  private finished = false;
  private keepAlive = true;

  /** `head` ends after the header lines (no blank line yet); `hasLength`: the client sent content-length (kept). */
  constructor(stream: http2.ServerHttp2Stream, host: Host, conn: UpstreamConnection, method: string, head: string, hasLength: boolean, ev: BridgeEvents) {
    this.stream = stream;
    this.host = host;
    this.conn = conn;
    this.ev = ev;
    conn.attach(this, method);
    const sock = conn.socket;
    const bodyless = !hasLength && (method === 'GET' || method === 'HEAD' || stream.readableEnded);
    // With content-length the body is passed as is; without it (HTTP/2 needs none) it is sent chunked.
    const chunked = !bodyless && !hasLength;
    sock.write(chunked ? head + 'transfer-encoding: chunked\r\n\r\n' : head + '\r\n', 'latin1');
    if (!bodyless) {
      stream.on('data', (d: Buffer) => {
        let ok: boolean;
        if (chunked) {
          sock.write(chunkHeader(d.length), 'latin1');
          sock.write(d);
          ok = sock.write('\r\n', 'latin1');
        } else ok = sock.write(d);
        if (!ok) stream.pause();
      });
      if (chunked) stream.on('end', () => sock.write(lastChunk(undefined), 'latin1'));
    }
    stream.on('close', () => {
      if (!this.finished) {
        this.finished = true;
        conn.detach(false);
      }
    });
  }

  onUpstreamConnect(): void {}

  onUpstreamHead(resp: ResponseHead): void {
    if (resp.status < 200) return;
    this.started = true;
    this.keepAlive = resp.keepAlive;
    const h: http2.OutgoingHttpHeaders = { ':status': resp.status };
    for (let i = 0; i < resp.headers.length; i += 2) {
      const k = resp.headers[i]!;
      if (isHopByHop(k) || k === 'host') continue;
      const prev = h[k];
      h[k] = prev === undefined ? resp.headers[i + 1]! : `${String(prev)}, ${resp.headers[i + 1]!}`;
    }
    this.ev.onResponse(resp.status);
    this.ev.editResponse?.(h);
    if (!this.stream.destroyed) this.stream.respond(h, { waitForTrailers: resp.body === 'chunked', endStream: resp.body === 'none' });
  }

  onUpstreamBody(chunk: Buffer): void {
    this.ev.onBytesSent(chunk.length);
    if (!this.stream.destroyed && !this.stream.write(chunk)) {
      this.conn.socket.pause();
      this.stream.once('drain', () => this.conn.socket.resume());
    }
  }

  onUpstreamEnd(trailers: string[] | undefined): void {
    if (this.finished) return;
    this.finished = true;
    if (!this.stream.destroyed) {
      if (this.stream.headersSent && !this.stream.writableEnded) {
        this.stream.once('wantTrailers', () => {
          const t: http2.OutgoingHttpHeaders = {};
          for (let i = 0; i < (trailers?.length ?? 0); i += 2) t[trailers![i]!] = trailers![i + 1]!;
          this.stream.sendTrailers(t);
        });
        this.stream.end();
      }
    }
    this.conn.detach(this.keepAlive && this.conn.parser.isPaused);
    this.ev.onDone();
  }

  onUpstreamFailure(reason: UpstreamFailure, detail: string): void {
    if (this.finished) return;
    this.finished = true;
    if (this.started) {
      if (!this.stream.destroyed) this.stream.close(0x2 /* INTERNAL_ERROR */);
      this.ev.onDone();
      return;
    }
    this.ev.onFailure(reason, detail);
  }

  onUpstreamDrain(): void {
    if (this.stream.isPaused()) this.stream.resume();
  }

  onUpstreamReadDone(): void {}

  get upstreamHost(): Host {
    return this.host;
  }
}
