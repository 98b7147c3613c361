// The hand-encoded PKCS #10 request checked three independent ways: OpenSSL (`openssl req -verify -text`), the
// @peculiar/x509 parser, and the CA's own parser (src/ca/pki/csr.ts), for both workload key types.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { parseCsrPem } from '../../ca/pki/csr.ts';
import { type WorkloadKeyType, certificationRequestInfo, createKeyAndCsr } from './csr.ts';

const dir = mkdtempSync(join(tmpdir(), 'weft-csr-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** `openssl req -verify -text`: the text, and whether the self-signature verified (OpenSSL 3.0 exits 0 either way). */
function openssl(pem: string): { text: string; verified: boolean } {
  const file = join(dir, `req-${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(file, pem);
  const r = spawnSync('openssl', ['req', '-in', file, '-noout', '-verify', '-text'], { encoding: 'utf8' });
  const verified = /self-signature verify OK/.test(r.stderr) && !/verify failure/.test(r.stderr);
  return { text: r.stdout, verified: r.status === 0 && verified };
}

const uri = 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews';

for (const keyType of ['ecdsa-p256', 'rsa-2048'] as WorkloadKeyType[]) {
  describe(`CSR with a ${keyType} key`, () => {
    it('verifies with openssl and carries the SPIFFE id as a critical URI SAN, no subject', async () => {
      const c = await createKeyAndCsr(keyType, uri);
      const { text, verified } = openssl(c.csrPem);
      assert.ok(verified, text);
      assert.match(text, /Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/bookinfo-reviews\n/);
      assert.match(text, keyType === 'ecdsa-p256' ? /Signature Algorithm: ecdsa-with-SHA256/ : /Signature Algorithm: sha256WithRSAEncryption/);
      assert.match(text, keyType === 'ecdsa-p256' ? /NIST CURVE: P-256/ : /Public-Key: \(2048 bit\)/);
      assert.match(text, /Subject: *\n/);
    });

    it('is accepted by @peculiar/x509 and by the CA parser, with the key it was generated with', async () => {
      const c = await createKeyAndCsr(keyType, uri);
      const req = new x509.Pkcs10CertificateRequest(c.csrPem);
      assert.equal(await req.verify(), true);
      assert.equal(req.subject, '');
      const san = req.getExtension('2.5.29.17') as x509.SubjectAlternativeNameExtension | null;
      assert.ok(san?.critical);
      assert.deepEqual(san.names.toJSON(), [{ type: 'url', value: uri }]);
      const parsed = parseCsrPem(c.csrPem);
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
      assert.deepEqual(parsed.value.uris, [uri]);
      assert.deepEqual(parsed.value.otherSans, []);
      assert.ok(parsed.value.spkiDer.equals(c.spkiDer));
      assert.ok(createPublicKey(c.privateKey).export({ format: 'der', type: 'spki' }).equals(c.spkiDer));
      assert.match(c.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    });
  });
}

describe('CSR encoding details', () => {
  it('without an identity: no extension request, still a valid self-signed request', async () => {
    const c = await createKeyAndCsr('ecdsa-p256', undefined);
    const { text, verified } = openssl(c.csrPem);
    assert.ok(verified);
    assert.doesNotMatch(text, /Subject Alternative Name/);
    const parsed = parseCsrPem(c.csrPem);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value.uris, []);
  });

  it('uses long-form lengths correctly (a URI longer than 127 bytes)', async () => {
    const long = `spiffe://cluster.local/ns/${'n'.repeat(100)}/sa/${'s'.repeat(100)}`;
    const c = await createKeyAndCsr('ecdsa-p256', long);
    const { text, verified } = openssl(c.csrPem);
    assert.ok(verified);
    assert.match(text, new RegExp(`URI:${long}\\n`));
    const parsed = parseCsrPem(c.csrPem);
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value.uris, [long]);
  });

  it('refuses a URI that is not printable ASCII (an IA5String cannot carry it)', () => {
    assert.throws(() => certificationRequestInfo(Buffer.alloc(0), 'spiffe://cluster.local/ns/ä/sa/x'), /printable ASCII/);
    assert.throws(() => certificationRequestInfo(Buffer.alloc(0), 'spiffe://a b'), /printable ASCII/);
  });

  it('a tampered request fails verification (the checks can fail)', async () => {
    const c = await createKeyAndCsr('ecdsa-p256', uri);
    const der = Buffer.from(c.csrPem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
    const at = der.indexOf(Buffer.from('bookinfo-reviews'));
    assert.ok(at > 0);
    der[at] = 'B'.charCodeAt(0);
    const pem = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE REQUEST-----\n`;
    assert.equal(openssl(pem).verified, false);
    assert.equal(openssl(c.csrPem).verified, true);
    const parsed = parseCsrPem(pem);
    assert.equal(parsed.ok, false);
  });
});
