// Reads the few certificate fields the CA needs on its hot path (issuer name bytes, key identifier, key type),
// straight from DER so they are byte-exact copies of what the signer certificate carries.
import { createHash, type KeyObject, createPublicKey } from 'node:crypto';
import { Tag, children, ctx, expectTag, oidToString, readOne, readTlv } from './der.ts';

export interface CertFields {
  /** The whole TBSCertificate. */
  tbs: Buffer;
  /** DER of the subject Name, used verbatim as the issuer Name of certificates this one signs. */
  subjectDer: Buffer;
  issuerDer: Buffer;
  spkiDer: Buffer;
  /** Subject key identifier: from the extension, else SHA-1 of the public key bits (RFC 5280 §4.2.1.2 method 1). */
  subjectKeyId: Buffer;
  publicKey: KeyObject;
}

const oidSubjectKeyId = '2.5.29.14';

export function readCertFields(der: Buffer): CertFields {
  const cert = readOne(der, Tag.sequence, 'certificate');
  const [tbsTlv] = children(cert);
  const tbs = expectTag(tbsTlv, Tag.sequence, 'tbsCertificate');
  const f = children(tbs);
  // Skip the optional [0] version.
  const i = f[0]?.tag === ctx(0, true) ? 1 : 0;
  const issuer = expectTag(f[i + 2], Tag.sequence, 'issuer');
  const subject = expectTag(f[i + 4], Tag.sequence, 'subject');
  const spki = expectTag(f[i + 5], Tag.sequence, 'subjectPublicKeyInfo');
  let ski: Buffer | undefined;
  const extsWrapper = f.slice(i + 6).find((t) => t.tag === ctx(3, true));
  if (extsWrapper) {
    for (const ext of children(readTlv(extsWrapper.value))) {
      const parts = children(ext);
      if (oidToString(expectTag(parts[0], Tag.oid, 'extnID').value) !== oidSubjectKeyId) continue;
      const octets = expectTag(parts[parts.length - 1], Tag.octetString, 'extnValue');
      ski = Buffer.from(expectTag(readTlv(octets.value), Tag.octetString, 'keyIdentifier').value);
    }
  }
  if (!ski) {
    const bits = expectTag(children(spki)[1], Tag.bitString, 'subjectPublicKey');
    ski = createHash('sha1').update(bits.value.subarray(1)).digest();
  }
  return {
    tbs: tbs.raw,
    subjectDer: subject.raw,
    issuerDer: issuer.raw,
    spkiDer: spki.raw,
    subjectKeyId: ski,
    publicKey: createPublicKey({ key: spki.raw, format: 'der', type: 'spki' }),
  };
}
