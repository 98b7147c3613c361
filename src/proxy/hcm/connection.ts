// A downstream HTTP/1.1 connection: parses requests off the socket and runs one Stream at a time, in order
// (pipelined requests wait in the parser until the previous response is complete). Malformed input gets
// Envoy's local reply (400/431/501) and the connection is closed. Nothing here throws out of a socket handler.
import type * as net from 'node:net';
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { Http1Parser, type ParserEvents } from '../http1/parser.ts';
import type { HeadError, MessageHead } from '../http1/head.ts';
import { DEFAULT_MAX_HEADERS_COUNT, DEFAULT_REQUEST_HEADERS_TIMEOUT_MS, selectChain, type HcmConfig, type ListenerConfig } from '../listener/listener-config.ts';
import type { Direction, ProxyServices } from './services.ts';
import { Stream } from './stream.ts';
import { StreamInfo } from './stream-info.ts';
import { writeLocalReply } from './local-reply.ts';
import { acceptH2 } from '../h2/h2-connection.ts';
import { replayingDuplex } from '../listener/inbound-tls.ts';
import { readIntoBuffer } from '../http1/read-buffer.ts';
import { selectVirtualHost, type RouteTable, type VirtualHost } from '../router/route-table.ts';

/** Keep-alive connections read into this one buffer after their first request (see http1/read-buffer.ts). */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

export interface ListenerContext {
  services: ProxyServices;
  direction: Direction;
  /**
   * explicit: the app uses the proxy as its HTTP proxy, routes are found by the request's port (outbound 15001);
   * inbound: Istio's virtualInbound chains by the request's port (15006); listener: an LDS listener's own HCM.
   */
  mode: 'explicit' | 'inbound' | 'listener';
  /** The HTTP connection manager for listener mode. */
  hcm: HcmConfig | undefined;
  listenerName: string;
  /** Max request head bytes (Envoy max_request_headers_kb). */
  maxHeaderBytes: number;
}

/** A request head that did not arrive within request_headers_timeout. */
interface HeadTimeout {
  status: 408;
  detail: 'request_header_timeout';
}

/** What the transport told us about a downstream connection (mutual TLS on the inbound listener). */
export interface DownstreamTls {
  /** The peer's SPIFFE id (validated against the mesh roots), if it presented one. */
  peer: string | undefined;
  /** The service port from the SNI Istio clients send (`outbound_.9080_._.reviews…`), if any. */
  sniPort: number | undefined;
  /** The TCP socket under the TLS session (for addresses and ports). */
  transport: net.Socket;
  /** SNI and offered ALPN from the ClientHello (gateway listeners: they chose the filter chain). */
  sni?: string | undefined;
  alpn?: readonly string[] | undefined;
}

export class DownstreamConnection implements ParserEvents {
  readonly socket: net.Socket;
  readonly ctx: ListenerContext;
  readonly parser: Http1Parser;
  current: Stream | undefined;
  closed = false;
  /** Requests served on this connection. */
  served = 0;
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remoteIp: string;

  readonly tls: DownstreamTls | undefined;

  constructor(socket: net.Socket, ctx: ListenerContext, tls?: DownstreamTls) {
    this.socket = socket;
    this.ctx = ctx;
    this.tls = tls;
    this.parser = new Http1Parser('request', this, ctx.maxHeaderBytes);
    const tcp = tls?.transport ?? socket;
    this.localPort = tcp.localPort ?? 0;
    this.remoteIp = tcp.remoteAddress ?? '';
    this.localAddress = `${tcp.localAddress ?? ''}:${tcp.localPort ?? 0}`;
    this.remoteAddress = `${this.remoteIp}:${tcp.remotePort ?? 0}`;
    socket.setNoDelay(true);
    socket.on('data', this.dataListener);
    socket.on('end', this.endListener);
    socket.on('error', this.closeListener);
    socket.on('close', this.closeListener);
    socket.on('drain', this.drainListener);
    ctx.services.track(tcp, this);
  }

  /** performance.now() of the last byte read or written for this connection's current work. */
  lastActivity = performance.now();
  /** True while a socket read is being parsed (lastActivity is then the time of that read). */
  parsing = false;
  /** A stream holding its upstream request head until this read's body bytes are parsed (see Stream.attempt). */
  private headHolder: Stream | undefined;
  /** When a sweep first saw the current request head incomplete (0: no head in progress). */
  private headSince = 0;

  closeIfIdle(): void {
    if (this.current === undefined) this.close();
  }

  /** Idle timeouts (Envoy's defaults: 5 min per request, 1 h per idle keep-alive connection, 5 min for a head). */
  sweep(now: number): void {
    if (this.closed) return;
    const idle = now - this.lastActivity;
    const s = this.current;
    if (s !== undefined) {
      this.headSince = 0;
      const limit = s.streamIdleTimeoutMs;
      if (limit > 0 && idle > limit && !s.tunnelling) s.onStreamIdleTimeout();
      return;
    }
    // Between requests: a half-sent head is held to the request headers timeout (counted from the first sweep that
    // sees it, so up to a sweep late: a slowloris client trickling bytes gets 408) and to the stream idle timeout; an
    // idle connection to the idle timeout.
    const hcm = this.ctx.hcm;
    if (this.parser.inMessage) {
      if (this.headSince === 0) this.headSince = now;
      const headLimit = hcm?.requestHeadersTimeoutMs ?? DEFAULT_REQUEST_HEADERS_TIMEOUT_MS;
      if (headLimit > 0 && now - this.headSince > headLimit) return this.onError({ status: 408, detail: 'request_header_timeout' });
    } else this.headSince = 0;
    const limit = this.parser.inMessage ? (hcm?.streamIdleTimeoutMs ?? 300_000) : (hcm?.idleTimeoutMs ?? 3_600_000);
    if (limit > 0 && idle > limit) this.close();
  }

  /** Whether plaintext to `port` is refused because the port only accepts mutual TLS (STRICT). */
  refusesPlaintext(port: number): boolean {
    if (this.ctx.mode !== 'inbound' || this.tls) return false;
    const snap = this.ctx.services.snapshot;
    return !snap.inboundHttpByPort.has(this.localPort) && !snap.inboundHttpByPort.has(port) && (snap.inboundTlsHttpByPort.has(this.localPort) || snap.inboundTlsHttpByPort.has(port));
  }

  /** The HCM for a request to `port` (explicit mode looks it up per request). */
  hcmFor(port: number): HcmConfig | undefined {
    const ctx = this.ctx;
    if (ctx.mode !== 'listener') return hcmForPort(ctx, this.localPort, this.tls, port);
    // The filter chain depends only on the listener's config and this connection: chosen again only after an LDS
    // update replaced the listener.
    const l = ctx.services.snapshot.listeners.get(ctx.listenerName);
    if (l === undefined || l !== this.chainListener) {
      this.chainListener = l;
      this.chainHcm = hcmForPort(ctx, this.localPort, this.tls, port);
    }
    return this.chainHcm;
  }

  private chainListener: ListenerConfig | undefined;
  private chainHcm: HcmConfig | undefined;

  /** The last request authority seen here, its port and upstream destination (see Stream.start). */
  lastAuthority = '';
  lastPort = 80;
  lastDestination = ':80'; // what the empty authority (HTTP/1.0 without Host) gives

  /** The virtual host for an authority, remembered for the same route table and authority (keep-alive repeats them). */
  virtualHost(table: RouteTable, authority: string): VirtualHost | undefined {
    if (table !== this.vhTable || authority !== this.vhAuthority) {
      this.vhTable = table;
      this.vhAuthority = authority;
      this.vh = selectVirtualHost(table, authority);
    }
    return this.vh;
  }

  private vhTable: RouteTable | undefined;
  private vhAuthority = '';
  private vh: VirtualHost | undefined;

  private readonly dataListener = (d: Buffer): void => this.onData(d, false);
  private readonly sharedReadListener = (n: number): boolean => {
    this.onData(READ_BUFFER.subarray(0, n), true);
    return true;
  };
  private readonly endListener = (): void => this.onPeerEnd();
  private readonly closeListener = (): void => this.onClose();
  private readonly drainListener = (): void => this.current?.onDownstreamDrain();

  /** `borrowed`: d is a view of READ_BUFFER, valid during this call only. */
  private onData(d: Buffer, borrowed: boolean): void {
    this.lastActivity = performance.now();
    if (this.served === 0 && !this.parser.inMessage && isH2Preface(d)) return this.handOffToH2(d);
    const s = this.current;
    if (s !== undefined && s.tunnelling) {
      s.onDownstreamBody(d, borrowed);
      return;
    }
    this.socket.cork();
    this.parsing = true;
    try {
      this.parser.execute(d);
      const holder = this.headHolder;
      if (holder !== undefined) {
        this.headHolder = undefined;
        holder.flushUpstreamHead();
      }
    } catch (e) {
      // A bug in a stream must not take the process down: answer 500 if possible and close.
      this.internalError(e);
    } finally {
      this.parsing = false;
      this.headHolder = undefined;
      if (!this.socket.destroyed) this.socket.uncork();
    }
    // Pipelined bytes held while a response is outstanding: stop reading until it completes.
    if (this.current !== undefined && this.parser.isPaused && this.parser.hasHeldData) this.socket.pause();
  }

  /** HTTP/2 with prior knowledge (gRPC over h2c): the connection leaves the HTTP/1.1 codec for node:http2. */
  private handOffToH2(first: Buffer): void {
    const sock = this.socket;
    sock.off('data', this.dataListener);
    sock.off('end', this.endListener);
    sock.off('error', this.closeListener);
    sock.off('close', this.closeListener);
    sock.off('drain', this.drainListener);
    this.closed = true;
    this.parser.kill();
    // h2c: the bytes already read go back into the paused socket, and node:http2 consumes them before reading the
    // handle itself. Over TLS, node:http2 gets a stream that replays them instead (it stalls on an adopted TLSSocket).
    if (this.tls) acceptH2(replayingDuplex(sock, first) as unknown as net.Socket, this.ctx, this.tls, this.tls.transport);
    else {
      sock.pause();
      sock.unshift(first);
      acceptH2(sock, this.ctx, undefined, sock);
    }
  }

  onHead(head: MessageHead): void {
    if (head.kind !== 'request') return;
    // Envoy's max_headers_count (default 100): a request with more headers gets 431.
    if (head.headers.length > 2 * (this.ctx.hcm?.maxHeadersCount ?? DEFAULT_MAX_HEADERS_COUNT)) return this.onError({ status: 431, detail: 'http1.too_many_headers' });
    this.served++;
    const s = new Stream(this, head);
    this.current = s;
    s.start();
  }

  /** Called by a stream (during a read) that holds its upstream head for the body bytes of this read. */
  flushAtReadEnd(s: Stream): void {
    this.headHolder = s;
  }

  onBody(chunk: Buffer): void {
    this.current?.onDownstreamBody(chunk, this.parser.reusedInput);
  }

  onEnd(trailers: string[] | undefined): void {
    this.current?.onDownstreamEnd(trailers);
    if (this.resumeAtEnd) {
      // The response finished before the request did (local reply): read the next request now.
      this.resumeAtEnd = false;
      this.parser.resume();
    }
  }

  private resumeAtEnd = false;

  onError(e: HeadError | HeadTimeout): void {
    const s = this.current;
    if (s !== undefined && e.status !== 408) {
      s.onDownstreamProtocolError(e);
      return;
    }
    const info = new StreamInfo();
    info.startEpochMs = Date.now();
    info.startMono = performance.now();
    info.downstreamLocal = this.localAddress;
    info.downstreamRemote = this.remoteAddress;
    if (e.status !== 408) info.addFlag('DPE');
    info.details = e.detail;
    info.status = e.status;
    writeLocalReply(this.socket, e.status, e.status === 431 ? 'Request Header Fields Too Large' : e.status === 408 ? 'request header timeout' : 'Bad Request', true, undefined);
    this.ctx.services.accessLog?.log(info);
    this.close();
  }

  /** The current stream finished; continue with the next request or close. */
  streamDone(s: Stream, keepAlive: boolean): void {
    if (this.current !== s) return;
    this.current = undefined;
    if (!keepAlive || this.closed) {
      this.close();
      return;
    }
    // A keep-alive connection (past the first bytes, where HTTP/2's preface is looked for) reads into the shared
    // buffer from now on, over TLS too (TLSWrap hands decrypted bytes to the same listener); other streams keep 'data'.
    if (!this.parser.reusedInput && readIntoBuffer(this.socket, READ_BUFFER, this.sharedReadListener)) this.parser.reusedInput = true;
    if (this.socket.isPaused()) this.socket.resume();
    if (this.parser.isPaused) this.parser.resume();
    else this.resumeAtEnd = true;
  }

  /** Half-close from the client: finish the in-flight response, then close. */
  private onPeerEnd(): void {
    if (this.current === undefined) this.close();
    else this.current.onDownstreamEof();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.parser.kill();
    this.socket.end();
    // Give the kernel the final bytes, but never linger on a peer that does not read.
    setTimeout(() => this.socket.destroy(), 5000).unref();
  }

  private onClose(): void {
    this.closed = true;
    this.parser.kill();
    const s = this.current;
    this.current = undefined;
    s?.onDownstreamReset();
  }

  private internalError(e: unknown): void {
    this.ctx.services.log('error', `internal error on ${this.ctx.listenerName}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    const s = this.current;
    this.current = undefined;
    s?.abort(`internal error: ${e instanceof Error ? e.message : String(e)}`);
    if (!this.socket.destroyed) this.socket.destroy();
    this.closed = true;
  }
}

/** The HTTP connection manager for a request to `port` on a connection of this listener (see DownstreamConnection.hcmFor). */
export function hcmForPort(ctx: ListenerContext, localPort: number, tls: DownstreamTls | undefined, port: number): HcmConfig | undefined {
  switch (ctx.mode) {
    case 'listener': {
      // The listener's current config: a keep-alive connection follows LDS updates from its next request on.
      const l = ctx.services.snapshot.listeners.get(ctx.listenerName);
      if (!l) return undefined; // removed: requests still arriving on its connections get 404 NR
      const tcp = tls?.transport;
      const chain = tls
        ? selectChain(l, { port: localPort, address: tcp?.localAddress, sni: tls.sni, transport: 'tls', alpn: tls.alpn ?? [], sourceAddress: tcp?.remoteAddress, sourcePort: tcp?.remotePort })
        : selectChain(l, localPort);
      return chain?.action.kind === 'http' ? chain.action.hcm : undefined;
    }
    case 'explicit':
      return ctx.services.snapshot.httpByPort.get(port);
    case 'inbound': {
      // The chain for the port the connection arrived on (explicit mode binds one inbound listener per workload
      // port, as `weft run` does on loopback), else the request's port (a single catch-all inbound port, 15006).
      const snap = ctx.services.snapshot;
      const local = localPort;
      if (tls) {
        const tlsPort = tls.sniPort ?? port;
        return snap.inboundTlsHttpByPort.get(local) ?? snap.inboundTlsHttpByPort.get(tlsPort) ?? snap.inboundHttpByPort.get(local) ?? snap.inboundHttpByPort.get(tlsPort) ?? snap.inboundHttpDefault;
      }
      const plain = snap.inboundHttpByPort.get(local) ?? snap.inboundHttpByPort.get(port);
      // Plaintext to a port that only accepts mutual TLS (PeerAuthentication STRICT): no chain matches.
      if (!plain && (snap.inboundTlsHttpByPort.has(local) || snap.inboundTlsHttpByPort.has(port))) return undefined;
      return plain ?? snap.inboundHttpDefault;
    }
  }
}

const PREFACE = 'PRI * HTTP/2.0\r\n';

/** The start of the HTTP/2 connection preface (RFC 9113 §3.4). */
export function isH2Preface(d: Buffer): boolean {
  return d.length >= PREFACE.length && d[0] === 0x50 && d.toString('latin1', 0, PREFACE.length) === PREFACE;
}
