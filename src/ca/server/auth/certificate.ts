// Renewal over mutual TLS: a workload that still holds a valid certificate from this CA proves its identity with it.
// TLS has already verified the chain against the CA's roots (and expiry); this reads the SPIFFE id from the URI SAN.
import type { PeerCertificate } from 'node:tls';
import { type SpiffeId, parseSpiffeId } from '../../../core/names/spiffe.ts';
import type { CallerIdentity } from '../authority.ts';
import type { AuthOutcome, AuthRequest, Authenticator } from './authenticator.ts';

/** The SPIFFE ids in a verified peer certificate's URI SANs. */
export function spiffeIdsOf(cert: PeerCertificate): SpiffeId[] {
  const out: SpiffeId[] = [];
  for (const entry of (cert.subjectaltname ?? '').split(', ')) {
    if (!entry.startsWith('URI:')) continue;
    const p = parseSpiffeId(entry.slice(4));
    if (p.ok) out.push(p.value);
  }
  return out;
}

export class ClientCertificateAuthenticator implements Authenticator {
  readonly name = 'client-certificate';
  readonly #identityOf: (id: SpiffeId) => CallerIdentity | undefined;

  /** `identityOf` maps a SPIFFE id to a caller identity, or undefined when its trust domain is not ours. */
  constructor(identityOf: (id: SpiffeId) => CallerIdentity | undefined) {
    this.#identityOf = identityOf;
  }

  async authenticate(req: AuthRequest): Promise<AuthOutcome> {
    if (!req.peerCertificate) return { kind: 'not-applicable' };
    const ids = spiffeIdsOf(req.peerCertificate);
    if (ids.length !== 1) return { kind: 'rejected', reason: `the client certificate must carry exactly one SPIFFE id, it has ${ids.length}` };
    const identity = this.#identityOf(ids[0]!);
    if (!identity) return { kind: 'rejected', reason: `the client certificate's trust domain "${ids[0]!.trustDomain}" is not this CA's` };
    return { kind: 'authenticated', identity, method: this.name };
  }
}
