// Rules for TLS served by a Gateway server or a Sidecar ingress listener (ServerTLSSettings): certificate sources by
// mode, client CA for MUTUAL, CRL limits, and warnings for ignored certificates and unknown cipher suites.
import type { Reporter } from '../validation/report.ts';
import { arr, q, str, type Obj } from './util.ts';

/** Cipher suites Envoy (BoringSSL) supports, as Istio checks them. */
export const VALID_CIPHER_SUITES: ReadonlySet<string> = new Set([
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305', 'ECDHE-ECDSA-AES128-SHA', 'ECDHE-RSA-AES128-SHA',
  'ECDHE-ECDSA-AES256-SHA', 'ECDHE-RSA-AES256-SHA', 'AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'AES128-SHA', 'AES256-SHA', 'DES-CBC3-SHA',
]);

/** `ALL`, empty, expressions starting with an operator (`-`, `+`, `!`, `[`), or a known suite name. */
export function isValidCipherSuite(cs: string): boolean {
  if (cs === '' || cs === 'ALL') return true;
  if (!/^[\p{L}\p{N}]/u.test(cs)) return true;
  return VALID_CIPHER_SUITES.has(cs);
}

/** Check a ServerTLSSettings object reported at `r` (e.g. `spec.servers[0].tls`). */
export function checkServerTls(r: Reporter, tls: Obj | undefined): void {
  if (tls === undefined) return;
  const mode = str(tls.mode) || 'PASSTHROUGH';
  const minV = str(tls.minProtocolVersion);
  const ciphers = arr(tls.cipherSuites).map(str);
  if ((minV === 'TLSV1_0' || minV === 'TLSV1_1') && ciphers.length === 0) {
    r.at('minProtocolVersion').warn('TLS versions below TLSV1_2 need compatible cipherSuites: the default list no longer includes them');
  }
  const invalid = new Set<string>();
  const dup = new Set<string>();
  const seen = new Set<string>();
  for (const c of ciphers) {
    if (!isValidCipherSuite(c)) invalid.add(c);
    else if (seen.has(c)) dup.add(c);
    else seen.add(c);
  }
  if (invalid.size > 0) r.at('cipherSuites').warn(`ignoring invalid cipher suites: [${[...invalid].sort().join(' ')}]`);
  if (dup.size > 0) r.at('cipherSuites').warn(`ignoring duplicate cipher suites: [${[...dup].sort().join(' ')}]`);

  const serverCertificate = str(tls.serverCertificate);
  const privateKey = str(tls.privateKey);
  const caCertificates = str(tls.caCertificates);
  const credentialName = str(tls.credentialName);
  const credentialNames = arr(tls.credentialNames);
  const tlsCertificates = arr(tls.tlsCertificates);

  if (mode === 'ISTIO_MUTUAL') {
    const forbidden: [string, boolean][] = [
      ['serverCertificate', serverCertificate !== ''],
      ['privateKey', privateKey !== ''],
      ['caCertificates', caCertificates !== ''],
      ['tlsCertificates', tlsCertificates.length > 0],
      ['credentialName', credentialName !== ''],
      ['credentialNames', credentialNames.length > 0],
    ];
    for (const [f, set] of forbidden) if (set) r.at(f).error(`ISTIO_MUTUAL uses the mesh's own certificates and cannot have ${f}: remove it, or use mode MUTUAL`);
    return;
  }
  if (mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH') {
    if (str(tls.caCrl) !== '' || serverCertificate !== '' || privateKey !== '' || caCertificates !== '' || tlsCertificates.length > 0 || credentialName !== '' || credentialNames.length > 0) {
      r.warn(`${mode} mode does not terminate TLS, so the certificates set here are ignored`);
    }
  }
  let sources = 0;
  if (serverCertificate !== '' && privateKey !== '') sources++;
  if (credentialName !== '') sources++;
  if (credentialNames.length > 0) sources++;
  if (tlsCertificates.length > 0) sources++;
  if (sources > 1) r.error('only one certificate source may be set: credentialName, credentialNames, serverCertificate/privateKey or tlsCertificates');

  const terminating = mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL';
  // With a credential, the key, certificate and CA come from the secret.
  if (terminating && (credentialName !== '' || credentialNames.length > 0)) return;
  if (terminating) {
    const label = mode === 'SIMPLE' ? 'SIMPLE TLS' : 'MUTUAL TLS';
    if (mode !== 'SIMPLE' && caCertificates === '') r.at('caCertificates').error(`${label} requires a client CA bundle: set caCertificates, or use credentialName with a CA in the secret`);
    if (tlsCertificates.length > 2) r.at('tlsCertificates').warn(`${label} supports at most 2 server certificates`);
    const certs = tlsCertificates.length > 0 ? tlsCertificates.map((c, i) => ({ c: (c ?? {}) as Obj, at: r.at('tlsCertificates').at(i) })) : [{ c: tls, at: r }];
    for (const { c, at } of certs) {
      if (str(c.serverCertificate) === '') at.at('serverCertificate').error(`${label} requires a server certificate: set serverCertificate, or use credentialName`);
      if (str(c.privateKey) === '') at.at('privateKey').error(`${label} requires a private key: set privateKey, or use credentialName`);
    }
  }
  if (str(tls.caCrl) !== '') {
    if (credentialName !== '') r.at('caCrl').error('caCrl cannot be combined with credentialName: put the CRL in the credential secret');
    if (mode === 'SIMPLE') r.at('caCrl').error(`caCrl is not supported with SIMPLE TLS (no client certificates are verified); use MUTUAL, or remove ${q('caCrl')}`);
  }
}
