// The certificate authority: turns a verified CSR and a proven caller identity into a signed certificate chain.
// Its signing material comes from the state dir (self-signed root, with rotation) or from a plug-in CA directory,
// and can be swapped at runtime (`reload`) without dropping requests in flight.
import { EventEmitter } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { type SpiffeId, formatSpiffeId, parseSpiffeId } from '../../core/names/spiffe.ts';
import { type Result, ok, err } from '../../core/result.ts';
import { readCertFields } from '../pki/certinfo.ts';
import { type ParsedCsr, parseCsrPemAsync } from '../pki/csr.ts';
import { type KeyPair, generateCaKey, privateKeyPem } from '../pki/keys.ts';
import { type SignerTemplate, issueLeaf, issueLeafAsync } from '../pki/leaf.ts';
import { pemEncode } from '../pki/pem.ts';
import { loadPluginCa } from './plugin.ts';
import { type CaState, loadCaState, rotationActive, trustedRoots } from './store.ts';

/** Where the CA's signing material comes from. */
export type CaSource = { kind: 'self-signed'; stateDir: string } | { kind: 'plugin'; dir: string };

export interface CaPolicy {
  /** Trust domain of issued identities. Default `cluster.local`. */
  trustDomain: string;
  /** Other trust domains accepted as the same identities (CSR SANs, renewal certificates, peers). */
  trustDomainAliases: string[];
  /** TTL when the caller asks for none, in seconds. Default 86400 (24 h). */
  defaultTtlSeconds: number;
  /** Largest TTL granted, in seconds; longer requests are shortened to it. Default 7776000 (90 days). */
  maxTtlSeconds: number;
}

export const defaultCaPolicy: CaPolicy = { trustDomain: 'cluster.local', trustDomainAliases: [], defaultTtlSeconds: 86_400, maxTtlSeconds: 90 * 86_400 };

/** The identity a caller proved: namespace and service account (the trust domain is the CA's). */
export interface CallerIdentity {
  namespace: string;
  serviceAccount: string;
}

/** The signing material in force: immutable, replaced as a whole on reload. */
interface Material {
  template: SignerTemplate;
  signerNotAfter: number;
  /** Certificates between the leaf and the roots, in order. */
  intermediatesPem: string[];
  rootsPem: string[];
  /** Root bundle as one PEM string: the last element of every cert_chain response. */
  bundlePem: string;
  description: string;
  /** When the clock alone will change this material (end of a rotation overlap), epoch ms. */
  changesAt: number | undefined;
}

export type SignError =
  | { kind: 'invalid-csr'; message: string }
  | { kind: 'foreign-identity'; message: string };

export interface Issued {
  /** Leaf first, then intermediates, then the root bundle (one element, possibly several roots). */
  certChain: string[];
  spiffeId: string;
  notAfter: Date;
}

function materialFromState(s: CaState, now: Date): Material {
  const f = readCertFields(new X509Certificate(s.rootPem).raw);
  const rotating = s.previous !== undefined && rotationActive(s.manifest, now);
  const rootsPem = trustedRoots(s, now);
  return {
    template: { issuerDer: f.subjectDer, authorityKeyId: f.subjectKeyId, key: s.rootKeys.privateKey },
    signerNotAfter: Date.parse(new X509Certificate(s.rootPem).validTo),
    intermediatesPem: rotating ? [s.previous!.crossPem] : [],
    rootsPem,
    bundlePem: rootsPem.join(''),
    changesAt: rotating ? Date.parse(s.manifest.rotation!.overlapUntil) : undefined,
    description: `self-signed root generation ${s.manifest.generation}${rotating ? ` (rotating from ${s.manifest.rotation!.from} until ${s.manifest.rotation!.overlapUntil})` : ''}`,
  };
}

function materialFromPlugin(dir: string): Material {
  const p = loadPluginCa(dir);
  const signer = new X509Certificate(p.signerPem);
  const f = readCertFields(signer.raw);
  return {
    template: { issuerDer: f.subjectDer, authorityKeyId: f.subjectKeyId, key: p.signerKeys.privateKey },
    signerNotAfter: Date.parse(signer.validTo),
    intermediatesPem: p.intermediatesPem,
    rootsPem: p.rootsPem,
    bundlePem: p.rootsPem.join(''),
    changesAt: undefined,
    description: `plug-in CA from ${dir} (${signer.subject.replace(/\n/g, ', ')})`,
  };
}

function loadMaterial(source: CaSource, now: Date): Material {
  if (source.kind === 'plugin') return materialFromPlugin(source.dir);
  const s = loadCaState(source.stateDir);
  if (!s) throw new Error(`no CA state in ${source.stateDir}`);
  return materialFromState(s, now);
}

export class CertificateAuthority extends EventEmitter<{ updated: [] }> {
  readonly policy: CaPolicy;
  readonly source: CaSource;
  readonly #now: () => number;
  #material: Material;

  /** Use `openCertificateAuthority`; the constructor takes already-loaded material. */
  private constructor(source: CaSource, policy: CaPolicy, material: Material, now: () => number) {
    super();
    this.source = source;
    this.policy = policy;
    this.#material = material;
    this.#now = now;
  }

  static open(source: CaSource, policy: Partial<CaPolicy> = {}, now: () => number = Date.now): CertificateAuthority {
    return new CertificateAuthority(source, { ...defaultCaPolicy, ...policy }, loadMaterial(source, new Date(now())), now);
  }

  /** The roots workloads must trust, one PEM string (several certificates during a rotation). */
  trustBundlePem(): string {
    return this.#material.bundlePem;
  }

  rootsPem(): string[] {
    return [...this.#material.rootsPem];
  }

  describe(): string {
    return this.#material.description;
  }

  /** True when the material in force expires by `nowMs` (a rotation overlap has ended) and must be reloaded. */
  rotationEndsBy(nowMs: number): boolean {
    return this.#material.changesAt !== undefined && nowMs >= this.#material.changesAt;
  }

  /** Re-reads the signing material (after `weft ca rotate-root`, or when a rotation's overlap has ended). */
  reload(): boolean {
    const next = loadMaterial(this.source, new Date(this.#now()));
    if (next.bundlePem === this.#material.bundlePem && next.intermediatesPem.join('') === this.#material.intermediatesPem.join('') && next.template.issuerDer.equals(this.#material.template.issuerDer)) {
      return false;
    }
    this.#material = next;
    this.emit('updated');
    return true;
  }

  /** The TTL actually granted for a request (seconds): default when unset, capped at the maximum. */
  grantedTtl(requestedSeconds: number): number {
    if (!Number.isFinite(requestedSeconds) || requestedSeconds <= 0) return this.policy.defaultTtlSeconds;
    return Math.min(Math.floor(requestedSeconds), this.policy.maxTtlSeconds);
  }

  /** Does `uri` name `who` in our trust domain or one of its aliases? */
  namesIdentity(uri: string, who: CallerIdentity): boolean {
    const p = parseSpiffeId(uri);
    if (!p.ok) return false;
    const td = p.value.trustDomain;
    return (td === this.policy.trustDomain || this.policy.trustDomainAliases.includes(td)) && p.value.namespace === who.namespace && p.value.serviceAccount === who.serviceAccount;
  }

  /** Maps a SPIFFE id from our trust domain or an alias to the caller identity it proves. */
  identityOf(id: SpiffeId): CallerIdentity | undefined {
    if (id.trustDomain !== this.policy.trustDomain && !this.policy.trustDomainAliases.includes(id.trustDomain)) return undefined;
    return { namespace: id.namespace, serviceAccount: id.serviceAccount };
  }

  /**
   * Signs a workload CSR for a proven caller. The SAN is always the caller's identity: a CSR naming anyone else,
   * or asking for other kinds of SAN, is refused.
   */
  async sign(csrPem: string, who: CallerIdentity, requestedTtlSeconds: number): Promise<Result<Issued, SignError>> {
    const parsed = await parseCsrPemAsync(csrPem);
    if (!parsed.ok) return err({ kind: 'invalid-csr', message: parsed.error });
    const problem = this.#sanProblem(parsed.value, who);
    if (problem) return err({ kind: 'foreign-identity', message: problem });
    const spiffeId = formatSpiffeId({ trustDomain: this.policy.trustDomain, ...who });
    const m = this.#material;
    const now = Math.floor(this.#now() / 1000) * 1000;
    const notAfter = Math.min(now + this.grantedTtl(requestedTtlSeconds) * 1000, Math.floor(m.signerNotAfter / 1000) * 1000);
    const der = await issueLeafAsync(m.template, { spkiDer: parsed.value.spkiDer, uris: [spiffeId], notBefore: new Date(now), notAfter: new Date(notAfter) });
    return ok({ certChain: [pemEncode('CERTIFICATE', der), ...m.intermediatesPem, m.bundlePem], spiffeId, notAfter: new Date(notAfter) });
  }

  #sanProblem(csr: ParsedCsr, who: CallerIdentity): string | undefined {
    if (csr.otherSans.length > 0) return `the CSR asks for ${csr.otherSans.join(', ')}; workload certificates carry only the caller's SPIFFE id`;
    const foreign = csr.uris.filter((u) => !this.namesIdentity(u, who));
    if (foreign.length > 0) {
      return `the CSR asks for ${foreign.join(', ')} but the caller proved ${formatSpiffeId({ trustDomain: this.policy.trustDomain, ...who })}`;
    }
    return undefined;
  }

  /**
   * Issues the control plane's own serving certificate (for 15012) with a fresh key: DNS and IP SANs for `hosts`,
   * plus the control plane's SPIFFE id. Returns the chain (without roots) and the key as PEM.
   */
  async issueServing(hosts: string[], identity: CallerIdentity, ttlSeconds: number): Promise<{ certChainPem: string; keyPem: string; notAfter: Date }> {
    const keys: KeyPair = await generateCaKey('ecdsa-p256');
    const m = this.#material;
    const now = Math.floor(this.#now() / 1000) * 1000;
    const notAfter = Math.min(now + ttlSeconds * 1000, Math.floor(m.signerNotAfter / 1000) * 1000);
    const der = issueLeaf(m.template, {
      spkiDer: keys.publicKey.export({ format: 'der', type: 'spki' }),
      uris: [formatSpiffeId({ trustDomain: this.policy.trustDomain, ...identity })],
      dnsNames: hosts.filter((h) => isIP(h) === 0),
      ips: hosts.filter((h) => isIP(h) !== 0).map(ipBytes),
      notBefore: new Date(now),
      notAfter: new Date(notAfter),
    });
    return { certChainPem: [pemEncode('CERTIFICATE', der), ...m.intermediatesPem].join(''), keyPem: privateKeyPem(keys.privateKey), notAfter: new Date(notAfter) };
  }
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  // IPv6: expand `::` and write eight 16-bit groups.
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return b;
}
