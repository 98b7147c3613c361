// The workload's TLS secrets as the proxy consumes them (SDS semantics, in-process): `default` = certificate chain +
// private key, `ROOTCA` = trusted roots. Filled by the agent from the identity manager, which rotates them.
import { createSecureContext, type SecureContext } from 'node:tls';

export interface WorkloadSecrets {
  certChainPem: string;
  keyPem: string;
  rootsPem: string;
  /** This workload's SPIFFE id (spiffe://td/ns/x/sa/y). */
  spiffeId: string;
}

export class SecretStore {
  private secrets: WorkloadSecrets | undefined;
  private serverCtx: SecureContext | undefined;
  /** Bumped on every rotation (new connections pick up the new identity). */
  generation = 0;

  current(): WorkloadSecrets | undefined {
    return this.secrets;
  }

  update(s: WorkloadSecrets): void {
    this.secrets = s;
    this.serverCtx = undefined;
    this.generation++;
  }

  /** The server-side context for inbound mTLS (built once per rotation). */
  serverContext(): SecureContext | undefined {
    if (!this.secrets) return undefined;
    // A session id context lets clients resume (Envoy sidecars offer their last ticket): without one, OpenSSL fails
    // the handshake of any resuming client when a client certificate is requested.
    this.serverCtx ??= createSecureContext({ cert: this.secrets.certChainPem, key: this.secrets.keyPem, ca: this.secrets.rootsPem, minVersion: 'TLSv1.2', sessionIdContext: 'weft-inbound' });
    return this.serverCtx;
  }
}
