// What a proxy's certificates look like to an operator, in the rows `istioctl proxy-config secret` prints:
// `default` (the workload's chain) and `ROOTCA` (each trusted root). Used by the proxy's admin dump and
// `weft proxy-config secret`.
import { X509Certificate } from 'node:crypto';
import { splitCertificates } from '../../ca/pki/pem.ts';
import type { WorkloadIdentity } from './manager.ts';

export interface SecretSummary {
  /** SDS resource name: `default` or `ROOTCA`. */
  resourceName: 'default' | 'ROOTCA';
  type: 'Cert Chain' | 'CA';
  status: 'ACTIVE';
  /** Whether the certificate is within its validity period now. */
  validCert: boolean;
  /** Lowercase hex, as OpenSSL prints it without colons. */
  serialNumber: string;
  notAfter: string;
  notBefore: string;
  /** URI SANs (the SPIFFE id for `default`). */
  uris: string[];
  subject: string;
  sha256Fingerprint: string;
}

function summarize(pem: string, resourceName: SecretSummary['resourceName'], nowMs: number): SecretSummary {
  const c = new X509Certificate(pem);
  const notBefore = new Date(c.validFrom);
  const notAfter = new Date(c.validTo);
  return {
    resourceName,
    type: resourceName === 'default' ? 'Cert Chain' : 'CA',
    status: 'ACTIVE',
    validCert: notBefore.getTime() <= nowMs && nowMs < notAfter.getTime(),
    serialNumber: c.serialNumber.toLowerCase(),
    notAfter: notAfter.toISOString(),
    notBefore: notBefore.toISOString(),
    uris: (c.subjectAltName ?? '').split(', ').filter((s) => s.startsWith('URI:')).map((s) => s.slice(4)),
    subject: (c.subject ?? '').split('\n').join(', '),
    sha256Fingerprint: c.fingerprint256,
  };
}

/** One row for the leaf of `default`, one per trusted root for `ROOTCA`. */
export function secretSummaries(id: Pick<WorkloadIdentity, 'certChainPem' | 'rootsPem'>, nowMs: number = Date.now()): SecretSummary[] {
  const leaf = splitCertificates(id.certChainPem)[0];
  return [...(leaf ? [summarize(leaf, 'default', nowMs)] : []), ...splitCertificates(id.rootsPem).map((r) => summarize(r, 'ROOTCA', nowMs))];
}

/** The table `istioctl proxy-config secret` prints. */
export function formatSecretTable(rows: readonly SecretSummary[]): string {
  const header = ['RESOURCE NAME', 'TYPE', 'STATUS', 'VALID CERT', 'SERIAL NUMBER', 'NOT AFTER', 'NOT BEFORE'];
  const body = rows.map((r) => [r.resourceName, r.type, r.status, r.validCert ? 'true' : 'false', r.serialNumber, r.notAfter, r.notBefore]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [header, ...body].map((cols) => cols.map((c, i) => c.padEnd(widths[i]!)).join('   ').trimEnd()).join('\n') + '\n';
}
