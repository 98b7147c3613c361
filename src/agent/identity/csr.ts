// The workload's side of a certificate request: a fresh key pair generated here (the private key never leaves the
// process) and a PKCS #10 CSR (RFC 2986) naming the workload's SPIFFE id, DER-encoded here and signed with
// node:crypto. No ASN.1 library: the request has one fixed shape, and a generic X.509 library (with its
// dependency-injection and reflection runtime) would stay resident in every sidecar for a call made once a day.
//
//   CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm AlgorithmIdentifier, signature BIT STRING }
//   CertificationRequestInfo ::= SEQUENCE { version INTEGER (0), subject Name (empty), subjectPKInfo, attributes [0] IMPLICIT SET OF Attribute }
//   one Attribute: extensionRequest (1.2.840.113549.1.9.14) = { subjectAltName (2.5.29.17, critical) = [URI] }
import { type KeyObject, generateKeyPair, sign } from 'node:crypto';
import { promisify } from 'node:util';
import { Tag, bitString, ctx, octetString, oid, seq, tlv } from '../../ca/pki/der.ts';
import { pemEncode } from '../../ca/pki/pem.ts';

/** Workload key algorithms. ECDSA P-256 is the default, as Istio's agent. */
export type WorkloadKeyType = 'ecdsa-p256' | 'rsa-2048';

const generate = promisify(generateKeyPair);

export interface CsrAndKey {
  csrPem: string;
  keyPem: string;
  privateKey: KeyObject;
  /** DER SubjectPublicKeyInfo, to check that the issued certificate carries our key. */
  spkiDer: Buffer;
}

// AlgorithmIdentifier of the signature: ecdsa-with-SHA256 has no parameters (RFC 5758 §3.2);
// sha256WithRSAEncryption has NULL parameters (RFC 4055 §5).
const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
const sha256WithRsa = seq(oid('1.2.840.113549.1.1.11'), Buffer.from([Tag.null, 0]));
const extensionRequest = oid('1.2.840.113549.1.9.14');
const subjectAltName = oid('2.5.29.17');
const derTrue = Buffer.from([Tag.boolean, 1, 0xff]);

/**
 * The CertificationRequestInfo: empty subject, the key, and (with a URI) a critical subjectAltName extension request
 * with that one URI — critical because the subject is empty (RFC 5280 §4.2.1.6), as Istio's agent requests it.
 */
export function certificationRequestInfo(spkiDer: Buffer, uri: string | undefined): Buffer {
  const attributes: Buffer[] = [];
  if (uri !== undefined) {
    if (!/^[\x21-\x7e]+$/.test(uri)) throw new Error(`the SAN URI must be printable ASCII without spaces: ${JSON.stringify(uri)}`);
    const generalNames = seq(tlv(ctx(6, false), Buffer.from(uri, 'ascii'))); // [6] IMPLICIT IA5String
    const extensions = seq(seq(subjectAltName, derTrue, octetString(generalNames)));
    attributes.push(seq(extensionRequest, tlv(Tag.set, extensions)));
  }
  return seq(
    Buffer.from([Tag.integer, 1, 0]), // version v1(0)
    seq(), // subject: the empty Name
    spkiDer,
    tlv(ctx(0, true), ...attributes),
  );
}

/** Signs `info` with `privateKey` (SHA-256; ECDSA signatures DER-encoded) on libuv's thread pool; returns the CSR DER. */
export async function signCertificationRequest(info: Buffer, privateKey: KeyObject): Promise<Buffer> {
  const signature = await new Promise<Buffer>((resolve, reject) => sign('sha256', info, { key: privateKey, dsaEncoding: 'der' }, (e, s) => (e ? reject(e) : resolve(s))));
  const alg = privateKey.asymmetricKeyType === 'ec' ? ecdsaWithSha256 : privateKey.asymmetricKeyType === 'rsa' ? sha256WithRsa : undefined;
  if (!alg) throw new Error(`unsupported workload key type ${privateKey.asymmetricKeyType ?? '?'}`);
  return seq(info, alg, bitString(signature));
}

export async function createKeyAndCsr(keyType: WorkloadKeyType, spiffeUri: string | undefined): Promise<CsrAndKey> {
  const kp = keyType === 'ecdsa-p256' ? await generate('ec', { namedCurve: 'P-256' }) : await generate('rsa', { modulusLength: 2048 });
  const spkiDer = kp.publicKey.export({ format: 'der', type: 'spki' });
  const csrDer = await signCertificationRequest(certificationRequestInfo(spkiDer, spiffeUri), kp.privateKey);
  return {
    csrPem: pemEncode('CERTIFICATE REQUEST', csrDer),
    keyPem: kp.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    privateKey: kp.privateKey,
    spkiDer,
  };
}
