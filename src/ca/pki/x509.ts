// CA certificates (roots, cross-signed roots, intermediates) built with @peculiar/x509 on Node's WebCrypto,
// and a plain description of any certificate for `weft ca inspect` and logs.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, webcrypto } from 'node:crypto';
import { type KeyPair, toCryptoKeyPair, webAlgorithm } from './keys.ts';
import { randomSerial } from './leaf.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export const DAY_MS = 86_400_000;

/** Root lifetime: 10 years, as Istio's self-signed root. */
export const ROOT_LIFETIME_MS = 3650 * DAY_MS;

type WebKey = Parameters<typeof x509.X509CertificateGenerator.create>[0]['publicKey'];
type WebPrivateKey = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys']['privateKey'];

function webKeys(kp: KeyPair): { publicKey: WebKey & WebPrivateKey; privateKey: WebPrivateKey } {
  const k = toCryptoKeyPair(kp);
  return { publicKey: k.publicKey as unknown as WebKey & WebPrivateKey, privateKey: k.privateKey as unknown as WebPrivateKey };
}

const caKeyUsage = (): x509.KeyUsagesExtension =>
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true);

/** Subject of generation `n` of a trust domain's root. Generations differ so old and new roots never share a name. */
export function rootSubject(trustDomain: string, generation: number): string {
  return `O=${trustDomain}, CN=Weft Root CA ${generation}`;
}

export interface CaCertOptions {
  subject: string;
  keys: KeyPair;
  notBefore: Date;
  notAfter: Date;
  /** Issuer certificate and key; absent for a self-signed root. */
  issuer?: { certPem: string; keys: KeyPair };
  /** Path length constraint; absent for none. */
  pathLength?: number;
}

/** Creates a CA certificate: self-signed when `issuer` is absent, otherwise signed by the issuer. Returns PEM. */
export async function createCaCertificate(o: CaCertOptions): Promise<string> {
  const subjectKeys = webKeys(o.keys);
  const signer = o.issuer ? webKeys(o.issuer.keys) : subjectKeys;
  const issuerCert = o.issuer ? new x509.X509Certificate(o.issuer.certPem) : undefined;
  const ski = await x509.SubjectKeyIdentifierExtension.create(subjectKeys.publicKey);
  const aki = issuerCert ? await x509.AuthorityKeyIdentifierExtension.create(issuerCert.publicKey) : new x509.AuthorityKeyIdentifierExtension(ski.keyId);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial().toString('hex'),
    subject: o.subject,
    issuer: issuerCert ? issuerCert.subjectName : o.subject,
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    publicKey: subjectKeys.publicKey,
    signingKey: signer.privateKey,
    signingAlgorithm: webAlgorithm((o.issuer ?? o).keys.privateKey),
    extensions: [new x509.BasicConstraintsExtension(true, o.pathLength, true), caKeyUsage(), ski, aki],
  });
  return cert.toString('pem') + '\n';
}

/** Readable facts about a certificate, as `weft ca inspect` prints them. */
export interface CertDescription {
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  isCa: boolean;
  /** Subject alternative names as OpenSSL prints them (`URI:spiffe://…`, `DNS:…`). */
  subjectAltNames: string[];
  sha256Fingerprint: string;
  keyType: string;
}

export function describeCertificate(pem: string): CertDescription {
  const c = new X509Certificate(pem);
  const k = c.publicKey;
  const details = k.asymmetricKeyDetails ?? {};
  const keyType = k.asymmetricKeyType === 'ec' ? `ECDSA ${details.namedCurve ?? ''}`.trim() : k.asymmetricKeyType === 'rsa' ? `RSA ${details.modulusLength ?? ''}`.trim() : (k.asymmetricKeyType ?? 'unknown');
  return {
    // Workload certificates have an empty subject, which Node reports as undefined.
    subject: (c.subject ?? '').split('\n').join(', '),
    issuer: (c.issuer ?? '').split('\n').join(', '),
    serialNumber: c.serialNumber.toLowerCase(),
    notBefore: new Date(c.validFrom).toISOString(),
    notAfter: new Date(c.validTo).toISOString(),
    isCa: c.ca,
    subjectAltNames: c.subjectAltName ? c.subjectAltName.split(', ') : [],
    sha256Fingerprint: c.fingerprint256,
    keyType,
  };
}
