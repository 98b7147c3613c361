// Batch export of finished spans: a bounded queue (a full queue drops the span and counts it), flushed every
// interval, as soon as a batch is full, and at drain. One export in flight at a time; a failed export loses its
// batch and is counted (no retry: a collector that is down must not make the proxy hold memory). Nothing here
// blocks or fails a request: add() is O(1) and never throws.
import type { SpanRecord } from './span.ts';

/** Sends one batch to a collector; rejects on any failure (no endpoint, connection, status, timeout). */
export interface SpanSink {
  send(spans: readonly SpanRecord[]): Promise<void>;
  close(): void;
}

export interface ExporterOptions {
  /** Creates the sink at the first export (loads the encoder then, not before). */
  sink: () => Promise<SpanSink>;
  /** Spans held at most; default 2048. */
  maxQueue?: number;
  /** Spans per export request; default 512. */
  maxBatch?: number;
  /** Flush interval in ms; default 1000. */
  intervalMs?: number;
  log: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** Name in log lines (the provider). */
  name: string;
}

export interface ExporterStats {
  /** Spans accepted by the collector. */
  exported: number;
  /** Spans dropped because the queue was full. */
  dropped: number;
  /** Spans lost in failed exports. */
  failed: number;
  /** Spans waiting. */
  queued: number;
}

/** At most one failure line per this many ms, per exporter. */
const LOG_EVERY_MS = 10_000;

export class BatchExporter {
  private readonly o: Required<Omit<ExporterOptions, 'log' | 'name' | 'sink'>> & ExporterOptions;
  private queue: SpanRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private sinkPromise: Promise<SpanSink> | undefined;
  private lastLog = -Infinity;
  private closed = false;
  readonly stats: ExporterStats = { exported: 0, dropped: 0, failed: 0, queued: 0 };

  constructor(options: ExporterOptions) {
    this.o = { maxQueue: 2048, maxBatch: 512, intervalMs: 1000, ...options };
  }

  add(span: SpanRecord): void {
    if (this.closed || this.queue.length >= this.o.maxQueue) {
      this.stats.dropped++;
      return;
    }
    this.queue.push(span);
    this.stats.queued = this.queue.length;
    this.timer ??= setInterval(() => void this.exportOnce(), this.o.intervalMs).unref();
    if (this.queue.length >= this.o.maxBatch && !this.inFlight) setImmediate(() => void this.exportOnce());
  }

  /** Export one batch (or join the one in flight). Never rejects. */
  private exportOnce(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    if (this.queue.length === 0) return Promise.resolve();
    const batch = this.queue.splice(0, this.o.maxBatch);
    this.stats.queued = this.queue.length;
    const run = async (): Promise<void> => {
      try {
        this.sinkPromise ??= this.o.sink();
        const sink = await this.sinkPromise;
        await sink.send(batch);
        this.stats.exported += batch.length;
      } catch (e) {
        this.stats.failed += batch.length;
        const now = performance.now();
        if (now - this.lastLog >= LOG_EVERY_MS) {
          this.lastLog = now;
          this.o.log('warn', `tracing: ${this.o.name}: export of ${batch.length} spans failed: ${e instanceof Error ? e.message : String(e)} (spans are dropped until the collector answers; requests are not affected)`);
        }
      }
    };
    this.inFlight = run().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Export everything queued now; resolves when done or after `timeoutMs`, whichever is first. Never rejects. */
  async flush(timeoutMs = 5000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const all = async (): Promise<void> => {
      if (this.inFlight) await this.inFlight;
      while (this.queue.length > 0 && performance.now() < deadline) await this.exportOnce();
    };
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all(), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs).unref()))]);
    clearTimeout(timer);
  }

  /** Stop the timer and release the sink; spans added later are dropped. */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    void this.sinkPromise?.then((s) => s.close(), () => undefined);
  }
}
