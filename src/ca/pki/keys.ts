// CA key pairs: generation, PEM storage form (PKCS #8 / SPKI), and conversion to WebCrypto keys for @peculiar/x509.
import { type KeyObject, type webcrypto, createPrivateKey, createPublicKey, generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';

/** Key algorithms the CA can create for its root. ECDSA P-256 is the default, as Istio's. */
export type CaKeyType = 'ecdsa-p256' | 'rsa-2048';

export const caKeyTypes: readonly CaKeyType[] = ['ecdsa-p256', 'rsa-2048'];

export function parseCaKeyType(s: string): CaKeyType | undefined {
  return (caKeyTypes as readonly string[]).includes(s) ? (s as CaKeyType) : undefined;
}

const generate = promisify(generateKeyPair);

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export async function generateCaKey(type: CaKeyType): Promise<KeyPair> {
  switch (type) {
    case 'ecdsa-p256':
      return generate('ec', { namedCurve: 'P-256' });
    case 'rsa-2048':
      return generate('rsa', { modulusLength: 2048 });
  }
}

export function privateKeyPem(k: KeyObject): string {
  return k.export({ format: 'pem', type: 'pkcs8' }).toString();
}

export function loadPrivateKey(pem: string): KeyPair {
  const privateKey = createPrivateKey(pem);
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** WebCrypto algorithm (with SHA-256) for a key, as @peculiar/x509 wants it for signing and verifying. */
export function webAlgorithm(k: KeyObject): (webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams) & { hash: string } {
  switch (k.asymmetricKeyType) {
    case 'ec': {
      const curve = k.asymmetricKeyDetails?.namedCurve;
      const namedCurve = curve === 'secp384r1' ? 'P-384' : curve === 'secp521r1' ? 'P-521' : 'P-256';
      return { name: 'ECDSA', namedCurve, hash: 'SHA-256' };
    }
    case 'rsa':
      return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    default:
      throw new Error(`CA keys must be ECDSA or RSA, not ${k.asymmetricKeyType ?? 'unknown'}`);
  }
}

export function toCryptoKeyPair(kp: KeyPair): webcrypto.CryptoKeyPair {
  const alg = webAlgorithm(kp.privateKey);
  return {
    privateKey: kp.privateKey.toCryptoKey(alg, false, ['sign']),
    publicKey: kp.publicKey.toCryptoKey(alg, true, ['verify']),
  };
}
