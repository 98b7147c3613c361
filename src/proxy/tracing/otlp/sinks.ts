// OTLP trace export: OTLP/HTTP (POST /v1/traces, application/x-protobuf) or OTLP/gRPC
// (opentelemetry.proto.collector.trace.v1.TraceService/Export), the request written by wire.ts, over the collector
// cluster's transport (plaintext or its TLS). Loaded only when a tracer exports OTLP.
import type { SecureContext } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { SpanSink } from '../exporter.ts';
import { type Endpoint, type Transport, newPool, post, transportFor } from '../http-post.ts';
import { writeExportRequest } from './wire.ts';

export const EXPORT_METHOD = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

export function otlpHttpSink(o: { resolve: () => Endpoint | undefined; cluster: string; host: string; path: string; timeoutMs: number; headers: ReadonlyArray<readonly [string, string]>; serviceName: string; version: string }): SpanSink {
  const pool = newPool();
  return {
    send(spans) {
      const target = o.resolve();
      if (!target) return Promise.reject(new Error(`no healthy endpoint in cluster ${o.cluster}`));
      return post(pool, target, o.host, o.path, 'application/x-protobuf', writeExportRequest(spans, o.serviceName, o.version), o.headers, o.timeoutMs);
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
      const body = Buffer.from(writeExportRequest(spans, o.serviceName, o.version));
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
