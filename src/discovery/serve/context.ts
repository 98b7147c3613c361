// What the protocol handlers (sotw.ts, delta.ts) need from the server: the current view, generation with a
// per-view cache, metrics, the clock and an event hook. Keeping it an interface lets the handlers stay small.
import type { Connection } from './connection.ts';
import type { EncodedResource } from './encode.ts';
import type { XdsMetrics } from './metrics.ts';
import type { Names } from './names.ts';
import type { Outstanding } from './watch.ts';
import type { XdsView } from './types.ts';

/** Things that happen on streams, for tests, benchmarks and logs. */
export type XdsEvent =
  | { kind: 'connect'; connId: string; nodeId: string }
  | { kind: 'disconnect'; connId: string; nodeId: string }
  | { kind: 'push'; connId: string; typeUrl: string; nonce: string; version: string; resources: number; removed: number }
  | { kind: 'ack'; connId: string; nodeId: string; typeUrl: string; nonce: string; version: string; startMs: number }
  | { kind: 'nack'; connId: string; nodeId: string; typeUrl: string; nonce: string; message: string };

export interface ServeContext<P> {
  view(): XdsView<P>;
  /** Generate and encode a type for a connection (cached per view by the proxy's cache key). Throws on bad output. */
  generate(conn: Connection<P>, typeUrl: string, names: Names | undefined): readonly EncodedResource[];
  metrics: XdsMetrics;
  now(): number;
  emit(e: XdsEvent): void;
  log(level: 'debug' | 'info' | 'warn', message: string): void;
  /** Hand a stream a response; handles backpressure and write timeouts. */
  send(conn: Connection<P>, message: unknown): void;
  /** Count a sent response's bytes against the push budget (until `release`). */
  hold(o: Outstanding): void;
  /** Give a response's bytes back to the push budget (idempotent). */
  release(o: Outstanding): void;
}
