// The agent's side of Istio's CSR API (istio.v1.auth.IstioCertificateService/CreateCertificate) on the small
// node:http2 gRPC client: one unary call over TLS to the CA, with the bootstrap token as `authorization: Bearer`
// or the current workload certificate for mTLS. The two messages are encoded from a small JSON descriptor by the
// xDS wire codec, so the sidecar needs neither @grpc/grpc-js, protobufjs nor a .proto parser for them.
import { GrpcChannel, type MethodDescriptor } from '../../core/grpc/index.ts';
import type { IstioCertificateRequest, IstioCertificateResponse } from '../../ca/proto/service.ts';
import { WireCodec } from '../../xds/wire-codec.ts';

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

/** The two messages, from ca.proto (no .proto parsing at run time). */
const messages = new WireCodec({
  IstioCertificateRequest: { fields: { csr: { type: 'string', id: 1 }, validity_duration: { type: 'int64', id: 3 } } },
  IstioCertificateResponse: { fields: { cert_chain: { rule: 'repeated', type: 'string', id: 1 } } },
});

export function encodeRequest(r: Pick<IstioCertificateRequest, 'csr' | 'validity_duration'>): Uint8Array {
  const ttl = Math.floor(r.validity_duration);
  return messages.encode('IstioCertificateRequest', ttl > 0 ? { csr: r.csr, validity_duration: ttl } : { csr: r.csr });
}

export function decodeResponse(b: Buffer): IstioCertificateResponse {
  const m = messages.decode('IstioCertificateResponse', b, { defaults: true }) as { cert_chain: string[] };
  return { cert_chain: m.cert_chain };
}
