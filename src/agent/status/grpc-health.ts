// gRPC health probe (grpc.health.v1.Health/Check), loaded only when a gRPC probe is configured, on the agent's own
// small gRPC client. HealthCheckRequest{service = 1} and HealthCheckResponse{status = 1}, SERVING = 1, encoded from a
// JSON descriptor by the xDS wire codec (the sidecar does not load protobufjs).
import { GrpcChannel, GrpcError, GrpcStatus, type MethodDescriptor } from '../../core/grpc/index.ts';
import { WireCodec } from '../../xds/wire-codec.ts';
import type { ProbeResult } from './app-probes.ts';

export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';

/** Istio's (and grpc's) ServingStatus names, by number. */
export const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;

const messages = new WireCodec({
  HealthCheckRequest: { fields: { service: { type: 'string', id: 1 } } },
  HealthCheckResponse: { fields: { status: { type: 'int32', id: 1 } } },
});

export function encodeHealthRequest(service: string): Buffer {
  return Buffer.from(messages.encode('HealthCheckRequest', service ? { service } : {}));
}

export function encodeHealthResponse(status: number): Buffer {
  return Buffer.from(messages.encode('HealthCheckResponse', status ? { status } : {}));
}

/** The `status` of a HealthCheckResponse (0 when absent); unknown fields are skipped. */
export function decodeHealthResponse(b: Buffer): number {
  return (messages.decode('HealthCheckResponse', b, { defaults: true }) as { status: number }).status;
}

/** The `service` of a HealthCheckRequest (for test servers). */
export function decodeHealthRequest(b: Buffer): string {
  return (messages.decode('HealthCheckRequest', b, { defaults: true }) as { service: string }).service;
}

const healthCheck: MethodDescriptor<string, number> = { path: HEALTH_CHECK_PATH, encode: encodeHealthRequest, decode: decodeHealthResponse };

/** Call Health/Check on host:port (plaintext, as kubelet's gRPC probe) with the probe's deadline. */
export async function grpcHealthProbe(p: { host: string; port: number; service: string; timeoutMs: number }): Promise<ProbeResult> {
  const target = p.host.includes(':') ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`;
  const channel = new GrpcChannel(target, { connectTimeoutMs: p.timeoutMs });
  try {
    const status = await channel.unary(healthCheck, p.service, { timeoutMs: p.timeoutMs });
    const name = SERVING_STATUS[status] ?? String(status);
    return status === 1 ? { status: 200, body: '' } : { status: 500, body: `gRPC health of ${target}${p.service ? ` service ${p.service}` : ''}: ${name}\n` };
  } catch (e) {
    const detail = e instanceof GrpcError ? (e.code === GrpcStatus.DEADLINE_EXCEEDED ? `no answer within ${p.timeoutMs} ms` : e.details || e.message) : e instanceof Error ? e.message : String(e);
    return { status: 500, body: `gRPC health check of ${target} failed: ${detail}\n` };
  } finally {
    channel.close();
  }
}
