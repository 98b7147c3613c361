// The push queue: connections waiting for a push, each at most once. A push request for a connection that is
// already queued merges into the queued one (full wins, endpoint names union, earliest start kept), so a burst of
// changes costs one push per proxy. The queue drains in small batches per event-loop turn so ACKs and new
// connections are served between batches.
import type { PushRequest } from './types.ts';

/** Merge two push requests for the same connection. */
export function mergePush(a: PushRequest, b: PushRequest): PushRequest {
  const full = a.full || b.full;
  let edsNames: Set<string> | undefined;
  if (!full) {
    edsNames = new Set(a.edsNames ?? []);
    for (const n of b.edsNames ?? []) edsNames.add(n);
  }
  const reasons = [...new Set([...a.reasons, ...b.reasons])];
  return { full, ...(edsNames ? { edsNames } : {}), reasons, startMs: Math.min(a.startMs, b.startMs) };
}

interface Queued {
  req: PushRequest;
  enqueuedAtMs: number;
}

export interface PushQueueOptions<C> {
  /** Push to one connection. Synchronous: generation and writes happen here. */
  process(conn: C, req: PushRequest, enqueuedAtMs: number): void;
  /** Connections processed per event-loop turn. Default 32. */
  batch?: number;
  /** Whether pushes may start now (the server's push budget); when false the queue waits for `kick()`. */
  ready?: () => boolean;
  now?: () => number;
}

export class PushQueue<C> {
  readonly #queued = new Map<C, Queued>();
  readonly #opts: PushQueueOptions<C>;
  readonly #batch: number;
  readonly #now: () => number;
  #scheduled = false;
  #idleWaiters: Array<() => void> = [];

  constructor(opts: PushQueueOptions<C>) {
    this.#opts = opts;
    this.#batch = opts.batch ?? 32;
    this.#now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.#queued.size;
  }

  /** Queue a push for a connection, merging with one already queued. */
  enqueue(conn: C, req: PushRequest): void {
    const q = this.#queued.get(conn);
    if (q) q.req = mergePush(q.req, req);
    else this.#queued.set(conn, { req, enqueuedAtMs: this.#now() });
    this.#schedule();
  }

  /** Forget a connection (it closed). */
  remove(conn: C): void {
    this.#queued.delete(conn);
    if (this.#queued.size === 0) this.#resolveIdle();
  }

  /** Resolves when the queue is empty (now, or after the current drain). */
  idle(): Promise<void> {
    if (this.#queued.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#drain());
  }

  /** Resume draining (the server's budget freed up). */
  kick(): void {
    if (this.#queued.size > 0) this.#schedule();
  }

  #drain(): void {
    this.#scheduled = false;
    const ready = this.#opts.ready ?? (() => true);
    let n = 0;
    for (const [conn, q] of this.#queued) {
      if (n++ >= this.#batch || !ready()) break;
      this.#queued.delete(conn);
      this.#opts.process(conn, q.req, q.enqueuedAtMs);
    }
    if (this.#queued.size === 0) this.#resolveIdle();
    else if (ready()) this.#schedule();
    // else: wait for kick() when ACKs return budget.
  }

  #resolveIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}
