// The ADS server: StreamAggregatedResources (state of the world) and DeltaAggregatedResources (incremental) on
// grpc-js. It tracks every stream, serves the current view, queues pushes (one pending per connection), and
// exposes what each proxy was sent, acked and nacked for /debug/syncz, config dumps and `weft proxy-status`.
import * as grpc from '@grpc/grpc-js';
import { adsServiceDefinition } from '../../xds/protos.ts';
import { Connection, type StreamSink } from './connection.ts';
import type { ServeContext, XdsEvent } from './context.ts';
import { onDeltaRequest, type DeltaRequest } from './delta.ts';
import { EncodeCache, encodeResource, type EncodedResource } from './encode.ts';
import { createXdsMetrics, type XdsMetrics } from './metrics.ts';
import type { Names } from './names.ts';
import { nodeFromWire } from './node.ts';
import { PushQueue } from './push-queue.ts';
import { pushConnection } from './pusher.ts';
import { onSotwRequest, type SotwRequest } from './sotw.ts';
import type { ConnectionInfo, ProxyModel, PushRequest, XdsView } from './types.ts';
import type { WatchedType } from './watch.ts';

export interface DiscoveryServerOptions<P> {
  model: ProxyModel<P>;
  /** The view served until the first update(). */
  view: XdsView<P>;
  metrics?: XdsMetrics;
  /** A stream whose buffer does not drain within this many ms is closed (pilot_xds_write_timeout). Default 5000. */
  writeTimeoutMs?: number;
  /** Connections pushed per event-loop turn. Default 32. */
  pushBatch?: number;
  /**
   * Bytes of pushed config that may be unacknowledged at once (default 64 MiB). Queued pushes wait while more is in
   * flight, so a push of a large state-of-the-world CDS to thousands of proxies is paced by their ACKs instead of
   * being buffered in memory all at once. A response's bytes are released on ACK/NACK, disconnect, or after 10 s.
   */
  pushBudgetBytes?: number;
  /** SPIFFE identity of a stream's client certificate, when served over mTLS. */
  peerIdentity?: (call: grpc.ServerDuplexStream<unknown, unknown>) => string | undefined;
  log?: (level: 'debug' | 'info' | 'warn', message: string) => void;
  now?: () => number;
}

/** One connection as /debug/syncz and proxy-status see it. */
export interface ConnectionSnapshot {
  info: ConnectionInfo;
  types: ReadonlyMap<string, WatchedType>;
}

export class DiscoveryServer<P> {
  readonly metrics: XdsMetrics;
  readonly #model: ProxyModel<P>;
  #view: XdsView<P>;
  readonly #conns = new Set<Connection<P>>();
  readonly #queue: PushQueue<Connection<P>>;
  readonly #listeners = new Set<(e: XdsEvent) => void>();
  readonly #opts: DiscoveryServerOptions<P>;
  readonly #now: () => number;
  readonly #ctx: ServeContext<P>;
  /** Generated output per (cache key, type, names) for the current view. */
  #cache = new Map<string, readonly EncodedResource[]>();
  #cacheNames = new Set<Names>();
  readonly #encodeCache = new EncodeCache();
  #connCounter = 0;
  /** Bytes sent and not yet acknowledged (the push budget in use). */
  #inFlightBytes = 0;
  readonly #sweeper: NodeJS.Timeout;

  constructor(opts: DiscoveryServerOptions<P>) {
    this.#opts = opts;
    this.#model = opts.model;
    this.#view = opts.view;
    this.metrics = opts.metrics ?? createXdsMetrics();
    this.#now = opts.now ?? Date.now;
    this.#queue = new PushQueue<Connection<P>>({
      process: (conn, req, enqueuedAtMs) => {
        this.metrics.queueTime.observe(Math.max(0, this.#now() - enqueuedAtMs) / 1000);
        pushConnection(this.#ctx, conn, req);
      },
      batch: opts.pushBatch ?? 32,
      now: this.#now,
      ready: () => this.#inFlightBytes < (opts.pushBudgetBytes ?? 64 << 20),
    });
    this.#sweeper = setInterval(() => this.#releaseStale(), 1000);
    this.#sweeper.unref();
    const log = opts.log ?? (() => {});
    this.#ctx = {
      view: () => this.#view,
      generate: (conn, typeUrl, names) => this.#generate(conn, typeUrl, names),
      metrics: this.metrics,
      now: this.#now,
      emit: (e) => {
        for (const l of this.#listeners) l(e);
      },
      log,
      send: (conn, message) => this.#send(conn, message),
      hold: (o) => {
        this.#inFlightBytes += o.bytes;
      },
      release: (o) => {
        if (o.released) return;
        o.released = true;
        this.#inFlightBytes -= o.bytes;
        this.#queue.kick();
      },
    };
  }

  /** Add the ADS service to a grpc-js server (plaintext 15010 and TLS 15012 share one DiscoveryServer). */
  register(server: grpc.Server): void {
    server.addService(adsServiceDefinition(), {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<SotwRequest, unknown>) => this.#accept('sotw', call as grpc.ServerDuplexStream<unknown, unknown>),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<DeltaRequest, unknown>) => this.#accept('delta', call as grpc.ServerDuplexStream<unknown, unknown>),
    });
  }

  /** Serve a new view and push to every connection. */
  update(view: XdsView<P>, push: PushRequest): void {
    this.#view = view;
    this.#cache = new Map();
    this.#cacheNames = new Set();
    this.#encodeCache.rotate();
    this.push(push);
    const t0 = this.#now();
    const n = this.#conns.size;
    void this.#queue.idle().then(() =>
      this.#ctx.log('debug', `xDS: ${push.full ? 'full' : 'endpoint'} push of ${view.version} queued to ${n} connections; queue drained ${this.#now() - t0} ms later (${push.reasons.join(',')})`),
    );
  }

  /** Queue a push to every connection (merged with anything already queued for it). */
  push(push: PushRequest): void {
    for (const conn of this.#conns) if (conn.proxy !== undefined) this.#queue.enqueue(conn, push);
  }

  /** Queue a push to the connections whose proxy matches (e.g. proxies whose own workload changed). */
  pushWhere(match: (proxy: P) => boolean, push: PushRequest): void {
    for (const conn of this.#conns) if (conn.proxy !== undefined && match(conn.proxy)) this.#queue.enqueue(conn, push);
  }

  get view(): XdsView<P> {
    return this.#view;
  }

  /** Resolves when no push is queued. */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  /** Subscribe to stream events; returns the unsubscribe function. */
  onEvent(listener: (e: XdsEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Connected streams whose node was identified. */
  connections(): ConnectionSnapshot[] {
    const out: ConnectionSnapshot[] = [];
    for (const c of this.#conns) if (c.info !== undefined) out.push({ info: c.info, types: c.watched });
    return out;
  }

  /** The proxy model of a connection, by node id (first match). */
  proxyOf(nodeId: string): P | undefined {
    for (const c of this.#conns) if (c.info?.node.id === nodeId && c.proxy !== undefined) return c.proxy;
    return undefined;
  }

  /** Bytes of pushed config not yet acknowledged. */
  get inFlightBytes(): number {
    return this.#inFlightBytes;
  }

  /** A proxy that does not answer must not hold the push budget forever. */
  #releaseStale(): void {
    const cutoff = this.#now() - 10_000;
    for (const c of this.#conns) for (const w of c.watched.values()) for (const o of w.outstanding) if (!o.released && o.sentAtMs < cutoff) this.#ctx.release(o);
  }

  /** End every stream (shutdown). */
  closeAll(): void {
    clearInterval(this.#sweeper);
    for (const c of [...this.#conns]) {
      c.sink.close();
      this.#drop(c);
    }
  }

  #accept(protocol: 'sotw' | 'delta', call: grpc.ServerDuplexStream<unknown, unknown>): void {
    let closed = false;
    const sink: StreamSink = {
      write: (m) => call.write(m),
      onDrain: (fn) => void call.once('drain', fn),
      close: (error) => {
        if (closed) return;
        closed = true;
        if (error) call.emit('error', { code: error.code, details: error.details, metadata: new grpc.Metadata() });
        else call.end();
      },
    };
    const conn = new Connection<P>(protocol, sink, call.getPeer(), this.#opts.peerIdentity?.(call));
    this.#conns.add(conn);
    call.on('data', (req: unknown) => {
      try {
        this.#onRequest(conn, req);
      } catch (e) {
        this.#ctx.log('warn', `xDS: internal error on ${conn.info?.node.id ?? call.getPeer()}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        sink.close({ code: grpc.status.INTERNAL, details: 'internal error in the discovery server' });
        this.#drop(conn);
      }
    });
    const end = (): void => {
      this.#drop(conn);
      if (!closed) {
        closed = true;
        call.end();
      }
    };
    call.on('end', end);
    call.on('cancelled', () => this.#drop(conn));
    call.on('error', () => this.#drop(conn));
    call.on('close', () => this.#drop(conn));
  }

  #onRequest(conn: Connection<P>, req: unknown): void {
    if (conn.closed) return;
    if (conn.proxy === undefined && !this.#identify(conn, (req as { node?: unknown }).node)) return;
    if (conn.protocol === 'sotw') onSotwRequest(this.#ctx, conn, req as SotwRequest);
    else onDeltaRequest(this.#ctx, conn, req as DeltaRequest);
  }

  #identify(conn: Connection<P>, rawNode: unknown): boolean {
    const node = nodeFromWire(rawNode);
    const peer = { address: conn.peerAddress, identity: conn.peerIdentity };
    if (node === undefined) {
      conn.sink.close({ code: grpc.status.INVALID_ARGUMENT, details: 'the first request on an ADS stream must carry node with an id' });
      this.#drop(conn);
      return false;
    }
    const parsed = this.#model.parse(node, peer);
    if (!parsed.ok) {
      this.#ctx.log('warn', `xDS: refused ${node.id} from ${conn.peerAddress}: ${parsed.error}`);
      conn.sink.close({ code: grpc.status.INVALID_ARGUMENT, details: `node ${node.id}: ${parsed.error}` });
      this.#drop(conn);
      return false;
    }
    conn.proxy = parsed.value;
    conn.info = { connId: `${node.id}-${++this.#connCounter}`, node, peer, protocol: conn.protocol, connectedAt: new Date(this.#now()) };
    this.metrics.connected.inc({ version: versionLabel(node.metadata['ISTIO_VERSION']) });
    this.#model.connected?.(parsed.value, conn.info);
    this.#ctx.log('info', `xDS: ${node.id} connected (${conn.protocol}, peer ${conn.peerAddress}${conn.peerIdentity ? `, ${conn.peerIdentity}` : ''})`);
    this.#ctx.emit({ kind: 'connect', connId: conn.info.connId, nodeId: node.id });
    return true;
  }

  #drop(conn: Connection<P>): void {
    if (conn.closed) return;
    conn.closed = true;
    for (const w of conn.watched.values()) for (const o of w.outstanding) this.#ctx.release(o);
    this.#conns.delete(conn);
    this.#queue.remove(conn);
    if (conn.info !== undefined && conn.proxy !== undefined) {
      this.metrics.connected.dec({ version: versionLabel(conn.info.node.metadata['ISTIO_VERSION']) });
      this.#model.disconnected?.(conn.proxy, conn.info);
      this.#ctx.log('info', `xDS: ${conn.info.node.id} disconnected after ${((this.#now() - conn.info.connectedAt.getTime()) / 1000).toFixed(1)} s`);
      this.#ctx.emit({ kind: 'disconnect', connId: conn.info.connId, nodeId: conn.info.node.id });
    }
  }

  #generate(conn: Connection<P>, typeUrl: string, names: Names | undefined): readonly EncodedResource[] {
    const proxy = conn.proxy;
    if (proxy === undefined) return [];
    if (conn.cacheKey?.view !== this.#view) conn.cacheKey = { view: this.#view, key: this.#view.cacheKey?.(proxy) };
    const shared = conn.cacheKey.key;
    const key = shared === undefined ? undefined : `${shared}\u0000${typeUrl}\u0000${names === undefined ? '*' : names.id}`;
    if (key !== undefined) {
      const hit = this.#cache.get(key);
      if (hit !== undefined) return hit;
    }
    const generated = this.#view.generate(proxy, typeUrl, names?.list).map((r) => encodeResource(typeUrl, r, this.#encodeCache));
    if (key !== undefined) {
      this.#cache.set(key, generated);
      // The cache key names the Names object by id: keep it alive as long as the entry.
      if (names !== undefined) this.#cacheNames.add(names);
    }
    return generated;
  }

  #send(conn: Connection<P>, message: unknown): void {
    if (conn.closed) return;
    if (conn.sink.write(message)) return;
    // The buffer is full: hold further pushes until it drains, and give up on a proxy that stops reading.
    conn.blocked = true;
    const timeoutMs = this.#opts.writeTimeoutMs ?? 5000;
    const timer = setTimeout(() => {
      this.metrics.writeTimeouts.inc();
      this.#ctx.log('warn', `xDS: ${conn.info?.node.id ?? conn.peerAddress} did not read its config within ${timeoutMs} ms; closing the stream`);
      conn.sink.close({ code: grpc.status.DEADLINE_EXCEEDED, details: 'xDS write timeout' });
      this.#drop(conn);
    }, timeoutMs);
    timer.unref();
    conn.sink.onDrain(() => {
      clearTimeout(timer);
      conn.blocked = false;
      const deferred = conn.deferred;
      conn.deferred = undefined;
      if (deferred !== undefined) this.#queue.enqueue(conn, deferred);
    });
  }
}

function versionLabel(v: unknown): string {
  return typeof v === 'string' && v !== '' ? v : 'unknown';
}
