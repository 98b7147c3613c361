// A CA that refuses the identity a workload asks for (gRPC PERMISSION_DENIED: the bootstrap token proves another
// service account) is not a transient failure: the operator must change a flag or the token. This module recognises
// that refusal and says, once, which account the token names, which was asked for, and what to pass.
import { GrpcError, GrpcStatus } from '../../core/grpc/index.ts';
import { parseSpiffeId } from '../../core/names/spiffe.ts';

/**
 * The CA refused to sign for the identity asked for because the caller's credentials prove another one (gRPC
 * PERMISSION_DENIED, "the CSR asks for X but the caller proved Y"). Not fixed by retrying alone, unless the token
 * file is replaced: the manager still retries, and emits `refused` once per distinct refusal.
 */
export interface IdentityRefusal {
  /** The SPIFFE id the CSR asked for. */
  asked: string;
  /** The SPIFFE id the credentials prove, when the CA said which. */
  proven: string | undefined;
  /** What was presented: the bootstrap token (first certificate) or the current certificate (renewal). */
  credential: 'token' | 'certificate';
  /** The CA's words. */
  details: string;
}

/** A PERMISSION_DENIED from the CA that names the identity asked for, as an IdentityRefusal; otherwise undefined. */
export function identityRefusal(e: unknown, asked: string | undefined, credential: IdentityRefusal['credential']): IdentityRefusal | undefined {
  if (!(e instanceof GrpcError) || e.code !== GrpcStatus.PERMISSION_DENIED) return undefined;
  const named = asked ?? /asks for (spiffe:\/\/\S+)/.exec(e.details)?.[1];
  if (named === undefined) return undefined;
  return { asked: named, proven: /caller proved (spiffe:\/\/[^\s,;]+)/.exec(e.details)?.[1], credential, details: e.details };
}

/** Flags of `weft proxy` / `weft run` that name an identity: `--namespace NS --service-account SA`. */
function flagsFor(spiffeId: string): string | undefined {
  const p = parseSpiffeId(spiffeId);
  return p.ok ? `--namespace ${p.value.namespace} --service-account ${p.value.serviceAccount}` : undefined;
}

/**
 * The refusal in an operator's words: what was asked for (and the flags that asked), what the credential proves,
 * and the two ways out — ask for the proven account, or bring a token for the asked one.
 */
export function describeRefusal(r: IdentityRefusal): string {
  const asked = flagsFor(r.asked);
  const head = `identity: the CA refuses (PERMISSION_DENIED) a certificate for ${r.asked}${asked ? ` (${asked})` : ''}`;
  const what = r.credential === 'token' ? 'the bootstrap token' : 'the current certificate';
  if (r.proven === undefined) return `${head}: ${r.details}. Check that ${what} was issued for this namespace and service account. Retrying with backoff.`;
  const proven = flagsFor(r.proven);
  const p = parseSpiffeId(r.asked);
  const mint = p.ok ? ` (weft ca token --namespace ${p.value.namespace} --service-account ${p.value.serviceAccount})` : '';
  const retry = r.credential === 'token' ? ' (the token is read again at each attempt: a replaced token file is picked up)' : '';
  return `${head}: ${what} names ${r.proven}. Pass ${proven ?? `the identity ${r.proven}`} to run as that account, or a token for ${r.asked}${mint}. Retrying with backoff${retry}; the proxy is not ready until it has a certificate.`;
}
