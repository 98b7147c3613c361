// gRPC status codes and the rules that turn what arrived on an HTTP/2 stream into one: grpc-status and the
// percent-encoded grpc-message from trailers, the HTTP status of a response that is not gRPC at all, and the
// RST_STREAM code of a stream reset before any status (grpc/doc/http-grpc-status-mapping.md, PROTOCOL-HTTP2.md).

/** gRPC status codes (google.rpc.Code). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

const names = new Map<number, string>(Object.entries(GrpcStatus).map(([k, v]) => [v, k]));

/** `UNAVAILABLE` for 14; `CODE_99` for a code outside the table. */
export function statusName(code: number): string {
  return names.get(code) ?? `CODE_${code}`;
}

/** Response metadata: header or trailer name (lower case) → value(s), as node:http2 delivers them. */
export type GrpcMetadata = Readonly<Record<string, string | string[] | undefined>>;

/** How a call ended: its code, the decoded grpc-message, and the trailers (or trailers-only headers). */
export interface GrpcStatusInfo {
  code: number;
  details: string;
  metadata: GrpcMetadata;
}

/** A call that ended with a code other than OK. `code` is the gRPC code; the message names it and the method. */
export class GrpcError extends Error {
  readonly code: number;
  readonly details: string;
  readonly metadata: GrpcMetadata;
  constructor(status: GrpcStatusInfo, path: string, options?: { cause?: unknown }) {
    super(`${path}: ${statusName(status.code)}${status.details ? `: ${status.details}` : ''}`, options);
    this.name = 'GrpcError';
    this.code = status.code;
    this.details = status.details;
    this.metadata = status.metadata;
  }
}

/**
 * The gRPC code for a response whose HTTP status is not 200 (a proxy or a server that is not gRPC answered), as
 * grpc's HTTP-to-gRPC status mapping prescribes.
 */
export function statusFromHttp(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return GrpcStatus.INTERNAL;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.UNKNOWN;
  }
}

/** The gRPC code for a stream reset (RST_STREAM) before a status arrived. */
export function statusFromRstCode(rstCode: number): number {
  switch (rstCode) {
    case 0x7: // REFUSED_STREAM: the server did not process it; safe to retry.
      return GrpcStatus.UNAVAILABLE;
    case 0x8: // CANCEL
      return GrpcStatus.CANCELLED;
    case 0xb: // ENHANCE_YOUR_CALM
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case 0xc: // INADEQUATE_SECURITY
      return GrpcStatus.PERMISSION_DENIED;
    default: // NO_ERROR without a status, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR …
      return GrpcStatus.INTERNAL;
  }
}

/**
 * Decode grpc-message: percent-encoded UTF-8 (`%25` is `%`). A malformed escape is kept as it is rather than
 * losing the message.
 */
export function decodeGrpcMessage(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}

/** Encode a status message for grpc-message: bytes outside printable ASCII, and `%`, as %XX (for test servers). */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const b of Buffer.from(message, 'utf8')) out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/**
 * A timeout as grpc-timeout: at most 8 digits and a unit. Milliseconds while they fit, then seconds, minutes, hours
 * (rounded up, so the server never sees a shorter deadline than the client keeps).
 */
export function formatGrpcTimeout(ms: number): string {
  const t = Math.max(0, Math.ceil(ms));
  if (t < 1e8) return `${t}m`;
  const units: [number, string][] = [
    [1000, 'S'],
    [60_000, 'M'],
    [3_600_000, 'H'],
  ];
  for (const [size, unit] of units) {
    const n = Math.ceil(t / size);
    if (n < 1e8) return `${n}${unit}`;
  }
  return '99999999H';
}

/** The first value of a header, or undefined. */
export function headerValue(md: GrpcMetadata, name: string): string | undefined {
  const v = md[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A status from trailers (or trailers-only headers); undefined when grpc-status is absent or not a number. */
export function statusFromTrailers(md: GrpcMetadata): GrpcStatusInfo | undefined {
  const raw = headerValue(md, 'grpc-status');
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return undefined;
  return { code: Number(raw.trim()), details: decodeGrpcMessage(headerValue(md, 'grpc-message') ?? ''), metadata: md };
}
