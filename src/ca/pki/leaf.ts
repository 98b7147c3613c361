// Encodes and signs workload certificates: empty subject, critical URI SAN (the SPIFFE id), client and server
// auth, CA:FALSE — the shape Istio issues. Built directly in DER with the signer's precomputed issuer name and key
// id, so one issuance is a handful of buffer copies and one native signature.
import { type KeyObject, randomFillSync, sign } from 'node:crypto';
import { Tag, bitString, ctx, octetString, oid, seq, time, tlv, unsignedInteger } from './der.ts';

/** What a signing CA contributes to each certificate, computed once per signer. */
export interface SignerTemplate {
  /** DER Name of the signer's subject: the issued certificate's issuer. */
  issuerDer: Buffer;
  /** Signer's subject key id, copied into the authority key identifier. */
  authorityKeyId: Buffer;
  key: KeyObject;
}

export interface LeafRequest {
  spkiDer: Buffer;
  /** URI SANs; for workloads exactly one SPIFFE id. */
  uris: string[];
  /** DNS SANs (serving certificates only). */
  dnsNames?: string[];
  /** IPv4/IPv6 SANs as raw bytes (serving certificates only). */
  ips?: Buffer[];
  notBefore: Date;
  notAfter: Date;
}

const enc = {
  keyUsage: oid('2.5.29.15'),
  extKeyUsage: oid('2.5.29.37'),
  basicConstraints: oid('2.5.29.19'),
  authorityKeyId: oid('2.5.29.35'),
  subjectAltName: oid('2.5.29.17'),
  critical: tlv(Tag.boolean, Buffer.from([0xff])),
  v3: tlv(ctx(0, true), tlv(Tag.integer, Buffer.from([2]))),
  emptyName: seq(),
  // digitalSignature | keyEncipherment: 1010 0000 with 5 unused bits.
  keyUsageValue: tlv(Tag.bitString, Buffer.from([0x05, 0xa0])),
  serverAndClientAuth: seq(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2')),
  notCa: seq(),
  ecdsaSha256: seq(oid('1.2.840.10045.4.3.2')),
  rsaSha256: seq(oid('1.2.840.113549.1.1.11'), tlv(Tag.null, Buffer.alloc(0))),
  ed25519: seq(oid('1.3.101.112')),
};

const ext = (id: Buffer, critical: boolean, value: Buffer): Buffer => (critical ? seq(id, enc.critical, octetString(value)) : seq(id, octetString(value)));

const algorithmCache = new WeakMap<KeyObject, { algId: Buffer; hash: string | null }>();

/** The signature algorithm for a signing key; cached per key (KeyObject getters cost microseconds per call). */
function signatureAlgorithm(key: KeyObject): { algId: Buffer; hash: string | null } {
  let a = algorithmCache.get(key);
  if (!a) algorithmCache.set(key, (a = computeSignatureAlgorithm(key)));
  return a;
}

function computeSignatureAlgorithm(key: KeyObject): { algId: Buffer; hash: string | null } {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return { algId: enc.ecdsaSha256, hash: 'sha256' };
    case 'rsa':
      return { algId: enc.rsaSha256, hash: 'sha256' };
    case 'ed25519':
      return { algId: enc.ed25519, hash: null };
    default:
      throw new Error(`cannot sign with a ${key.asymmetricKeyType ?? 'unknown'} key`);
  }
}

/** A positive 127-bit random serial number (RFC 5280 allows up to 20 octets; CAs must use ≥ 64 random bits). */
const serialPool = Buffer.alloc(16 * 256);
let serialOffset = serialPool.length;

export function randomSerial(): Buffer {
  // One CSPRNG call per 256 serials.
  if (serialOffset === serialPool.length) {
    randomFillSync(serialPool);
    serialOffset = 0;
  }
  const b = Buffer.from(serialPool.subarray(serialOffset, (serialOffset += 16)));
  b[0] = (b[0]! & 0x7f) | 0x40;
  return b;
}

/** The to-be-signed part of a certificate and how to sign it. */
export interface UnsignedCertificate {
  tbs: Buffer;
  algId: Buffer;
  /** Digest for crypto.sign; null when the algorithm fixes it (Ed25519). */
  hash: string | null;
}

const fixedExtensionsCache = new WeakMap<SignerTemplate, Buffer>();

/** Key usage, extended key usage, basic constraints and authority key id: the same in every certificate of a signer. */
function fixedExtensions(signer: SignerTemplate): Buffer {
  let b = fixedExtensionsCache.get(signer);
  if (!b) {
    b = Buffer.concat([
      ext(enc.keyUsage, true, enc.keyUsageValue),
      ext(enc.extKeyUsage, false, enc.serverAndClientAuth),
      ext(enc.basicConstraints, true, enc.notCa),
      ext(enc.authorityKeyId, false, seq(tlv(ctx(0, false), signer.authorityKeyId))),
    ]);
    fixedExtensionsCache.set(signer, b);
  }
  return b;
}

/** Encodes the TBSCertificate of one end-entity certificate. */
export function buildLeafTbs(signer: SignerTemplate, req: LeafRequest): UnsignedCertificate {
  const { algId, hash } = signatureAlgorithm(signer.key);
  const names: Buffer[] = [
    ...req.uris.map((u) => tlv(ctx(6, false), Buffer.from(u, 'ascii'))),
    ...(req.dnsNames ?? []).map((d) => tlv(ctx(2, false), Buffer.from(d, 'ascii'))),
    ...(req.ips ?? []).map((ip) => tlv(ctx(7, false), ip)),
  ];
  const extensions = seq(
    fixedExtensions(signer),
    // The subject is empty, so the SAN must be critical (RFC 5280 §4.2.1.6).
    ext(enc.subjectAltName, true, seq(...names)),
  );
  const tbs = seq(
    enc.v3,
    unsignedInteger(randomSerial()),
    algId,
    signer.issuerDer,
    seq(time(req.notBefore), time(req.notAfter)),
    enc.emptyName,
    req.spkiDer,
    tlv(ctx(3, true), extensions),
  );
  return { tbs, algId, hash };
}

export const assembleCertificate = (u: UnsignedCertificate, signature: Buffer): Buffer => seq(u.tbs, u.algId, bitString(signature));

/** Builds and signs one end-entity certificate synchronously; returns its DER. */
export function issueLeaf(signer: SignerTemplate, req: LeafRequest): Buffer {
  const u = buildLeafTbs(signer, req);
  return assembleCertificate(u, sign(u.hash, u.tbs, signer.key));
}

/**
 * `issueLeaf` with the signature computed on libuv's thread pool, so a busy CA signs beside its event loop instead
 * of on it.
 */
export function issueLeafAsync(signer: SignerTemplate, req: LeafRequest): Promise<Buffer> {
  const u = buildLeafTbs(signer, req);
  return new Promise((resolve, reject) => {
    sign(u.hash, u.tbs, signer.key, (e, signature) => (e ? reject(e) : resolve(assembleCertificate(u, signature))));
  });
}
