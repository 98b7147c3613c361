// Client certificate verification for server-side TLS sockets the proxy creates itself (`new tls.TLSSocket` over a
// stream, as listeners that peek at the first bytes must). Node only checks the chain for sockets a tls.Server
// accepted: with a bare TLSSocket, `rejectUnauthorized` makes OpenSSL demand *a* certificate but any certificate —
// self-signed, another CA's — completes the handshake and `authorized` stays false. So the result of OpenSSL's chain
// verification is read here, as tls.Server does, and a connection is trusted only when it is empty.
import type * as tls from 'node:tls';

interface VerifyingHandle {
  verifyError(): Error | null | undefined;
}

/**
 * Whether the peer presented a certificate and it verified against the context's CA. Fails closed: if the
 * verification result cannot be read, the certificate counts as unverified.
 */
export function peerCertificateStatus(t: tls.TLSSocket): 'none' | 'verified' | 'unverified' {
  const cert = t.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return 'none';
  // `ssl` is the socket's TLSWrap handle (the object tls.Server asks for verifyError() after the handshake).
  const handle = (t as unknown as { ssl?: Partial<VerifyingHandle> | null }).ssl;
  if (!handle || typeof handle.verifyError !== 'function') return 'unverified';
  return handle.verifyError() ? 'unverified' : 'verified';
}
