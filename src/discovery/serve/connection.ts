// One ADS stream: its node and parsed proxy, the state of every type it watches, and its place in the push queue.
// The stream itself is reached only through `write` and `close`, so the protocol code stays testable.
import { randomBytes } from 'node:crypto';
import { TypeUrl } from '../../xds/protos.ts';
import type { ConnectionInfo, PushRequest } from './types.ts';
import { WatchedType } from './watch.ts';

/** The transport under a connection: a grpc-js duplex stream in production. */
export interface StreamSink {
  /** Returns false when the stream's buffer is full; `onDrain` then fires once it empties. */
  write(message: unknown): boolean;
  onDrain(fn: () => void): void;
  /** End the stream; with an error status when `error` is given. */
  close(error?: { code: number; details: string }): void;
}

/** Envoy's order: clusters before their endpoints, listeners before their routes (make-before-break). */
const pushOrder: readonly string[] = [TypeUrl.cluster, TypeUrl.endpoint, TypeUrl.listener, TypeUrl.route, TypeUrl.secret];

export class Connection<P> {
  readonly protocol: 'sotw' | 'delta';
  readonly sink: StreamSink;
  readonly peerAddress: string;
  readonly peerIdentity: string | undefined;
  info: ConnectionInfo | undefined;
  proxy: P | undefined;
  /** Generation cache key of this proxy under a view (undefined = do not share), memoized per view. */
  cacheKey: { view: unknown; key: string | undefined } | undefined;
  readonly watched = new Map<string, WatchedType>();
  /** A push that arrived while the stream was blocked on a full buffer; sent on drain. */
  deferred: PushRequest | undefined;
  blocked = false;
  closed = false;
  readonly #noncePrefix = randomBytes(4).toString('hex');
  #nonceCounter = 0;

  constructor(protocol: 'sotw' | 'delta', sink: StreamSink, peerAddress: string, peerIdentity: string | undefined) {
    this.protocol = protocol;
    this.sink = sink;
    this.peerAddress = peerAddress;
    this.peerIdentity = peerIdentity;
  }

  nextNonce(): string {
    return `${this.#noncePrefix}-${++this.#nonceCounter}`;
  }

  /** Watched types in push order (known types first in Envoy's order, then any others). */
  orderedTypes(): WatchedType[] {
    const known = pushOrder.map((t) => this.watched.get(t)).filter((w): w is WatchedType => w !== undefined);
    const others = [...this.watched.values()].filter((w) => !pushOrder.includes(w.typeUrl));
    return [...known, ...others];
  }
}
