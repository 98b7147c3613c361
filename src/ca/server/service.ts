// The gRPC face of the CA: istio.v1.auth.IstioCertificateService/CreateCertificate. One place turns CA outcomes into
// gRPC status codes: no or bad credentials → UNAUTHENTICATED, a CSR for someone else → PERMISSION_DENIED (logged),
// an unreadable CSR → INVALID_ARGUMENT.
import * as grpc from '@grpc/grpc-js';
import type { CertificateAuthority } from './authority.ts';
import { type Authenticator, authenticate, bearerToken } from './auth/authenticator.ts';
import type { IstioCertificateRequest, IstioCertificateResponse } from '../proto/service.ts';

/** What the service has done since start; bounded, cheap to read. Names follow Istio's citadel_server_* metrics. */
export interface CaStats {
  /** CreateCertificate calls received (citadel_server_csr_count). */
  csrCount: number;
  /** Certificates issued (citadel_server_success_cert_issuance_count). */
  issued: number;
  /** Calls refused for missing or invalid credentials (citadel_server_authentication_failure_count). */
  authenticationFailures: number;
  /** Calls refused because the CSR named another identity. */
  permissionDenied: number;
  /** Calls refused for an unreadable CSR (citadel_server_csr_parsing_err_count). */
  csrParseErrors: number;
  /** Signing failures (citadel_server_csr_sign_err_count). */
  signErrors: number;
  /** Certificates issued per authentication method (`bootstrap-token`, `client-certificate` …). */
  issuedBy: Record<string, number>;
}

export const newCaStats = (): CaStats => ({ csrCount: 0, issued: 0, authenticationFailures: 0, permissionDenied: 0, csrParseErrors: 0, signErrors: 0, issuedBy: {} });

export interface ServiceOptions {
  ca: CertificateAuthority;
  authenticators: readonly Authenticator[];
  stats: CaStats;
  log: (line: string) => void;
}

type Call = grpc.ServerUnaryCall<IstioCertificateRequest, IstioCertificateResponse>;
type Callback = grpc.sendUnaryData<IstioCertificateResponse>;

const fail = (cb: Callback, code: grpc.status, details: string): void => cb({ code, details, metadata: new grpc.Metadata() }, null);

export function createCertificateHandler(o: ServiceOptions): (call: Call, cb: Callback) => void {
  return (call, cb) => {
    o.stats.csrCount++;
    handle(o, call).then(
      (r) => {
        if ('certChain' in r) cb(null, { cert_chain: r.certChain });
        else fail(cb, r.code, r.details);
      },
      (e: unknown) => {
        o.stats.signErrors++;
        o.log(`ca: signing failed for ${call.getPeer()}: ${e instanceof Error ? e.message : String(e)}`);
        fail(cb, grpc.status.INTERNAL, 'the CA could not sign the certificate; see the control plane log');
      },
    );
  };
}

async function handle(o: ServiceOptions, call: Call): Promise<{ certChain: string[] } | { code: grpc.status; details: string }> {
  const auth = call.getAuthContext();
  const header = call.metadata.get('authorization')[0];
  const outcome = await authenticate(o.authenticators, {
    bearerToken: bearerToken(typeof header === 'string' ? header : undefined),
    peerCertificate: auth.sslPeerCertificate,
  });
  if (outcome.kind !== 'authenticated') {
    o.stats.authenticationFailures++;
    const reason = outcome.kind === 'rejected' ? outcome.reason : 'no credentials';
    o.log(`ca: refused CSR from ${call.getPeer()}: unauthenticated: ${reason}`);
    return { code: grpc.status.UNAUTHENTICATED, details: `authentication failed: ${reason}` };
  }
  const req = call.request;
  const r = await o.ca.sign(req.csr ?? '', outcome.identity, Number(req.validity_duration ?? 0));
  if (r.ok) {
    o.stats.issued++;
    o.stats.issuedBy[outcome.method] = (o.stats.issuedBy[outcome.method] ?? 0) + 1;
    return { certChain: r.value.certChain };
  }
  switch (r.error.kind) {
    case 'invalid-csr':
      o.stats.csrParseErrors++;
      return { code: grpc.status.INVALID_ARGUMENT, details: r.error.message };
    case 'foreign-identity':
      o.stats.permissionDenied++;
      o.log(`ca: PERMISSION_DENIED for ${call.getPeer()} (authenticated by ${outcome.method} as ns/${outcome.identity.namespace}/sa/${outcome.identity.serviceAccount}): ${r.error.message}`);
      return { code: grpc.status.PERMISSION_DENIED, details: r.error.message };
  }
}
