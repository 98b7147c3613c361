// A small gRPC client channel over node:http2, for the sidecar's two control-plane calls (the ADS stream and the
// CSR) without @grpc/grpc-js. One HTTP/2 connection at a time, opened on first use and again after it fails or the
// server sends GOAWAY; plaintext (h2c, 15010) or TLS with the mesh roots and an optional client certificate (mTLS,
// 15012). The server's certificate is checked against the host or IP of the address (or an explicit server name);
// an IP is never sent as SNI. HTTP/2 PINGs while calls are open notice a control plane that vanished silently.
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { GrpcCall, type CallContext, type CallOptions, type MethodDescriptor } from './call.ts';
import { GrpcError, GrpcStatus } from './status.ts';

/** TLS to the server. */
export interface GrpcTlsOptions {
  /** Roots (PEM) that the server's certificate must chain to. */
  rootsPem: string | Buffer;
  /** Client certificate chain (leaf first) and its private key, PEM: mutual TLS. */
  certChainPem?: string | Buffer | undefined;
  keyPem?: string | Buffer | undefined;
  /** Name (DNS name or IP) to verify in the server's certificate instead of the address's host. */
  serverName?: string | undefined;
}

export interface GrpcChannelOptions {
  /** TLS; absent = plaintext HTTP/2 (h2c). */
  tls?: GrpcTlsOptions | undefined;
  /** Interval of HTTP/2 PINGs while a call is open, ms; 0 disables. Default 30000 (as the proxy used with grpc-js). */
  keepaliveTimeMs?: number;
  /** A PING unanswered this long (ms) closes the connection and fails its calls with UNAVAILABLE. Default 20000. */
  keepaliveTimeoutMs?: number;
  /** Connection establishment (TCP + TLS + HTTP/2 settings) limit, ms. Default 20000. */
  connectTimeoutMs?: number;
  /** Largest response message accepted, bytes (larger ones end the call with RESOURCE_EXHAUSTED). Default 4 MiB. */
  maxReceiveMessageBytes?: number;
  /** user-agent header. Default `weft-grpc`. */
  userAgent?: string;
  /** :authority of every call (e.g. the service name an Envoy cluster would send). Default the TLS server name, else HOST:PORT. */
  authority?: string | undefined;
}

/** Split `host:port` / `[v6]:port`. */
export function parseAddress(address: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port > 0 && port < 65536)) throw new GrpcError({ code: GrpcStatus.INVALID_ARGUMENT, details: `address must be HOST:PORT, not "${address}"`, metadata: {} }, address);
  return { host: m[1]!, port };
}

export class GrpcChannel {
  readonly address: string;
  readonly #host: string;
  readonly #port: number;
  readonly #o: GrpcChannelOptions;
  readonly #ctx: CallContext;
  #session: http2.ClientHttp2Session | undefined;
  /** Why each session failed (socket error, TLS verification, keepalive or connect timeout). */
  readonly #failures = new WeakMap<http2.ClientHttp2Session, Error>();
  #active = 0;
  #pingTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Connections opened so far (for tests and stats). */
  connections = 0;

  constructor(address: string, options: GrpcChannelOptions = {}) {
    this.address = address;
    const { host, port } = parseAddress(address);
    this.#host = host;
    this.#port = port;
    this.#o = options;
    const name = options.tls?.serverName;
    const authorityHost = name ?? host;
    this.#ctx = {
      authority: options.authority ?? (net.isIPv6(authorityHost) ? `[${authorityHost}]:${port}` : `${authorityHost}:${port}`),
      userAgent: options.userAgent ?? 'weft-grpc',
      maxReceiveMessageBytes: options.maxReceiveMessageBytes ?? 4 * 1024 * 1024,
      open: (headers) => this.#open(headers),
      release: () => {
        this.#active--;
        if (this.#active === 0) this.#session?.unref();
      },
    };
  }

  /** Open a streaming call (bidirectional; also serves server- and client-streaming methods). */
  call<Req, Res>(method: MethodDescriptor<Req, Res>, opts?: CallOptions): GrpcCall<Req, Res> {
    return new GrpcCall(this.#ctx, method, opts);
  }

  /** One request, one response. Rejects with GrpcError (its `code` is the gRPC status code). */
  unary<Req, Res>(method: MethodDescriptor<Req, Res>, request: Req, opts?: CallOptions): Promise<Res> {
    return new Promise((resolve, reject) => {
      const call = new GrpcCall(this.#ctx, method, opts);
      const responses: Res[] = [];
      call.on('message', (m) => {
        responses.push(m);
        if (responses.length > 1) call.cancel();
      });
      call.once('status', (s) => {
        if (responses.length > 1) return reject(new GrpcError({ code: GrpcStatus.INTERNAL, details: 'the server sent more than one response to a unary call', metadata: s.metadata }, method.path));
        if (s.code !== GrpcStatus.OK) return reject(new GrpcError(s, method.path));
        if (responses.length === 0) return reject(new GrpcError({ code: GrpcStatus.INTERNAL, details: 'the server sent no response message', metadata: s.metadata }, method.path));
        resolve(responses[0]!);
      });
      try {
        call.write(request);
      } catch (e) {
        call.cancel(`cannot encode the request: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      call.end();
    });
  }

  /** Close the connection; open calls end with UNAVAILABLE and new ones fail. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#pingTimer);
    const s = this.#session;
    this.#session = undefined;
    if (s) {
      this.#fail(s, new Error(`the channel to ${this.address} was closed`));
      s.destroy();
    }
  }

  #open(headers: http2.OutgoingHttpHeaders): { stream: http2.ClientHttp2Stream; sessionError: () => Error | undefined } {
    if (this.#closed) throw new Error(`the channel to ${this.address} is closed`);
    const session = this.#usableSession() ?? this.#connect();
    const stream = session.request(headers, { endStream: false });
    this.#active++;
    session.ref();
    return { stream, sessionError: () => this.#failures.get(session) };
  }

  #fail(session: http2.ClientHttp2Session, e: Error): void {
    if (!this.#failures.has(session)) this.#failures.set(session, e);
  }

  #usableSession(): http2.ClientHttp2Session | undefined {
    const s = this.#session;
    return s && !s.closed && !s.destroyed ? s : undefined;
  }

  #connect(): http2.ClientHttp2Session {
    const o = this.#o;
    const host = this.#host;
    const port = this.#port;
    this.connections++;
    let socket: net.Socket;
    if (o.tls) {
      const verifyName = o.tls.serverName ?? host;
      socket = tls.connect({
        host,
        port,
        ca: o.tls.rootsPem,
        ...(o.tls.certChainPem !== undefined && o.tls.keyPem !== undefined ? { cert: o.tls.certChainPem, key: o.tls.keyPem } : {}),
        // SNI carries DNS names only (RFC 6066); an IP target is verified against the certificate's IP SANs.
        ...(net.isIP(verifyName) === 0 ? { servername: verifyName } : {}),
        checkServerIdentity: (_sni, cert) => tls.checkServerIdentity(verifyName, cert),
        ALPNProtocols: ['h2'],
        minVersion: 'TLSv1.2',
      });
    } else socket = net.connect({ host, port });
    socket.setNoDelay(true);
    // Registered before http2's own listener, so the cause is known before the session fails its streams.
    socket.once('error', (e) => this.#fail(session, e));
    const session = http2.connect(`${o.tls ? 'https' : 'http'}://${this.#ctx.authority}`, {
      createConnection: () => socket,
      // Large xDS pushes (CDS of a big mesh) should not crawl through a 64 KiB window.
      settings: { enablePush: false, initialWindowSize: 1 << 20 },
    });
    this.#session = session;
    const connectTimeoutMs = o.connectTimeoutMs ?? 20_000;
    const connectTimer = setTimeout(() => {
      const e = new Error(`could not connect to ${this.address} within ${connectTimeoutMs} ms`);
      this.#fail(session, e);
      session.destroy(e);
    }, connectTimeoutMs);
    connectTimer.unref();
    session.once('connect', () => {
      clearTimeout(connectTimer);
      session.setLocalWindowSize(8 << 20);
      this.#startPings(session);
    });
    session.on('error', (e: Error) => this.#fail(session, e));
    // After GOAWAY the session finishes its streams but takes no new ones: the next call opens a new connection.
    session.once('goaway', () => {
      if (this.#session === session) this.#session = undefined;
    });
    session.once('close', () => {
      clearTimeout(connectTimer);
      if (this.#session === session) {
        this.#session = undefined;
        clearInterval(this.#pingTimer);
      }
    });
    if (this.#active === 0) session.unref();
    return session;
  }

  #startPings(session: http2.ClientHttp2Session): void {
    const every = this.#o.keepaliveTimeMs ?? 30_000;
    if (every <= 0) return;
    const timeoutMs = this.#o.keepaliveTimeoutMs ?? 20_000;
    clearInterval(this.#pingTimer);
    let outstanding = false;
    this.#pingTimer = setInterval(() => {
      // Ping only while calls are open (grpc's keepalive_permit_without_calls = false), one at a time.
      if (this.#active === 0 || outstanding || session.destroyed) return;
      outstanding = true;
      const deadline = setTimeout(() => {
        const e = new Error(`the server at ${this.address} did not answer a keepalive ping within ${timeoutMs} ms`);
        this.#fail(session, e);
        session.destroy(e);
      }, timeoutMs);
      deadline.unref();
      const sent = session.ping((err) => {
        outstanding = false;
        clearTimeout(deadline);
        if (err && !session.destroyed) {
          this.#fail(session, err);
          session.destroy(err);
        }
      });
      if (!sent) {
        outstanding = false;
        clearTimeout(deadline);
      }
    }, every);
    this.#pingTimer.unref();
  }
}
