// The agent's side of Istio's CSR API (istio.v1.auth.IstioCertificateService/CreateCertificate) on the small
// node:http2 gRPC client: one unary call over TLS to the CA, with the bootstrap token as `authorization: Bearer`
// or the current workload certificate for mTLS. The two messages are encoded by hand (three fields), so the
// sidecar needs neither @grpc/grpc-js nor a .proto parser for them.
import { GrpcChannel, type MethodDescriptor } from '../../core/grpc/index.ts';
import type { IstioCertificateRequest, IstioCertificateResponse } from '../../ca/proto/service.ts';

/** The same path as src/ca/proto/service.ts (not imported: that module loads grpc-js for the CA's server). */
const createCertificatePath = '/istio.v1.auth.IstioCertificateService/CreateCertificate';

export interface CertificateCall {
  /** host:port of the CA (the control plane's 15012). */
  address: string;
  /** Roots that the CA's serving certificate chains to. */
  rootsPem: string;
  /** Name to verify in the CA's certificate when it differs from the host in `address`. */
  serverName?: string | undefined;
  /** Present this certificate (mTLS renewal); otherwise authenticate with `token`. */
  identity?: { certChainPem: string; keyPem: string } | undefined;
  token?: string | undefined;
  csrPem: string;
  /** Requested lifetime in seconds; 0 = the CA's default. */
  ttlSeconds: number;
  timeoutMs: number;
}

/** One CreateCertificate call on a fresh connection (a rotated certificate must be presented on a new handshake). */
export async function createCertificate(c: CertificateCall): Promise<IstioCertificateResponse> {
  const channel = new GrpcChannel(c.address, {
    tls: { rootsPem: c.rootsPem, certChainPem: c.identity?.certChainPem, keyPem: c.identity?.keyPem, serverName: c.serverName },
    userAgent: 'weft-agent',
  });
  try {
    return await channel.unary(createCertificateMethod, { csr: c.csrPem, validity_duration: c.ttlSeconds }, {
      timeoutMs: c.timeoutMs,
      ...(c.token && !c.identity ? { metadata: { authorization: `Bearer ${c.token}` } } : {}),
    });
  } finally {
    channel.close();
  }
}

export const createCertificateMethod: MethodDescriptor<Pick<IstioCertificateRequest, 'csr' | 'validity_duration'>, IstioCertificateResponse> = {
  path: createCertificatePath,
  encode: encodeRequest,
  decode: decodeResponse,
};

/** IstioCertificateRequest: csr = 1 (string), validity_duration = 3 (int64). Metadata (4) is not sent. */
export function encodeRequest(r: Pick<IstioCertificateRequest, 'csr' | 'validity_duration'>): Uint8Array {
  const csr = Buffer.from(r.csr, 'utf8');
  const parts: number[] = [];
  if (csr.length > 0) parts.push(0x0a, ...varint(csr.length));
  const head = Buffer.from(parts);
  const ttl = r.validity_duration > 0 ? Buffer.from([0x18, ...varint(Math.floor(r.validity_duration))]) : Buffer.alloc(0);
  return Buffer.concat([head, csr, ttl]);
}

/** IstioCertificateResponse: repeated string cert_chain = 1; other fields are skipped. */
export function decodeResponse(b: Buffer): IstioCertificateResponse {
  const out: IstioCertificateResponse = { cert_chain: [] };
  let i = 0;
  const readVarint = (): number => {
    let n = 0;
    let mul = 1;
    for (;;) {
      if (i >= b.length) throw new Error('truncated varint');
      const byte = b[i++]!;
      n += (byte & 0x7f) * mul;
      if (byte < 0x80) return n;
      mul *= 128;
      if (mul > 2 ** 63) throw new Error('varint too long');
    }
  };
  while (i < b.length) {
    const tag = readVarint();
    const field = Math.floor(tag / 8);
    switch (tag & 7) {
      case 0:
        readVarint();
        break;
      case 1:
        i += 8;
        break;
      case 5:
        i += 4;
        break;
      case 2: {
        const len = readVarint();
        if (i + len > b.length) throw new Error('truncated field');
        if (field === 1) out.cert_chain.push(b.toString('utf8', i, i + len));
        i += len;
        break;
      }
      default:
        throw new Error(`unsupported wire type ${tag & 7}`);
    }
  }
  if (i > b.length) throw new Error('truncated message');
  return out;
}

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}
