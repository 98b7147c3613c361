// PKCS #10 certificate signing requests (RFC 2986), parsed from DER and checked for proof of possession:
// the request must be signed by the private key matching the public key it carries.
import { type KeyObject, createPublicKey, verify } from 'node:crypto';
import { type Tlv, Tag, children, ctx, expectTag, oidToString, readOne, readTlv, DerError } from './der.ts';
import { pemDecodeAll } from './pem.ts';
import { type Result, ok, err } from '../../core/result.ts';

export interface ParsedCsr {
  /** SubjectPublicKeyInfo, copied verbatim into the issued certificate. */
  spkiDer: Buffer;
  publicKey: KeyObject;
  /** URI SANs requested (for a workload: its SPIFFE id). */
  uris: string[];
  /** SANs of other kinds (DNS, IP, e-mail …), described as `DNS:name`; workload certificates carry none. */
  otherSans: string[];
}

const oidExtensionRequest = '1.2.840.113549.1.9.14';
const oidSubjectAltName = '2.5.29.17';

/** Signature algorithms accepted on CSRs → the hash passed to crypto.verify (null: the algorithm fixes it). */
const csrSignatureHashes: Record<string, string | null> = {
  '1.2.840.10045.4.3.2': 'sha256', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.3.101.112': null, // Ed25519
};

/** A CSR read and checked except for its self-signature; `verifySignature` finishes the job. */
interface ReadCsr {
  parsed: ParsedCsr;
  hash: string | null;
  info: Buffer;
  signature: Buffer;
}

const popFailed = 'the CSR signature does not match its public key (proof of possession failed)';

/** Parses a PEM CSR, verifies its self-signature and checks the key is strong enough (synchronously). */
export function parseCsrPem(pem: string): Result<ParsedCsr, string> {
  const r = readCsrPem(pem);
  if (!r.ok) return r;
  const { parsed, hash, info, signature } = r.value;
  return verify(hash, info, parsed.publicKey, signature) ? ok(parsed) : err(popFailed);
}

/**
 * `parseCsrPem` with the proof-of-possession check run on libuv's thread pool: the same checks, but the signature
 * verification (the costliest step) runs beside the event loop, so a CA under load uses more than one core.
 */
export function parseCsrPemAsync(pem: string): Promise<Result<ParsedCsr, string>> {
  const r = readCsrPem(pem);
  if (!r.ok) return Promise.resolve(r);
  const { parsed, hash, info, signature } = r.value;
  return new Promise((resolve) => {
    verify(hash, info, parsed.publicKey, signature, (e, valid) => resolve(!e && valid ? ok(parsed) : err(popFailed)));
  });
}

function readCsrPem(pem: string): Result<ReadCsr, string> {
  const ders = pemDecodeAll(pem, 'CERTIFICATE REQUEST');
  if (ders.length !== 1) return err('the csr field must hold exactly one PEM "CERTIFICATE REQUEST" block');
  try {
    return readCsrDer(ders[0]!);
  } catch (e) {
    if (e instanceof DerError) return err(`the CSR is not valid PKCS #10: ${e.message}`);
    return err(`the CSR could not be read: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function readCsrDer(der: Buffer): Result<ReadCsr, string> {
  const [infoTlv, algTlv, sigTlv] = children(readOne(der, Tag.sequence, 'CertificationRequest'));
  const info = expectTag(infoTlv, Tag.sequence, 'certificationRequestInfo');
  const algOid = oidToString(expectTag(children(expectTag(algTlv, Tag.sequence, 'signatureAlgorithm'))[0], Tag.oid, 'algorithm').value);
  const sig = expectTag(sigTlv, Tag.bitString, 'signature');
  const [, , spkiTlv, attrsTlv] = children(info);
  const spki = expectTag(spkiTlv, Tag.sequence, 'subjectPKInfo');
  const keyProblem = weakKey(spki);
  if (keyProblem) return err(keyProblem);
  // From PEM text, not a {key, format: 'der'} object: for objects Node brand-checks with two thrown-and-caught
  // exceptions, which cost more than the key parse itself in the deep stacks of a gRPC handler (profiled).
  const publicKey = createPublicKey(`-----BEGIN PUBLIC KEY-----\n${spki.raw.toString('base64')}\n-----END PUBLIC KEY-----\n`);
  const hash = csrSignatureHashes[algOid];
  if (hash === undefined) return err(`the CSR is signed with algorithm ${algOid}, which the CA does not accept (use ECDSA with SHA-256 or RSA with SHA-256)`);
  const uris: string[] = [];
  const otherSans: string[] = [];
  if (attrsTlv && attrsTlv.tag === ctx(0, true)) {
    for (const attr of children(attrsTlv)) {
      const [typ, values] = children(attr);
      if (oidToString(expectTag(typ, Tag.oid, 'attribute type').value) !== oidExtensionRequest || !values) continue;
      for (const exts of children(values)) {
        for (const ext of children(exts)) {
          const parts = children(ext);
          if (oidToString(expectTag(parts[0], Tag.oid, 'extnID').value) !== oidSubjectAltName) continue;
          const octets = expectTag(parts[parts.length - 1], Tag.octetString, 'extnValue');
          readGeneralNames(octets.value, uris, otherSans);
        }
      }
    }
  }
  return ok({ parsed: { spkiDer: Buffer.from(spki.raw), publicKey, uris, otherSans }, hash, info: info.raw, signature: sig.value.subarray(1) });
}

function readGeneralNames(der: Buffer, uris: string[], others: string[]): void {
  for (const name of children(readTlv(der))) {
    switch (name.tag) {
      case ctx(6, false):
        uris.push(name.value.toString('ascii'));
        break;
      case ctx(2, false):
        others.push(`DNS:${name.value.toString('ascii')}`);
        break;
      case ctx(7, false):
        others.push(`IP:${[...name.value].join('.')}`);
        break;
      case ctx(1, false):
        others.push(`email:${name.value.toString('ascii')}`);
        break;
      default:
        others.push(`GeneralName[${name.tag & 0x1f}]`);
    }
  }
}

const oidEcPublicKey = '1.2.840.10045.2.1';
const oidRsaEncryption = '1.2.840.113549.1.1.1';
const oidEd25519 = '1.3.101.112';
const acceptedCurves: Record<string, string> = { '1.2.840.10045.3.1.7': 'P-256', '1.3.132.0.34': 'P-384' };

/**
 * Workload keys must be EC P-256/P-384, RSA ≥ 2048 bits, or Ed25519. Read from the SubjectPublicKeyInfo DER
 * (KeyObject.asymmetricKeyDetails costs tens of microseconds per call on the signing hot path).
 */
function weakKey(spki: Tlv): string | undefined {
  const [algTlv, bits] = children(spki);
  const [algOid, params] = children(expectTag(algTlv, Tag.sequence, 'algorithm'));
  const alg = oidToString(expectTag(algOid, Tag.oid, 'algorithm').value);
  switch (alg) {
    case oidEcPublicKey: {
      const curve = params?.tag === Tag.oid ? oidToString(params.value) : '?';
      return acceptedCurves[curve] ? undefined : `EC curve ${curve} is not accepted (use P-256 or P-384)`;
    }
    case oidRsaEncryption: {
      // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } inside the BIT STRING.
      const rsa = readTlv(expectTag(bits, Tag.bitString, 'subjectPublicKey').value.subarray(1));
      const modulus = expectTag(children(rsa)[0], Tag.integer, 'modulus').value;
      const bitsLen = (modulus[0] === 0 ? modulus.length - 1 : modulus.length) * 8;
      return bitsLen >= 2048 ? undefined : `RSA keys must be at least 2048 bits (this one has ${bitsLen})`;
    }
    case oidEd25519:
      return undefined;
    default:
      return `key algorithm ${alg} is not accepted (use ECDSA P-256 or RSA 2048)`;
  }
}
