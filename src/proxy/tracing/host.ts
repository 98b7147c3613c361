// The engine's handle on tracing. Until an HTTP connection manager with a tracer takes a request nothing of the
// tracing code is loaded (an idle sidecar without tracing pays for this file only); the first traced request
// loads the runtime synchronously, so no request goes untraced while it loads.
import { createRequire } from 'node:module';
import type { TracingConfig } from './config.ts';
import type { ExporterStats } from './exporter.ts';
import type { TracingRuntime, TracingRuntimeOptions } from './runtime.ts';
import type { ActiveSpan } from './span.ts';
import type { TraceDirection } from './tracer.ts';

const require = createRequire(import.meta.url);

export class TracingHost {
  private readonly o: TracingRuntimeOptions;
  private runtime: TracingRuntime | undefined;

  constructor(options: TracingRuntimeOptions) {
    this.o = options;
  }

  private load(): TracingRuntime {
    const m = require('./runtime.ts') as typeof import('./runtime.ts');
    this.runtime = new m.TracingRuntime(this.o);
    return this.runtime;
  }

  /** Start the span of a request that `cfg`'s connection manager received with `headers` (flat, lowercase). */
  start(cfg: TracingConfig, headers: readonly string[], direction: TraceDirection): ActiveSpan {
    return (this.runtime ?? this.load()).tracerFor(cfg).start(headers, direction);
  }

  /** Export queued spans (drain, shutdown); bounded by `timeoutMs`. */
  async flush(timeoutMs: number): Promise<void> {
    await this.runtime?.flush(timeoutMs);
  }

  close(): void {
    this.runtime?.close();
  }

  /** Exporter counters, or undefined when nothing was ever traced. */
  stats(): Record<string, ExporterStats> | undefined {
    return this.runtime?.stats();
  }
}
