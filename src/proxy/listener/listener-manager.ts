// Binds sockets: the sidecar's own ports (explicit outbound, inbound) and every LDS listener that asks to be bound
// (gateways). A listener whose address and port are unchanged keeps its socket across config versions and picks
// up its new filter chains; removed listeners stop accepting and their connections drain.
import * as net from 'node:net';
import { DownstreamConnection, type ListenerContext } from '../hcm/connection.ts';
import type { ProxyServices, Direction } from '../hcm/services.ts';
import { selectChain, type ListenerConfig } from './listener-config.ts';
import { proxyTcp } from './tcp-proxy.ts';
import { acceptInbound, INBOUND_DETECTION_TIMEOUT_MS } from './inbound-tls.ts';
import type { ConnectionFacts } from './chain-match.ts';
import { terminateTls } from './gateway-tls.ts';
import { inspectTls, socketFacts } from './tls-inspector.ts';
import { ServerContexts } from '../tls/server-contexts.ts';

export interface BoundListener {
  name: string;
  server: net.Server;
  /** Current config (replaced on update). */
  config: ListenerConfig | undefined;
  port: number;
  error: string | undefined;
}

export class ListenerManager {
  private readonly services: ProxyServices;
  /** LDS listeners bound to their own sockets (gateways), by name. */
  readonly bound = new Map<string, BoundListener>();
  /** The proxy's own ports (explicit outbound, inbound), by name. */
  readonly own = new Map<string, BoundListener>();
  /** Certificates for TLS-terminating filter chains (gateway servers); set credentialsDir for credentialName. */
  readonly serverContexts: ServerContexts;
  /** Bound on an inbound connection's first byte and TLS handshake (inbound-tls.ts). */
  inboundDetectionTimeoutMs = INBOUND_DETECTION_TIMEOUT_MS;

  constructor(services: ProxyServices) {
    this.services = services;
    this.serverContexts = new ServerContexts(() => services.secrets, (level, message) => services.log(level, message));
  }

  /** Bind one of the proxy's own ports (outbound explicit proxy or inbound). Resolves with the bound port. */
  bindOwn(name: string, address: string, port: number, mode: 'explicit' | 'inbound', direction: Direction): Promise<number> {
    const ctx: ListenerContext = { services: this.services, direction, mode, hcm: undefined, listenerName: name, maxHeaderBytes: 60 * 1024 };
    const server = net.createServer({ noDelay: true }, (socket) => {
      if (mode === 'inbound') acceptInbound(socket, ctx, this.services.secrets, this.inboundDetectionTimeoutMs);
      else new DownstreamConnection(socket, ctx);
    });
    return this.listen(this.own, name, server, address, port, undefined);
  }

  private listen(into: Map<string, BoundListener>, name: string, server: net.Server, address: string, port: number, config: ListenerConfig | undefined): Promise<number> {
    const entry: BoundListener = { name, server, config, port, error: undefined };
    into.set(name, entry);
    return new Promise((resolve, reject) => {
      server.once('error', (e) => {
        entry.error = e.message;
        reject(e);
      });
      server.listen({ host: address, port }, () => {
        const a = server.address();
        entry.port = typeof a === 'object' && a ? a.port : port;
        server.on('error', (e) => void (entry.error = e.message));
        resolve(entry.port);
      });
    });
  }

  /** Reconcile bound LDS listeners with the current config. Bind errors are recorded, not thrown. */
  async reconcile(listeners: Iterable<ListenerConfig>, reserved: ReadonlySet<number>): Promise<void> {
    const wanted = new Map<string, ListenerConfig>();
    for (const l of listeners) if (l.bindToPort && !l.useOriginalDst && !reserved.has(l.port) && !this.own.has(l.name)) wanted.set(l.name, l);
    for (const [name, b] of this.bound) {
      const w = wanted.get(name);
      if (w && b.config && w.port === b.config.port && w.address === b.config.address) {
        b.config = w;
        wanted.delete(name);
      } else {
        this.bound.delete(name);
        b.server.close();
      }
    }
    const binds: Promise<unknown>[] = [];
    for (const l of wanted.values()) {
      const holder: { config: ListenerConfig } = { config: l };
      const server = net.createServer({ noDelay: true }, (socket) => this.accept(socket, this.bound.get(l.name)?.config ?? holder.config));
      binds.push(this.listen(this.bound, l.name, server, l.address, l.port, l).catch(() => undefined));
    }
    await Promise.all(binds);
  }

  private accept(socket: net.Socket, l: ListenerConfig): void {
    if (l.inspectTls) inspectTls(socket, l.port, (facts) => this.dispatch(socket, l, facts));
    else this.dispatch(socket, l, socketFacts(socket, l.port));
  }

  /** Run the connection through the filter chain its facts select (the socket may be paused with bytes unread). */
  private dispatch(socket: net.Socket, l: ListenerConfig, facts: ConnectionFacts): void {
    const chain = selectChain(l, facts);
    if (!chain) {
      socket.destroy();
      return;
    }
    if (chain.tls) {
      terminateTls(socket, l, chain, facts, this.services, this.serverContexts);
      return;
    }
    if (chain.action.kind === 'tcp') {
      proxyTcp(socket, chain.action, this.services, { direction: l.name.startsWith('inbound') ? 'inbound' : 'outbound' });
      return;
    }
    const ctx: ListenerContext = {
      services: this.services,
      direction: l.name.startsWith('inbound') ? 'inbound' : 'outbound',
      mode: 'listener',
      hcm: chain.action.hcm,
      listenerName: l.name,
      maxHeaderBytes: chain.action.hcm.maxHeaderBytes,
    };
    new DownstreamConnection(socket, ctx);
    socket.resume();
  }

  /** Stop accepting everywhere (drain). */
  stopAccepting(): void {
    for (const b of [...this.bound.values(), ...this.own.values()]) b.server.close();
  }
}
