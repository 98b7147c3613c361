// Plug-in CA: an operator-provided intermediate signs workload certificates, as with Istio's `cacerts` secret.
// The directory holds ca-cert.pem (the signing certificate), ca-key.pem (its key), cert-chain.pem (the chain from
// ca-cert up to the root) and root-cert.pem (the root, or several roots during a migration).
import { X509Certificate, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WeftError } from '../../core/errors.ts';
import { type KeyPair, loadPrivateKey } from '../pki/keys.ts';
import { splitCertificates } from '../pki/pem.ts';

export const pluginFiles = { caCert: 'ca-cert.pem', caKey: 'ca-key.pem', certChain: 'cert-chain.pem', rootCert: 'root-cert.pem' } as const;

export interface PluginCa {
  signerPem: string;
  signerKeys: KeyPair;
  /** Certificates returned between the leaf and the roots: ca-cert first, then its issuers below the root. */
  intermediatesPem: string[];
  rootsPem: string[];
}

function read(dir: string, name: string): string {
  try {
    return readFileSync(join(dir, name), 'utf8');
  } catch (e) {
    throw new WeftError('WEFT_ERR_CA', `plug-in CA: cannot read ${join(dir, name)}; the directory must hold ${Object.values(pluginFiles).join(', ')}`, { cause: e });
  }
}

const fail = (dir: string, what: string): WeftError => new WeftError('WEFT_ERR_CA', `plug-in CA in ${dir}: ${what}`);

/** Loads and checks a plug-in CA: the key matches ca-cert, ca-cert is a CA, and the chain leads to a trusted root. */
export function loadPluginCa(dir: string): PluginCa {
  const signerPem = splitCertificates(read(dir, pluginFiles.caCert))[0];
  if (!signerPem) throw fail(dir, `${pluginFiles.caCert} holds no PEM certificate`);
  const signer = new X509Certificate(signerPem);
  const signerKeys = loadPrivateKey(read(dir, pluginFiles.caKey));
  const certKey = signer.publicKey.export({ format: 'der', type: 'spki' });
  if (!createPublicKey(signerKeys.privateKey).export({ format: 'der', type: 'spki' }).equals(certKey)) {
    throw fail(dir, `${pluginFiles.caKey} is not the private key of ${pluginFiles.caCert}`);
  }
  if (!signer.ca) throw fail(dir, `${pluginFiles.caCert} is not a CA certificate (basicConstraints CA:TRUE is required)`);
  const rootsPem = splitCertificates(read(dir, pluginFiles.rootCert));
  if (rootsPem.length === 0) throw fail(dir, `${pluginFiles.rootCert} holds no PEM certificate`);
  const roots = rootsPem.map((p) => new X509Certificate(p));
  const isRoot = (c: X509Certificate): boolean => roots.some((r) => r.raw.equals(c.raw));
  // Everything in cert-chain.pem that is not a root, starting with ca-cert itself.
  const chain = splitCertificates(read(dir, pluginFiles.certChain)).map((p) => new X509Certificate(p));
  const intermediates = [signer, ...chain.filter((c) => !c.raw.equals(signer.raw) && !isRoot(c))];
  for (let i = 0; i < intermediates.length; i++) {
    const c = intermediates[i]!;
    const issuer = intermediates[i + 1] ?? roots.find((r) => c.checkIssued(r) && c.verify(r.publicKey));
    if (!issuer || !c.checkIssued(issuer) || !c.verify(issuer.publicKey)) {
      throw fail(dir, `cannot build a chain from ${pluginFiles.caCert} to a root in ${pluginFiles.rootCert}: "${c.subject.replace(/\n/g, ', ')}" is not signed by the next certificate in ${pluginFiles.certChain} nor by a root`);
    }
  }
  const now = Date.now();
  if (Date.parse(signer.validTo) <= now) throw fail(dir, `${pluginFiles.caCert} expired on ${signer.validTo}`);
  return { signerPem, signerKeys, intermediatesPem: intermediates.map((c) => c.toString()), rootsPem: roots.map((r) => r.toString()) };
}
