// The proxy's tracing state once some HCM traces: one Tracer per compiled tracing config, and one batch exporter
// per provider (HCMs that export to the same collector share its queue). Encoders load at the first export.
import type { TracerProvider, TracingConfig } from './config.ts';
import { BatchExporter, type ExporterStats, type SpanSink } from './exporter.ts';
import type { Endpoint } from './http-post.ts';
import { Tracer, fixedCustomTags } from './tracer.ts';

export interface TracingRuntimeOptions {
  /** This proxy's node id (the node_id tag). */
  nodeId: string;
  /** A host of `cluster` to export to (the cluster's load balancer), or undefined when it has none. */
  resolve(cluster: string): Endpoint | undefined;
  random(): number;
  /** The proxy's environment, for `environment` custom tags. */
  env(name: string): string | undefined;
  log(level: 'info' | 'warn' | 'error', message: string): void;
  /** Weft's version (the OTLP instrumentation scope). */
  version: string;
}

export class TracingRuntime {
  private readonly o: TracingRuntimeOptions;
  private readonly exporters = new Map<string, BatchExporter>();
  private readonly tracers = new WeakMap<TracingConfig, Tracer>();

  constructor(options: TracingRuntimeOptions) {
    this.o = options;
  }

  tracerFor(cfg: TracingConfig): Tracer {
    let t = this.tracers.get(cfg);
    if (t) return t;
    const exporter = this.exporterFor(cfg.provider, cfg.providerKey);
    t = new Tracer(cfg, {
      record: (s) => exporter.add(s),
      random: this.o.random,
      fixedTags: [['node_id', this.o.nodeId], ...fixedCustomTags(cfg.customTags, this.o.env)],
    });
    this.tracers.set(cfg, t);
    return t;
  }

  private exporterFor(p: TracerProvider, key: string): BatchExporter {
    let e = this.exporters.get(key);
    if (e) return e;
    const resolve = (): Endpoint | undefined => this.o.resolve(p.cluster);
    const version = this.o.version;
    const sink = async (): Promise<SpanSink> => {
      switch (p.kind) {
        case 'zipkin':
          return (await import('./zipkin/zipkin.ts')).zipkinSink({ resolve, cluster: p.cluster, host: p.host, path: p.path, traceId128: p.traceId128 });
        case 'otlp-http':
          return (await import('./otlp/sinks.ts')).otlpHttpSink({ resolve, cluster: p.cluster, host: p.host, path: p.path, timeoutMs: p.timeoutMs, headers: p.headers, serviceName: p.serviceName, version });
        case 'otlp-grpc':
          return (await import('./otlp/sinks.ts')).otlpGrpcSink({ resolve, cluster: p.cluster, authority: p.authority, serviceName: p.serviceName, version, timeoutMs: p.timeoutMs, metadata: p.metadata });
      }
    };
    e = new BatchExporter({ sink, log: this.o.log, name: `${p.kind} → ${p.cluster}` });
    this.exporters.set(key, e);
    return e;
  }

  /** Export what is queued (drain); bounded by `timeoutMs`. */
  async flush(timeoutMs: number): Promise<void> {
    await Promise.all([...this.exporters.values()].map((e) => e.flush(timeoutMs)));
  }

  close(): void {
    for (const e of this.exporters.values()) e.close();
  }

  /** Per exporter (provider kind → cluster): exported, dropped, failed, queued. */
  stats(): Record<string, ExporterStats> {
    const out: Record<string, ExporterStats> = {};
    for (const [key, e] of this.exporters) {
      const p = JSON.parse(key) as TracerProvider;
      out[`${p.kind}|${p.cluster}`] = { ...e.stats };
    }
    return out;
  }
}
