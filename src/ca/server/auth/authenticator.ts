// How a CSR caller proves who it is. Each Authenticator looks at one kind of credential (a bearer token, a client
// certificate) and either proves an identity, does not apply, or rejects the credential. Kubernetes TokenReview
// plugs in here as another bearer-token authenticator.
import type { PeerCertificate } from 'node:tls';
import type { CallerIdentity } from '../authority.ts';

/** The credentials that came with one call. */
export interface AuthRequest {
  /** The token from `authorization: Bearer <token>`, if any. */
  bearerToken: string | undefined;
  /** The client certificate, present only when TLS verified it against the CA's roots. */
  peerCertificate: PeerCertificate | undefined;
}

export type AuthOutcome =
  | { kind: 'authenticated'; identity: CallerIdentity; method: string }
  /** This authenticator has nothing to say about the credentials given (e.g. no token). */
  | { kind: 'not-applicable' }
  | { kind: 'rejected'; reason: string };

export interface Authenticator {
  /** Short name for logs: `bootstrap-token`, `client-certificate`, `kubernetes-token-review` … */
  readonly name: string;
  authenticate(req: AuthRequest): Promise<AuthOutcome>;
}

/**
 * Tries authenticators in order; the first that proves an identity wins. When none does, the result carries every
 * rejection reason so the caller learns why (e.g. "token expired").
 */
export async function authenticate(chain: readonly Authenticator[], req: AuthRequest): Promise<AuthOutcome> {
  const reasons: string[] = [];
  for (const a of chain) {
    const o = await a.authenticate(req);
    if (o.kind === 'authenticated') return o;
    if (o.kind === 'rejected') reasons.push(`${a.name}: ${o.reason}`);
  }
  if (reasons.length === 0) return { kind: 'rejected', reason: 'no credentials: send "authorization: Bearer <token>" (see `weft ca token`) or present a valid workload certificate over mTLS' };
  return { kind: 'rejected', reason: reasons.join('; ') };
}

/** The bearer token from an `authorization` header value, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : undefined;
}
