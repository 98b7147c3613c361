// OTLP trace export, encoded with the official schema: otlp-descriptor.gen.json is opentelemetry-proto's
// collector/trace/v1 (and the trace, common, resource messages it uses) compiled for protobufjs by
// scripts/gen-otlp-descriptor.ts. Sent as OTLP/HTTP (POST /v1/traces, application/x-protobuf) or OTLP/gRPC
// (opentelemetry.proto.collector.trace.v1.TraceService/Export). Loaded only when a tracer exports OTLP.
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import type { SpanSink } from '../exporter.ts';
import type { SecureContext } from 'node:tls';
import { type Endpoint, type Transport, newPool, post, transportFor } from '../http-post.ts';
import type { SpanRecord } from '../span.ts';

const root = protobuf.Root.fromJSON(JSON.parse(readFileSync(new URL('./otlp-descriptor.gen.json', import.meta.url), 'utf8')) as protobuf.INamespace);
/** opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest */
export const ExportTraceServiceRequest = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
export const ExportTraceServiceResponse = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse');
export const EXPORT_METHOD = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

/** SpanKind: SPAN_KIND_SERVER = 2, SPAN_KIND_CLIENT = 3. StatusCode: STATUS_CODE_ERROR = 2. */
const KIND = { SERVER: 2, CLIENT: 3 } as const;

/** ms since the epoch → ns, to the microsecond (a double holds epoch ms to ~0.2 µs, no finer). */
function unixNanos(ms: number): string {
  const whole = Math.floor(ms);
  return (BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e3)) * 1000n).toString();
}

interface KeyValue {
  key: string;
  value: { string_value: string };
}

/** The fixed tags of a tracer as OTLP attributes, built once per tracer (every span shares its fixedTags array). */
const fixedAttributes = new WeakMap<object, KeyValue[]>();

function attributes(s: SpanRecord): KeyValue[] {
  let fixed = fixedAttributes.get(s.fixedTags);
  if (!fixed) {
    fixed = s.fixedTags.map(([key, v]) => ({ key, value: { string_value: v } }));
    fixedAttributes.set(s.fixedTags, fixed);
  }
  const out = fixed.slice();
  for (let i = 0; i < s.tags.length; i += 2) out.push({ key: s.tags[i]!, value: { string_value: s.tags[i + 1]! } });
  return out;
}

/**
 * The request for one batch: one resource (the proxy's service), one scope, the spans with string attributes.
 * Plain objects in the schema's shape go straight to the schema's encoder (no fromObject conversion pass).
 */
export function encodeExportRequest(spans: readonly SpanRecord[], serviceName: string, version: string): Uint8Array {
  const otlpSpans = spans.map((s) => ({
    trace_id: Buffer.from(s.traceId, 'hex'),
    span_id: Buffer.from(s.spanId, 'hex'),
    ...(s.parentSpanId !== undefined ? { parent_span_id: Buffer.from(s.parentSpanId, 'hex') } : {}),
    name: s.name,
    kind: KIND[s.kind],
    start_time_unix_nano: unixNanos(s.startEpochMs),
    end_time_unix_nano: unixNanos(s.startEpochMs + s.durationMs),
    attributes: attributes(s),
    ...(s.error ? { status: { code: 2 } } : {}),
  }));
  return ExportTraceServiceRequest.encode({
    resource_spans: [{
      resource: { attributes: [{ key: 'service.name', value: { string_value: serviceName } }] },
      scope_spans: [{ scope: { name: 'weft-proxy', version }, spans: otlpSpans }],
    }],
  }).finish();
}

export function otlpHttpSink(o: { resolve: () => Endpoint | undefined; cluster: string; host: string; path: string; timeoutMs: number; headers: ReadonlyArray<readonly [string, string]>; serviceName: string; version: string }): SpanSink {
  const pool = newPool();
  return {
    send(spans) {
      const target = o.resolve();
      if (!target) return Promise.reject(new Error(`no healthy endpoint in cluster ${o.cluster}`));
      return post(pool, target, o.host, o.path, 'application/x-protobuf', encodeExportRequest(spans, o.serviceName, o.version), o.headers, o.timeoutMs);
    },
    close() {
      pool.destroy();
    },
  };
}

export function otlpGrpcSink(o: { resolve: () => Endpoint | undefined; cluster: string; authority: string; serviceName: string; version: string; timeoutMs?: number; metadata?: ReadonlyArray<readonly [string, string]> }): SpanSink {
  let client: grpc.Client | undefined;
  /** The client's endpoint and transport: a new address or TLS context (rotation, a changed DestinationRule) makes a new client. */
  let clientKey: { address: string; context: SecureContext | undefined } | undefined;
  const identity = (b: Buffer): Buffer => b;
  return {
    send(spans) {
      const target = o.resolve();
      if (!target) return Promise.reject(new Error(`no healthy endpoint in cluster ${o.cluster}`));
      const address = target.address.includes(':') ? `[${target.address}]:${target.port}` : `${target.address}:${target.port}`;
      const transport = transportFor(target);
      if (typeof transport === 'string') return Promise.reject(new Error(`OTLP gRPC export to ${address}: cannot start TLS: ${transport}`));
      const context = transport.kind === 'tls' ? transport.context : undefined;
      if (!client || clientKey?.address !== address || clientKey.context !== context) {
        client?.close();
        client = new grpc.Client(address, grpcCredentials(transport), grpcOptions(o.authority, transport));
        clientKey = { address, context };
      }
      const body = Buffer.from(encodeExportRequest(spans, o.serviceName, o.version));
      const c = client;
      return new Promise<void>((resolve, reject) => {
        const metadata = new grpc.Metadata();
        for (const [k, v] of o.metadata ?? []) metadata.add(k, v);
        c.makeUnaryRequest(EXPORT_METHOD, identity, identity, body, metadata, { deadline: Date.now() + (o.timeoutMs ?? 5000) }, (err) => (err ? reject(new Error(`OTLP gRPC export to ${address}${context ? ' (TLS)' : ''}: ${err.message}`)) : resolve()));
      });
    },
    close() {
      client?.close();
    },
  };
}

/** Plaintext, or TLS with the cluster's context and its peer check (SANs or the SPIFFE id), as the data path verifies. */
function grpcCredentials(t: Transport): grpc.ChannelCredentials {
  if (t.kind === 'plain' || !t.context) return grpc.credentials.createInsecure();
  const check = t.options.checkServerIdentity;
  return grpc.credentials.createFromSecureContext(t.context, check ? { checkServerIdentity: check } : {});
}

function grpcOptions(authority: string, t: Transport): grpc.ChannelOptions {
  const options: grpc.ChannelOptions = { 'grpc.default_authority': authority };
  // SNI: the cluster's (DestinationRule sni, or Istio's outbound_.<port>_._.<host> for ISTIO_MUTUAL).
  if (t.kind === 'tls' && t.options.servername) options['grpc.ssl_target_name_override'] = t.options.servername;
  return options;
}
