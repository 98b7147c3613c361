// Bootstrap tokens: JWTs signed by the control plane's token key (ES256), minted by `weft ca token` for workloads
// outside Kubernetes. The subject has Kubernetes' service-account form, `system:serviceaccount:<ns>:<sa>`, so that
// tokens read the same whichever authenticator proves them.
import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { identityNameProblem } from '../../../core/names/spiffe.ts';
import { caTokenAudience } from '../../proto/service.ts';
import type { KeyPair } from '../../pki/keys.ts';
import type { CallerIdentity } from '../authority.ts';
import type { AuthOutcome, AuthRequest, Authenticator } from './authenticator.ts';

/** Issuer claim of bootstrap tokens. */
export const tokenIssuer = 'weft-control-plane';

const subjectPrefix = 'system:serviceaccount:';

export interface MintOptions {
  keys: KeyPair;
  identity: CallerIdentity;
  /** Lifetime in seconds. */
  ttlSeconds: number;
  /** Audience; the CA accepts only `istio-ca`. */
  audience?: string;
  now?: Date;
}

export async function mintBootstrapToken(o: MintOptions): Promise<string> {
  const now = Math.floor((o.now ?? new Date()).getTime() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
    .setIssuer(tokenIssuer)
    .setSubject(`${subjectPrefix}${o.identity.namespace}:${o.identity.serviceAccount}`)
    .setAudience(o.audience ?? caTokenAudience)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + o.ttlSeconds)
    .setJti(randomUUID())
    .sign(o.keys.privateKey);
}

function reasonOf(e: unknown): string {
  if (e instanceof joseErrors.JWTExpired) return 'the token has expired: mint a new one with `weft ca token`';
  if (e instanceof joseErrors.JWTClaimValidationFailed) return `the token's "${e.claim}" claim is not acceptable (${e.reason}): it was not minted for this CA`;
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return 'the token signature does not verify: it was not signed by this control plane';
  if (e instanceof joseErrors.JOSEError) return `the token is invalid (${e.code})`;
  return 'the token is invalid';
}

/** Verifies bootstrap tokens. Verified tokens are cached until they expire, so renewals do not re-verify. */
export class BootstrapTokenAuthenticator implements Authenticator {
  readonly name = 'bootstrap-token';
  readonly #keys: KeyPair;
  readonly #now: () => number;
  readonly #cache = new Map<string, { identity: CallerIdentity; expMs: number }>();
  static readonly cacheLimit = 10_000;

  constructor(keys: KeyPair, now: () => number = Date.now) {
    this.#keys = keys;
    this.#now = now;
  }

  async authenticate(req: AuthRequest): Promise<AuthOutcome> {
    const token = req.bearerToken;
    if (!token) return { kind: 'not-applicable' };
    const nowMs = this.#now();
    const hit = this.#cache.get(token);
    if (hit) {
      if (hit.expMs > nowMs) return { kind: 'authenticated', identity: hit.identity, method: this.name };
      this.#cache.delete(token);
      return { kind: 'rejected', reason: reasonOf(new joseErrors.JWTExpired('expired', {})) };
    }
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.#keys.publicKey, {
        issuer: tokenIssuer,
        audience: caTokenAudience,
        algorithms: ['ES256'],
        requiredClaims: ['exp', 'sub'],
        currentDate: new Date(nowMs),
      }));
    } catch (e) {
      return { kind: 'rejected', reason: reasonOf(e) };
    }
    const sub = payload.sub ?? '';
    const parts = sub.startsWith(subjectPrefix) ? sub.slice(subjectPrefix.length).split(':') : [];
    if (parts.length !== 2) return { kind: 'rejected', reason: `the token subject "${sub}" is not of the form system:serviceaccount:<namespace>:<service-account>` };
    const identity = { namespace: parts[0]!, serviceAccount: parts[1]! };
    const problem = identityNameProblem(identity.namespace, identity.serviceAccount);
    if (problem) return { kind: 'rejected', reason: problem };
    if (this.#cache.size >= BootstrapTokenAuthenticator.cacheLimit) this.#cache.clear();
    this.#cache.set(token, { identity, expMs: payload.exp! * 1000 });
    return { kind: 'authenticated', identity, method: this.name };
  }
}
