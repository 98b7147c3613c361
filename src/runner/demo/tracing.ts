// `weft demo --tracing-collector HOST:PORT`: Bookinfo with distributed tracing, configured as an Istio user would —
// a MeshConfig extension provider (OpenTelemetry over HTTP or gRPC, or Zipkin) for a collector outside the mesh,
// a ServiceEntry that gives the collector a service name, and a mesh-wide Telemetry sampling every request.
import { isIP } from 'node:net';
import { UsageError } from '../../core/errors.ts';

export type CollectorProtocol = 'otlp-http' | 'otlp-grpc' | 'zipkin';

export interface TracingCollector {
  host: string;
  port: number;
  protocol: CollectorProtocol;
}

/** The collector's service name in the mesh (the ServiceEntry host). */
export const COLLECTOR_HOST = 'tracing-collector.istio-system.svc.cluster.local';
const PROVIDER = 'weft-demo-tracing';

/** `HOST:PORT` (`[v6]:PORT`) of --tracing-collector, with --tracing-protocol. */
export function parseCollector(address: string, protocol: string): TracingCollector {
  if (protocol !== 'otlp-http' && protocol !== 'otlp-grpc' && protocol !== 'zipkin') throw new UsageError(`--tracing-protocol must be otlp-http, otlp-grpc or zipkin, not "${protocol}"`);
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
  const port = Number(m?.[3]);
  if (!m || port < 1 || port > 65535) throw new UsageError(`--tracing-collector must be HOST:PORT (e.g. 127.0.0.1:4318 for an OpenTelemetry collector or Jaeger), not "${address}"`);
  return { host: (m[1] ?? m[2])!, port, protocol };
}

/** The MeshConfig (for `weft up --mesh-config`) naming the collector as a tracing provider. */
export function tracingMeshConfig(c: TracingCollector): string {
  const provider = c.protocol === 'zipkin'
    ? `zipkin: { service: ${COLLECTOR_HOST}, port: ${c.port} }`
    : `opentelemetry: { service: ${COLLECTOR_HOST}, port: ${c.port}${c.protocol === 'otlp-http' ? ', http: { path: /v1/traces }' : ''} }`;
  return `# weft demo --tracing-collector: the collector as a MeshConfig extension provider.
extensionProviders:
- name: ${PROVIDER}
  ${provider}
`;
}

/** The ServiceEntry for the collector and the mesh-wide Telemetry that sends every request's spans to it. */
export function tracingConfigYaml(c: TracingCollector): string {
  const ip = isIP(c.host) !== 0;
  return `# weft demo --tracing-collector: the collector outside the mesh, and tracing for every workload (100% sampling).
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: tracing-collector, namespace: istio-system }
spec:
  hosts: [${COLLECTOR_HOST}]
  location: MESH_EXTERNAL
  ports: [{ number: ${c.port}, name: ${c.protocol === 'otlp-grpc' ? 'grpc' : 'http'}, protocol: ${c.protocol === 'otlp-grpc' ? 'GRPC' : 'HTTP'} }]
  resolution: ${ip ? 'STATIC' : 'DNS'}
  endpoints: [{ address: ${JSON.stringify(c.host)} }]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing:
  - providers: [{ name: ${PROVIDER} }]
    randomSamplingPercentage: 100
`;
}
