// The workload's side of a certificate request: a fresh key pair generated here (the private key never leaves the
// process) and a PKCS #10 CSR naming the workload's SPIFFE id, built with @peculiar/x509 on Node's WebCrypto.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { type KeyObject, generateKeyPair, webcrypto } from 'node:crypto';
import { promisify } from 'node:util';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

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

type GeneratorKeys = Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]['keys'];

export async function createKeyAndCsr(keyType: WorkloadKeyType, spiffeUri: string | undefined): Promise<CsrAndKey> {
  const kp = keyType === 'ecdsa-p256' ? await generate('ec', { namedCurve: 'P-256' }) : await generate('rsa', { modulusLength: 2048 });
  const alg = keyType === 'ecdsa-p256' ? { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const keys = { privateKey: kp.privateKey.toCryptoKey(alg, false, ['sign']), publicKey: kp.publicKey.toCryptoKey(alg, true, ['verify']) } as unknown as GeneratorKeys;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: alg,
    extensions: spiffeUri ? [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeUri }], true)] : [],
  });
  return {
    csrPem: csr.toString('pem') + '\n',
    keyPem: kp.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    privateKey: kp.privateKey,
    spkiDer: kp.publicKey.export({ format: 'der', type: 'spki' }),
  };
}
