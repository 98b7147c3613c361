// gRPC health probe (grpc.health.v1.Health/Check), loaded only when a gRPC probe is configured. The two messages
// are one field each, so they are encoded by hand rather than through a .proto: HealthCheckRequest{service = 1}
// and HealthCheckResponse{status = 1} with SERVING = 1.
import type { ProbeResult } from './app-probes.ts';

export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';

/** Istio's (and grpc's) ServingStatus names, by number. */
export const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;

export function encodeHealthRequest(service: string): Buffer {
  const s = Buffer.from(service, 'utf8');
  if (s.length === 0) return Buffer.alloc(0);
  return Buffer.concat([Buffer.from([0x0a]), varint(s.length), s]);
}

export function encodeHealthResponse(status: number): Buffer {
  return status === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x08]), varint(status)]);
}

/** The `status` of a HealthCheckResponse (0 when absent); unknown fields are skipped. */
export function decodeHealthResponse(b: Buffer): number {
  let i = 0;
  let status = 0;
  while (i < b.length) {
    const [tag, n] = readVarint(b, i);
    i = n;
    const field = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) {
      const [v, m] = readVarint(b, i);
      i = m;
      if (field === 1) status = v;
    } else if (wire === 2) {
      const [len, m] = readVarint(b, i);
      i = m + len;
    } else if (wire === 5) i += 4;
    else if (wire === 1) i += 8;
    else break;
  }
  return status;
}

/** The `service` of a HealthCheckRequest (for test servers). */
export function decodeHealthRequest(b: Buffer): string {
  let i = 0;
  while (i < b.length) {
    const [tag, n] = readVarint(b, i);
    i = n;
    if (tag >>> 3 === 1 && (tag & 7) === 2) {
      const [len, m] = readVarint(b, i);
      return b.subarray(m, m + len).toString('utf8');
    }
    if ((tag & 7) === 0) i = readVarint(b, i)[1];
    else if ((tag & 7) === 2) {
      const [len, m] = readVarint(b, i);
      i = m + len;
    } else break;
  }
  return '';
}

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}

function readVarint(b: Buffer, start: number): [number, number] {
  let v = 0;
  let shift = 0;
  let i = start;
  while (i < b.length) {
    const byte = b[i++]!;
    v += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) break;
    shift += 7;
  }
  return [v, i];
}

/** Call Health/Check on host:port (plaintext, as kubelet's gRPC probe) with the probe's deadline. */
export async function grpcHealthProbe(p: { host: string; port: number; service: string; timeoutMs: number }): Promise<ProbeResult> {
  const grpc = await import('@grpc/grpc-js');
  const target = p.host.includes(':') ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`;
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  try {
    return await new Promise<ProbeResult>((resolve) => {
      client.makeUnaryRequest(
        HEALTH_CHECK_PATH,
        (s: string) => encodeHealthRequest(s),
        (b: Buffer) => decodeHealthResponse(b),
        p.service,
        new grpc.Metadata(),
        { deadline: Date.now() + p.timeoutMs },
        (e, status) => {
          if (e) return resolve({ status: 500, body: `gRPC health check of ${target} failed: ${e.code === grpc.status.DEADLINE_EXCEEDED ? `no answer within ${p.timeoutMs} ms` : e.details || e.message}\n` });
          const name = SERVING_STATUS[status ?? 0] ?? String(status);
          resolve(status === 1 ? { status: 200, body: '' } : { status: 500, body: `gRPC health of ${target}${p.service ? ` service ${p.service}` : ''}: ${name}\n` });
        },
      );
    });
  } finally {
    client.close();
  }
}
