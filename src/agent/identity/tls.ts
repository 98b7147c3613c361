// Mutual TLS between workloads with SPIFFE peer validation: the peer's chain must lead to a trusted root (OpenSSL
// checks that) and its URI SAN must be an acceptable SPIFFE id (checked here, since TLS knows nothing of SPIFFE).
// Servers follow rotations through setSecureContext; connections already open keep their session.
import type { PeerCertificate, SecureContextOptions, Server, TLSSocket, ConnectionOptions, TlsOptions } from 'node:tls';
import { type SpiffeId, formatSpiffeId, parseSpiffeId } from '../../core/names/spiffe.ts';
import type { IdentityManager, WorkloadIdentity } from './manager.ts';

/** Which peers are acceptable: by trust domain (aliases included) and optionally by exact identity. */
export interface PeerPolicy {
  trustDomains: string[];
  /** Further check on the peer's id; default accepts any id in the trust domains. */
  allow?: (id: SpiffeId) => boolean;
}

/** The single SPIFFE id in a certificate's URI SANs, or undefined when there is none or more than one. */
export function spiffeIdOfPeer(cert: PeerCertificate | undefined): SpiffeId | undefined {
  const uris = (cert?.subjectaltname ?? '').split(', ').filter((s) => s.startsWith('URI:'));
  if (uris.length !== 1) return undefined;
  const p = parseSpiffeId(uris[0]!.slice(4));
  return p.ok ? p.value : undefined;
}

/** Why a peer is refused, or undefined when it is acceptable. */
export function peerProblem(cert: PeerCertificate | undefined, policy: PeerPolicy): string | undefined {
  const id = spiffeIdOfPeer(cert);
  if (!id) return 'the peer certificate does not carry exactly one SPIFFE id';
  if (!policy.trustDomains.includes(id.trustDomain)) return `the peer ${formatSpiffeId(id)} is not in trust domain ${policy.trustDomains.join(' or ')}`;
  if (policy.allow && !policy.allow(id)) return `the peer ${formatSpiffeId(id)} is not allowed here`;
  return undefined;
}

export function secureContextOptions(id: WorkloadIdentity): SecureContextOptions {
  return { key: id.keyPem, cert: id.certChainPem, ca: id.rootsPem };
}

/** Options for a tls.Server that requires and verifies client certificates from the mesh. */
export function serverTlsOptions(id: WorkloadIdentity): TlsOptions {
  return { ...secureContextOptions(id), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' };
}

/** Options for tls.connect: our certificate, the mesh roots, and SPIFFE validation of the server instead of host names. */
export function clientTlsOptions(id: WorkloadIdentity, policy: PeerPolicy): ConnectionOptions {
  return {
    ...secureContextOptions(id),
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    checkServerIdentity: (_host, cert) => {
      const problem = peerProblem(cert, policy);
      return problem ? new Error(problem) : undefined;
    },
  };
}

/**
 * Checks the client of an accepted server connection against the policy (the chain was verified by TLS).
 * Returns the peer's id, or destroys the socket and returns undefined.
 */
export function acceptSpiffePeer(socket: TLSSocket, policy: PeerPolicy): SpiffeId | undefined {
  const problem = peerProblem(socket.getPeerCertificate(), policy);
  if (problem) {
    socket.destroy(new Error(problem));
    return undefined;
  }
  return spiffeIdOfPeer(socket.getPeerCertificate());
}

/** Keeps a TLS server's certificate and roots current: new handshakes use the latest identity. Returns a detach function. */
export function followRotations(server: Server, manager: IdentityManager): () => void {
  const onRotated = (id: WorkloadIdentity): void => server.setSecureContext(secureContextOptions(id));
  manager.on('rotated', onRotated);
  return () => manager.off('rotated', onRotated);
}
