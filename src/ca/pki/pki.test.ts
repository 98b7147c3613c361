// The CA's DER layer and CSR checks against real openssl output: CSRs of every accepted and refused key type,
// leaf certificates openssl can read, and property tests for the DER primitives.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { openssl, tempDir } from '../testing/harness.ts';
import { DerError, Tag, oid, oidToString, readTlv, time, unsignedInteger } from './der.ts';
import { parseCsrPem, parseCsrPemAsync } from './csr.ts';
import { readCertFields } from './certinfo.ts';
import { issueLeaf } from './leaf.ts';
import { pemEncode, splitCertificates } from './pem.ts';
import { createCaCertificate, rootSubject } from './x509.ts';
import { generateCaKey } from './keys.ts';

const tmp = tempDir();
after(() => tmp.remove());

async function csr(name: string, keyArgs: string[], san?: string): Promise<string> {
  const args = ['req', '-new', ...keyArgs, '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/O=t'];
  if (san) args.push('-addext', `subjectAltName=${san}`);
  await openssl(args, tmp.dir);
  return readFileSync(join(tmp.dir, `${name}.csr`), 'utf8');
}

test('CSRs from openssl: accepted key types, SANs read, weak keys refused', async () => {
  const ec = await parseCsrPem(await csr('ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], 'URI:spiffe://td/ns/a/sa/b,DNS:x.example,IP:10.1.2.3'));
  assert.ok(ec.ok, ec.ok ? '' : ec.error);
  assert.deepEqual(ec.value.uris, ['spiffe://td/ns/a/sa/b']);
  assert.deepEqual(ec.value.otherSans, ['DNS:x.example', 'IP:10.1.2.3']);
  for (const [name, args] of [
    ['p384', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384']],
    ['rsa', ['-newkey', 'rsa:2048']],
    ['ed', ['-newkey', 'ed25519']],
  ] as const) {
    const r = await parseCsrPem(await csr(name, [...args]));
    assert.ok(r.ok, `${name}: ${r.ok ? '' : r.error}`);
  }
  const weakRsa = await parseCsrPem(await csr('rsa1k', ['-newkey', 'rsa:1024']));
  assert.ok(!weakRsa.ok && /at least 2048 bits \(this one has 1024\)/.test(weakRsa.error));
  const p521 = await parseCsrPem(await csr('p521', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521']));
  assert.ok(!p521.ok && /curve .* is not accepted/.test(p521.error));
  const two = await parseCsrPem(readFileSync(join(tmp.dir, 'ec.csr'), 'utf8') + readFileSync(join(tmp.dir, 'rsa.csr'), 'utf8'));
  assert.ok(!two.ok && /exactly one/.test(two.error));
  const truncated = await parseCsrPem(`-----BEGIN CERTIFICATE REQUEST-----\nMIIBAjCBqAIBADAM\n-----END CERTIFICATE REQUEST-----\n`);
  assert.ok(!truncated.ok && /not valid PKCS #10/.test(truncated.error));
});

test('a serving certificate with DNS, IPv4 and IPv6 SANs reads back in openssl', async () => {
  const keys = await generateCaKey('rsa-2048');
  const root = await createCaCertificate({ subject: rootSubject('example.org', 7), keys, notBefore: new Date(), notAfter: new Date(Date.now() + 86_400_000) });
  const f = readCertFields(new X509Certificate(root).raw);
  const leafKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = issueLeaf(
    { issuerDer: f.subjectDer, authorityKeyId: f.subjectKeyId, key: keys.privateKey },
    {
      spkiDer: leafKey.publicKey.export({ format: 'der', type: 'spki' }),
      uris: ['spiffe://example.org/ns/istio-system/sa/istiod'],
      dnsNames: ['istiod.istio-system.svc'],
      ips: [Buffer.from([127, 0, 0, 1]), Buffer.from('00000000000000000000000000000001', 'hex')],
      notBefore: new Date(),
      notAfter: new Date(Date.now() + 3_600_000),
    },
  );
  writeFileSync(join(tmp.dir, 'root.pem'), root);
  writeFileSync(join(tmp.dir, 'serving.pem'), pemEncode('CERTIFICATE', der));
  assert.match(await openssl(['verify', '-CAfile', 'root.pem', 'serving.pem'], tmp.dir), /OK/);
  const text = await openssl(['x509', '-in', 'serving.pem', '-noout', '-ext', 'subjectAltName'], tmp.dir);
  assert.match(text, /URI:spiffe:\/\/example\.org\/ns\/istio-system\/sa\/istiod, DNS:istiod\.istio-system\.svc, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1/);
  assert.equal(splitCertificates(root + pemEncode('CERTIFICATE', der)).length, 2);
});

test('DER primitives: OIDs round-trip, integers are minimal and positive, times switch format at 2050', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 39 }), fc.array(fc.integer({ min: 0, max: 2 ** 31 - 1 }), { maxLength: 8 }), (a, b, rest) => {
      const dotted = [a, b, ...rest].join('.');
      const enc = readTlv(oid(dotted));
      return enc.tag === Tag.oid && oidToString(enc.value) === dotted;
    }),
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 20 }), (bytes) => {
      const v = readTlv(unsignedInteger(Buffer.from(bytes))).value;
      // Positive (top bit clear) and minimal (no redundant leading zero).
      return (v[0]! & 0x80) === 0 && !(v.length > 1 && v[0] === 0 && (v[1]! & 0x80) === 0);
    }),
  );
  assert.equal(readTlv(time(new Date('2049-12-31T23:59:59Z'))).tag, Tag.utcTime);
  assert.equal(readTlv(time(new Date('2049-12-31T23:59:59Z'))).value.toString(), '491231235959Z');
  assert.equal(readTlv(time(new Date('2050-01-01T00:00:00Z'))).tag, Tag.generalizedTime);
  assert.equal(readTlv(time(new Date('2050-01-01T00:00:00Z'))).value.toString(), '20500101000000Z');
});

test('the DER reader never reads past its input: arbitrary bytes give a value or a DerError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        const t = readTlv(Buffer.from(bytes));
        return t.raw.length <= bytes.length;
      } catch (e) {
        return e instanceof DerError;
      }
    }),
  );
});

test('a mutated CSR never throws: it is refused with a reason, or still verifies', async () => {
  const pem = readFileSync(join(tmp.dir, 'ec.csr'), 'utf8');
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  fc.assert(
    fc.property(fc.nat({ max: der.length - 1 }), fc.integer({ min: 1, max: 255 }), fc.boolean(), (at, xor, truncate) => {
      const m = Buffer.from(der);
      m[at] = m[at]! ^ xor;
      const body = truncate ? m.subarray(0, at) : m;
      const r = parseCsrPem(pemEncode('CERTIFICATE REQUEST', body));
      return r.ok ? r.value.uris.length <= 1 : typeof r.error === 'string' && r.error.length > 0;
    }),
    { numRuns: 300 },
  );
});

test('the thread-pool CSR check agrees with the synchronous one: proof of possession is enforced', async () => {
  const pem = readFileSync(join(tmp.dir, 'ec.csr'), 'utf8');
  const good = await parseCsrPemAsync(pem);
  assert.ok(good.ok);
  assert.deepEqual(good.value.uris, (parseCsrPem(pem) as { ok: true; value: { uris: string[] } }).value.uris);
  // Flip one byte of the signature (the last bytes of the DER): structure intact, signature wrong.
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 2] = der[der.length - 2]! ^ 0x01;
  const bad = await parseCsrPemAsync(pemEncode('CERTIFICATE REQUEST', der));
  assert.equal(bad.ok, false);
  assert.match(bad.ok ? '' : bad.error, /proof of possession/);
  assert.deepEqual(bad, parseCsrPem(pemEncode('CERTIFICATE REQUEST', der)));
});
