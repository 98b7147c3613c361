// The CA as the control plane embeds it (`weft up`): opens or creates the CA, serves the CSR API on a gRPC server the
// caller owns, provides the TLS credentials for 15012 (serving certificate from the same root, client certificates
// requested and verified but optional), and follows root rotations made by `weft ca rotate-root` while running.
import type * as grpc from '@grpc/grpc-js';
import { experimental } from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import { statSync } from 'node:fs';
import type { PeerCertificate } from 'node:tls';
import { join } from 'node:path';
import { type SpiffeId } from '../../core/names/spiffe.ts';
import type { CaKeyType } from '../pki/keys.ts';
import { IstioCertificateService } from '../proto/service.ts';
import { CertificateAuthority, type CaSource } from './authority.ts';
import type { Authenticator } from './auth/authenticator.ts';
import { ClientCertificateAuthenticator, spiffeIdsOf } from './auth/certificate.ts';
import { BootstrapTokenAuthenticator } from './auth/token.ts';
import { createCaMetrics } from './metrics.ts';
import { pluginFiles } from './plugin.ts';
import { type CaStats, createCertificateHandler, newCaStats } from './service.ts';
import { ensureTokenKeys, initCaState, loadCaState, manifestStamp } from './store.ts';

export { CertificateAuthority } from './authority.ts';
export type { CaStats } from './service.ts';
export type { Authenticator, AuthOutcome, AuthRequest } from './auth/authenticator.ts';

export interface CaControlPlaneOptions {
  /** State directory; the CA lives in `<stateDir>/ca/`. */
  stateDir: string;
  /** Trust domain of issued identities. Default `cluster.local`. */
  trustDomain?: string;
  /** Trust domains accepted as equivalent to ours (CSR SANs, renewal certificates, peers). Default none. */
  trustDomainAliases?: string[];
  /** Key type of a newly created root. Default `ecdsa-p256`. Ignored when a root exists or a plug-in CA is used. */
  keyType?: CaKeyType;
  /** Plug-in CA directory (ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem). Default: self-signed root. */
  pluginCaDir?: string;
  /** Largest certificate TTL granted, seconds. Default 90 days. */
  maxTtlSeconds?: number;
  /** TTL when a CSR asks for none, seconds. Default 24 h. */
  defaultTtlSeconds?: number;
  /** DNS names and IPs in the serving certificate. Default: localhost, 127.0.0.1, ::1, istiod, istiod.istio-system.svc. */
  servingHosts?: string[];
  /** How often the state dir is checked for a root rotation, ms. Default 2000 (one stat() call). */
  pollIntervalMs?: number;
  /** Extra authenticators tried after client certificates and bootstrap tokens (e.g. Kubernetes TokenReview). */
  authenticators?: Authenticator[];
  log?: (line: string) => void;
}

export interface CaForControlPlane {
  ca: CertificateAuthority;
  /** Adds IstioCertificateService to a server. Register it on the TLS (15012) server: tokens must not travel in clear. */
  register(server: grpc.Server): void;
  /** TLS credentials for 15012: the serving certificate, client certificates requested and verified, not required. */
  tlsServerCredentials(): grpc.ServerCredentials;
  /** The SPIFFE id of a call's verified client certificate (for xDS over mTLS), or undefined. */
  peerIdentity(call: { getAuthContext(): { sslPeerCertificate?: PeerCertificate | undefined } }): SpiffeId | undefined;
  /** The current serving certificate chain and key (PEM), e.g. for the webhook or monitoring ports. */
  servingCertificate(): { certChainPem: string; keyPem: string };
  /** Counters since start. */
  stats(): CaStats;
  /** Prometheus registry with Istio's citadel_server_* metrics, for the monitoring port (15014). */
  metrics: Registry;
  /** Re-reads the CA from disk now (the poller does this on its own). */
  reload(): boolean;
  close(): Promise<void>;
}

export const defaultServingHosts = ['localhost', '127.0.0.1', '::1', 'istiod', 'istiod.istio-system.svc'];
/** The control plane's own identity in its serving certificate, as Istio's istiod. */
export const controlPlaneIdentity = { namespace: 'istio-system', serviceAccount: 'istiod' };
const servingTtlSeconds = 7 * 86_400;

type IdentityListener = Parameters<experimental.CertificateProvider['addIdentityCertificateListener']>[0];
type CaListener = Parameters<experimental.CertificateProvider['addCaCertificateListener']>[0];

/** Feeds grpc-js the serving certificate and the trusted roots, and pushes new ones after a rotation. */
class ServingCertificateProvider implements experimental.CertificateProvider {
  readonly #identity = new Set<IdentityListener>();
  readonly #ca = new Set<CaListener>();
  current: { certChainPem: string; keyPem: string; bundlePem: string };
  constructor(initial: { certChainPem: string; keyPem: string; bundlePem: string }) {
    this.current = initial;
  }
  update(next: { certChainPem: string; keyPem: string; bundlePem: string }): void {
    this.current = next;
    for (const l of this.#ca) l({ caCertificate: Buffer.from(next.bundlePem) });
    for (const l of this.#identity) l({ certificate: Buffer.from(next.certChainPem), privateKey: Buffer.from(next.keyPem) });
  }
  addCaCertificateListener(l: CaListener): void {
    this.#ca.add(l);
    // Asynchronously: grpc-js registers its watcher only after adding the listener, and would miss a synchronous call.
    queueMicrotask(() => l({ caCertificate: Buffer.from(this.current.bundlePem) }));
  }
  removeCaCertificateListener(l: CaListener): void {
    this.#ca.delete(l);
  }
  addIdentityCertificateListener(l: IdentityListener): void {
    this.#identity.add(l);
    queueMicrotask(() => l({ certificate: Buffer.from(this.current.certChainPem), privateKey: Buffer.from(this.current.keyPem) }));
  }
  removeIdentityCertificateListener(l: IdentityListener): void {
    this.#identity.delete(l);
  }
}

function pluginStamp(dir: string): string {
  return Object.values(pluginFiles)
    .map((f) => {
      try {
        const s = statSync(join(dir, f));
        return `${s.mtimeMs}:${s.size}:${s.ino}`;
      } catch {
        return '-';
      }
    })
    .join('|');
}

export async function startCaForControlPlane(opts: CaControlPlaneOptions): Promise<CaForControlPlane> {
  const log = opts.log ?? (() => {});
  const trustDomain = opts.trustDomain ?? 'cluster.local';
  let source: CaSource;
  if (opts.pluginCaDir) {
    source = { kind: 'plugin', dir: opts.pluginCaDir };
  } else {
    const { created } = await initCaState({ stateDir: opts.stateDir, trustDomain, keyType: opts.keyType ?? 'ecdsa-p256' });
    source = { kind: 'self-signed', stateDir: opts.stateDir };
    if (created) log(`ca: created a new ${opts.keyType ?? 'ecdsa-p256'} root in ${join(opts.stateDir, 'ca')}`);
  }
  const tokenKeys = await ensureTokenKeys(opts.stateDir);
  const ca = CertificateAuthority.open(source, {
    trustDomain,
    trustDomainAliases: opts.trustDomainAliases ?? [],
    ...(opts.maxTtlSeconds !== undefined ? { maxTtlSeconds: opts.maxTtlSeconds } : {}),
    ...(opts.defaultTtlSeconds !== undefined ? { defaultTtlSeconds: opts.defaultTtlSeconds } : {}),
  });
  log(`ca: signing with ${ca.describe()}, trust domain ${trustDomain}`);
  const warnShortOverlap = (): void => {
    const r = source.kind === 'self-signed' ? loadCaState(opts.stateDir)?.manifest.rotation : undefined;
    if (!r) return;
    const overlap = (Date.parse(r.overlapUntil) - Date.parse(r.startedAt)) / 1000;
    if (overlap < ca.policy.maxTtlSeconds && Date.now() < Date.parse(r.overlapUntil)) {
      log(`ca: warning: the root rotation's overlap (${Math.round(overlap)} s) is shorter than the maximum certificate TTL (${ca.policy.maxTtlSeconds} s); certificates from the old root may outlive its trust`);
    }
  };
  warnShortOverlap();
  const hosts = opts.servingHosts ?? defaultServingHosts;
  const issueServing = async (): Promise<{ certChainPem: string; keyPem: string; bundlePem: string; notAfter: Date }> => ({
    ...(await ca.issueServing(hosts, controlPlaneIdentity, servingTtlSeconds)),
    bundlePem: ca.trustBundlePem(),
  });
  let serving = await issueServing();
  const provider = new ServingCertificateProvider(serving);
  const stats = newCaStats();
  const authenticators: Authenticator[] = [new ClientCertificateAuthenticator((id) => ca.identityOf(id)), new BootstrapTokenAuthenticator(tokenKeys), ...(opts.authenticators ?? [])];

  let closed = false;
  let pending = 0;
  let refreshing: Promise<void> = Promise.resolve();
  const refreshServing = (why: string): void => {
    pending++;
    refreshing = refreshing.then(async () => {
      try {
        if (closed) return;
        serving = await issueServing();
        provider.update(serving);
        log(`ca: new serving certificate (${why}), valid until ${serving.notAfter.toISOString()}`);
      } catch (e) {
        log(`ca: could not renew the serving certificate, keeping the current one: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        pending--;
      }
    });
  };
  ca.on('updated', () => {
    log(`ca: signing material changed: now ${ca.describe()}`);
    warnShortOverlap();
    refreshServing('CA changed');
  });

  // Follow `weft ca rotate-root` (ca.json replaced) or a replaced plug-in CA, and the end of a rotation overlap:
  // one stat() per interval; files are read only when something changed.
  const stamp = (): string | undefined => (source.kind === 'plugin' ? pluginStamp(source.dir) : manifestStamp(opts.stateDir));
  let lastStamp = stamp();
  let lastError = '';
  const poll = setInterval(() => {
    const s = stamp();
    try {
      if (s !== lastStamp || ca.rotationEndsBy(Date.now())) ca.reload();
      lastStamp = s;
      lastError = '';
    } catch (e) {
      // Retried at every poll (files may be mid-replacement), logged once per distinct problem.
      const message = e instanceof Error ? e.message : String(e);
      if (message !== lastError) log(`ca: could not reload the CA, keeping the current one: ${message}`);
      lastError = message;
    }
    // Renew the serving certificate at half life.
    if (pending === 0 && Date.now() > serving.notAfter.getTime() - (servingTtlSeconds * 1000) / 2) refreshServing('half life');
  }, opts.pollIntervalMs ?? 2000);
  poll.unref();

  return {
    ca,
    register(server) {
      server.addService(IstioCertificateService.service, { CreateCertificate: createCertificateHandler({ ca, authenticators, stats, log }) });
    },
    tlsServerCredentials() {
      return experimental.createCertificateProviderServerCredentials(provider, provider, false);
    },
    peerIdentity(call) {
      const cert = call.getAuthContext().sslPeerCertificate;
      if (!cert) return undefined;
      const ids = spiffeIdsOf(cert);
      return ids.length === 1 && ca.identityOf(ids[0]!) ? ids[0] : undefined;
    },
    servingCertificate: () => ({ certChainPem: provider.current.certChainPem, keyPem: provider.current.keyPem }),
    stats: () => ({ ...stats, issuedBy: { ...stats.issuedBy } }),
    metrics: createCaMetrics(() => stats, ca),
    reload: () => ca.reload(),
    async close() {
      closed = true;
      clearInterval(poll);
      await refreshing;
    },
  };
}
