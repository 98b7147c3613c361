// Keeps a workload's SPIFFE identity fresh: generates a key locally, asks the CA to sign a CSR over Istio's CSR API,
// renews at half life (with jitter) using the current certificate over mTLS, retries with backoff while the CA is
// away, and follows root-bundle changes. Consumers read `current()` and listen for `rotated` and `roots`.
import { EventEmitter } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { type SpiffeId, formatSpiffeId, parseSpiffeId } from '../../core/names/spiffe.ts';
import { WeftError } from '../../core/errors.ts';
import { splitCertificates } from '../../ca/pki/pem.ts';
import type { IstioCertificateResponse } from '../../ca/proto/service.ts';
import { GrpcError, GrpcStatus } from '../../core/grpc/index.ts';
import { createCertificate } from './ca-client.ts';
import { type IdentityRefusal, identityRefusal } from './refusal.ts';
import { type WorkloadKeyType, createKeyAndCsr } from './csr.ts';

/** A workload's credentials, as SDS serves them: `default` (chain + key) and `ROOTCA` (roots). */
export interface WorkloadIdentity {
  /** Leaf first, then intermediates (no roots), PEM. */
  certChainPem: string;
  /** PKCS #8 private key, PEM. Generated in this process; never sent anywhere. */
  keyPem: string;
  /** Trusted roots, PEM (several during a root rotation). */
  rootsPem: string;
  spiffeId: SpiffeId;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
}

export interface IdentityManagerOptions {
  /** host:port of the CA's TLS endpoint (the control plane's 15012). */
  caAddress: string;
  /** Roots that the CA's serving certificate chains to (`weft ca root`), used until the CA sends its bundle. */
  caRootsPem: string;
  /** Name to verify in the CA's serving certificate when it differs from the host in caAddress. */
  caServerName?: string;
  /** The bootstrap token (`weft ca token`), read at each attempt so it can be rotated on disk. */
  token?: () => string | undefined | Promise<string | undefined>;
  /** The identity to ask for. Default: none named in the CSR; the CA issues the caller's proven identity. */
  identity?: SpiffeId;
  /** Default `ecdsa-p256`. */
  keyType?: WorkloadKeyType;
  /** Requested certificate TTL in seconds; 0 (default) takes the CA's default (24 h). */
  ttlSeconds?: number;
  /** Fraction of the lifetime after which to renew. Default 0.5 (half life). */
  renewAtFraction?: number;
  /** Random spread of the renewal time, ± this fraction of the lifetime. Default 0.05. */
  jitterFraction?: number;
  /** First retry delay after a failure, ms (doubles up to maxBackoffMs, with jitter). Default 1000. */
  initialBackoffMs?: number;
  /** Default 30000. */
  maxBackoffMs?: number;
  /** Deadline of one CreateCertificate call, ms. Default 10000. */
  requestTimeoutMs?: number;
  /** Source of randomness in [0, 1) for jitter; injectable for tests. */
  random?: () => number;
  /** Progress (info) and failed attempts (warn: each is retried with backoff). */
  log?: (line: string, level?: 'info' | 'warn') => void;
}

/** setTimeout's limit; longer waits are split. */
const maxTimerMs = 2_147_483_647;

export class IdentityManager extends EventEmitter<{ rotated: [WorkloadIdentity]; roots: [string]; error: [Error]; refused: [IdentityRefusal]; closed: [] }> {
  readonly #o: Required<Omit<IdentityManagerOptions, 'caServerName' | 'token' | 'identity' | 'log'>> & IdentityManagerOptions;
  #current: WorkloadIdentity | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #failures = 0;
  #first: Promise<WorkloadIdentity> | undefined;
  #inFlight: Promise<WorkloadIdentity> | undefined;
  /** The credential presented by the last CreateCertificate call (for IdentityRefusal). */
  #lastCredential: IdentityRefusal['credential'] = 'token';
  /** The last failure's message (a repeat is logged briefly) and refusal (`refused` once each); reset by a success. */
  #lastError: string | undefined;
  #lastRefusal: string | undefined;
  /** Rotations since start (first issuance included). */
  rotations = 0;

  constructor(o: IdentityManagerOptions) {
    super();
    this.#o = {
      keyType: 'ecdsa-p256',
      ttlSeconds: 0,
      renewAtFraction: 0.5,
      jitterFraction: 0.05,
      initialBackoffMs: 1000,
      maxBackoffMs: 30_000,
      requestTimeoutMs: 10_000,
      random: Math.random,
      ...o,
    };
  }

  current(): WorkloadIdentity | undefined {
    return this.#current;
  }

  /** Starts the renewal loop; resolves with the first identity (retrying with backoff until it is obtained). */
  start(): Promise<WorkloadIdentity> {
    this.#first ??= new Promise((resolve, reject) => {
      const onRotated = (id: WorkloadIdentity): void => {
        this.off('closed', onClosed);
        resolve(id);
      };
      const onClosed = (): void => reject(new WeftError('WEFT_ERR_UNAVAILABLE', 'the identity manager was closed before it obtained a certificate'));
      this.once('rotated', onRotated);
      this.once('closed', onClosed);
      this.#attempt();
    });
    return this.#first;
  }

  /** Renews now, outside the schedule (e.g. after the CA announced a new root). */
  renewNow(): Promise<WorkloadIdentity> {
    return this.#renew();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.emit('closed');
  }

  #schedule(atMs: number): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    const delay = Math.max(0, atMs - Date.now());
    this.#timer = setTimeout(() => (delay > maxTimerMs ? this.#schedule(atMs) : this.#attempt()), Math.min(delay, maxTimerMs));
    this.#timer.unref();
  }

  #attempt(): void {
    if (this.#closed) return;
    this.#renew().then(
      (id) => {
        this.#failures = 0;
        this.#lastError = undefined;
        this.#lastRefusal = undefined;
        const life = id.notAfter.getTime() - id.notBefore.getTime();
        const jitter = (this.#o.random() * 2 - 1) * this.#o.jitterFraction;
        // Never sooner than a quarter of the lifetime (at most 1 s) from now: a clock ahead of the CA's, or a
        // certificate cut short by an expiring CA, must not turn renewal into a tight loop.
        const earliest = Date.now() + Math.min(1000, life / 4);
        this.#schedule(Math.max(earliest, id.notBefore.getTime() + life * (this.#o.renewAtFraction + jitter)));
      },
      (e: unknown) => {
        const err = e instanceof Error ? e : new Error(String(e));
        const base = Math.min(this.#o.maxBackoffMs, this.#o.initialBackoffMs * 2 ** this.#failures);
        this.#failures++;
        // Jitter the retry (50–100 % of the backoff) so that workloads do not return to a restarted CA in lockstep.
        const delay = base * (0.5 + this.#o.random() / 2);
        const refusal = identityRefusal(err, this.#o.identity ? formatSpiffeId(this.#o.identity) : undefined, this.#lastCredential);
        const key = refusal && `${refusal.asked} ${refusal.proven ?? ''} ${refusal.credential}`;
        if (refusal && key !== this.#lastRefusal) {
          this.#lastRefusal = key;
          this.emit('refused', refusal);
        }
        // The same error again is one short line per retry: the first one said it in full.
        const same = err.message === this.#lastError;
        this.#lastError = err.message;
        this.#o.log?.(`identity: certificate request failed (attempt ${this.#failures}), retrying in ${Math.round(delay)} ms: ${same ? 'the same error as before' : err.message}`, 'warn');
        if (this.listenerCount('error') > 0) this.emit('error', err);
        this.#schedule(Date.now() + delay);
      },
    );
  }

  #renew(): Promise<WorkloadIdentity> {
    this.#inFlight ??= this.#request().finally(() => (this.#inFlight = undefined));
    return this.#inFlight;
  }

  async #request(): Promise<WorkloadIdentity> {
    const o = this.#o;
    const csr = await createKeyAndCsr(o.keyType, o.identity ? formatSpiffeId(o.identity) : undefined);
    const cur = this.#current;
    // Renew with the current certificate while it is valid; fall back to the bootstrap token.
    const useCert = cur !== undefined && cur.notAfter.getTime() > Date.now() + 1000;
    let res: IstioCertificateResponse;
    try {
      res = await this.#call(csr.csrPem, useCert ? cur : undefined);
    } catch (e) {
      if (!useCert || !(e instanceof GrpcError) || e.code !== GrpcStatus.UNAUTHENTICATED) throw e;
      res = await this.#call(csr.csrPem, undefined);
    }
    const id = this.#accept(res, csr.keyPem, csr.spkiDer);
    const rootsChanged = cur?.rootsPem !== id.rootsPem;
    this.#current = id;
    this.rotations++;
    o.log?.(`identity: ${formatSpiffeId(id.spiffeId)} serial ${id.serialNumber} valid until ${id.notAfter.toISOString()}`);
    this.emit('rotated', id);
    if (rootsChanged) this.emit('roots', id.rootsPem);
    return id;
  }

  async #call(csrPem: string, withCert: WorkloadIdentity | undefined): Promise<IstioCertificateResponse> {
    const o = this.#o;
    this.#lastCredential = withCert ? 'certificate' : 'token';
    // The CA's serving certificate is verified against the host or IP of caAddress (an IP is never sent as SNI).
    return createCertificate({
      address: o.caAddress,
      rootsPem: this.#current ? this.#current.rootsPem + o.caRootsPem : o.caRootsPem,
      serverName: o.caServerName,
      identity: withCert,
      token: withCert ? undefined : await o.token?.(),
      csrPem,
      ttlSeconds: o.ttlSeconds,
      timeoutMs: o.requestTimeoutMs,
    });
  }

  /** Checks the response carries our key and one SPIFFE id, and splits it into chain and roots. */
  #accept(res: IstioCertificateResponse, keyPem: string, spkiDer: Buffer): WorkloadIdentity {
    const chain = res.cert_chain ?? [];
    if (chain.length < 2) throw new WeftError('WEFT_ERR_CA', `the CA returned ${chain.length} certificate(s); expected the leaf and at least the root`);
    const rootsPem = splitCertificates(chain[chain.length - 1]!).join('');
    const certs = chain.slice(0, -1).flatMap(splitCertificates);
    const leaf = new X509Certificate(certs[0]!);
    if (!leaf.publicKey.export({ format: 'der', type: 'spki' }).equals(spkiDer)) throw new WeftError('WEFT_ERR_CA', 'the CA returned a certificate for a different key');
    const uris = (leaf.subjectAltName ?? '').split(', ').filter((s) => s.startsWith('URI:'));
    const parsed = uris.length === 1 ? parseSpiffeId(uris[0]!.slice(4)) : undefined;
    if (!parsed?.ok) throw new WeftError('WEFT_ERR_CA', `the issued certificate must carry exactly one SPIFFE id, it has: ${uris.join(', ') || 'none'}`);
    return {
      certChainPem: certs.join(''),
      keyPem,
      rootsPem,
      spiffeId: parsed.value,
      serialNumber: leaf.serialNumber.toLowerCase(),
      notBefore: new Date(leaf.validFrom),
      notAfter: new Date(leaf.validTo),
    };
  }
}
