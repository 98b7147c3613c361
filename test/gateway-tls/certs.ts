// Test certificates made with the openssl CLI (P-256, valid 2 days): a CA and leaves signed by it.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

function ossl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
}

/** `dir/<name>.crt` + `.key`, self-signed, as a CA. */
export function makeCa(dir: string, name = 'ca', cn = 'weft test CA'): void {
  ossl(dir, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${cn}`);
}

/** `dir/<file>.crt` + `.key` for subject O=org/CN=cn with the given SAN (default DNS:cn), signed by `ca`. */
export function makeLeaf(dir: string, file: string, cn: string, opts: { org?: string; san?: string; ca?: string } = {}): void {
  const ca = opts.ca ?? 'ca';
  writeFileSync(join(dir, `${file}.ext`), `subjectAltName=${opts.san ?? `DNS:${cn}`}\n`);
  ossl(dir, 'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${file}.key`, '-out', `${file}.csr`, '-subj', `/O=${opts.org ?? 'v1'}/CN=${cn}`);
  ossl(dir, 'x509', '-req', '-in', `${file}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${file}.crt`, '-days', '2', '-extfile', `${file}.ext`);
}
