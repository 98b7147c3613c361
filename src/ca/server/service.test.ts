// End to end over the real gRPC API: issuance checked by openssl, authentication and authorization refusals,
// TTL policy, mTLS renewal, restart reuse and RSA roots.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { createKeyAndCsr } from '../../agent/identity/csr.ts';
import { generateCaKey } from '../pki/keys.ts';
import { type TestCa, createCertificate, openssl, startTestCa, tempDir } from '../testing/harness.ts';
import { mintBootstrapToken } from './auth/token.ts';
import { loadCaState, requireTokenKeys } from './store.ts';

const tmp = tempDir();
let ca: TestCa;
let roots: string;
let token: string;
const web = { namespace: 'default', serviceAccount: 'web' };
const webUri = 'spiffe://cluster.local/ns/default/sa/web';

before(async () => {
  ca = await startTestCa({ stateDir: tmp.dir, trustDomainAliases: ['old.example'] });
  roots = ca.cp.ca.trustBundlePem();
  token = await mintBootstrapToken({ keys: requireTokenKeys(tmp.dir), identity: web, ttlSeconds: 600 });
});
after(async () => {
  await ca.close();
  tmp.remove();
});

async function opensslCsr(name: string, san: string | undefined): Promise<string> {
  const args = ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/O=weft-test'];
  if (san) args.push('-addext', `subjectAltName=${san}`);
  await openssl(args, tmp.dir);
  return readFileSync(join(tmp.dir, `${name}.csr`), 'utf8');
}

test('an openssl CSR is signed; openssl verifies the chain and shows the URI SAN; default TTL is 24 h', async () => {
  const r = await createCertificate({ address: ca.address, rootsPem: roots, csrPem: await opensslCsr('a', `URI:${webUri}`), token });
  assert.ok(r.ok, r.ok ? '' : r.error.details);
  const chain = r.value.cert_chain;
  assert.equal(chain.length, 2, 'leaf then root');
  assert.equal(chain[chain.length - 1], roots, 'the root bundle comes last');
  writeFileSync(join(tmp.dir, 'leaf.pem'), chain[0]!);
  writeFileSync(join(tmp.dir, 'root.pem'), chain[1]!);
  writeFileSync(join(tmp.dir, 'chain.pem'), chain.slice(0, -1).join(''));
  const verified = await openssl(['verify', '-CAfile', 'root.pem', '-untrusted', 'chain.pem', 'leaf.pem'], tmp.dir);
  assert.match(verified, /leaf\.pem: OK/);
  // The leaf's key is the one openssl generated: the private key never left the "workload".
  const leafKey = await openssl(['x509', '-in', 'leaf.pem', '-noout', '-pubkey'], tmp.dir);
  assert.equal(leafKey, await openssl(['pkey', '-in', 'a.key', '-pubout'], tmp.dir));
  const text = await openssl(['x509', '-in', 'leaf.pem', '-noout', '-text'], tmp.dir);
  assert.match(text, /X509v3 Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/web/);
  assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
  assert.match(text, /CA:FALSE/);
  const leaf = new X509Certificate(chain[0]!);
  assert.equal(Date.parse(leaf.validTo) - Date.parse(leaf.validFrom), 24 * 3600 * 1000);
});

test('a CSR without a SAN gets the proven identity; requested TTLs are honoured up to the maximum', async () => {
  const csr = await createKeyAndCsr('ecdsa-p256', undefined);
  const short = await createCertificate({ address: ca.address, rootsPem: roots, csrPem: csr.csrPem, token, ttlSeconds: 3600 });
  assert.ok(short.ok);
  const leaf = new X509Certificate(short.value.cert_chain[0]!);
  assert.equal(leaf.subjectAltName, `URI:${webUri}`);
  assert.equal(Date.parse(leaf.validTo) - Date.parse(leaf.validFrom), 3600 * 1000);
  const long = await createCertificate({ address: ca.address, rootsPem: roots, csrPem: csr.csrPem, token, ttlSeconds: 1000 * 86_400 });
  assert.ok(long.ok);
  const capped = new X509Certificate(long.value.cert_chain[0]!);
  assert.equal(Date.parse(capped.validTo) - Date.parse(capped.validFrom), 90 * 86_400 * 1000);
});

test('a CSR for another identity is refused with PERMISSION_DENIED and logged', async () => {
  const r = await createCertificate({ address: ca.address, rootsPem: roots, csrPem: await opensslCsr('b', 'URI:spiffe://cluster.local/ns/kube-system/sa/admin'), token });
  assert.ok(!r.ok);
  assert.equal(r.error.code, grpc.status.PERMISSION_DENIED);
  assert.match(r.error.details, /kube-system\/sa\/admin.*caller proved spiffe:\/\/cluster\.local\/ns\/default\/sa\/web/);
  assert.ok(ca.logs.some((l) => l.includes('PERMISSION_DENIED') && l.includes('ns/kube-system/sa/admin')), ca.logs.join('\n'));
  const dns = await createCertificate({ address: ca.address, rootsPem: roots, csrPem: await opensslCsr('c', `URI:${webUri},DNS:evil.example.com`), token });
  assert.ok(!dns.ok);
  assert.equal(dns.error.code, grpc.status.PERMISSION_DENIED);
});

test('an alias trust domain names the same identity; the certificate uses the primary trust domain', async () => {
  const r = await createCertificate({ address: ca.address, rootsPem: roots, csrPem: await opensslCsr('d', 'URI:spiffe://old.example/ns/default/sa/web'), token });
  assert.ok(r.ok, r.ok ? '' : r.error.details);
  assert.equal(new X509Certificate(r.value.cert_chain[0]!).subjectAltName, `URI:${webUri}`);
});

test('missing, expired, forged and wrong-audience tokens are refused with UNAUTHENTICATED', async () => {
  const csrPem = (await createKeyAndCsr('ecdsa-p256', webUri)).csrPem;
  const keys = requireTokenKeys(tmp.dir);
  const cases: Array<[string, string | undefined, RegExp]> = [
    ['missing', undefined, /no credentials/],
    ['expired', await mintBootstrapToken({ keys, identity: web, ttlSeconds: 60, now: new Date(Date.now() - 3600_000) }), /expired/],
    ['forged', await mintBootstrapToken({ keys: await generateCaKey('ecdsa-p256'), identity: web, ttlSeconds: 600 }), /signature/],
    ['wrong audience', await mintBootstrapToken({ keys, identity: web, ttlSeconds: 600, audience: 'some-other-service' }), /"aud" claim/],
    ['garbage', 'not.a.jwt', /invalid/],
  ];
  for (const [name, t, reason] of cases) {
    const r = await createCertificate({ address: ca.address, rootsPem: roots, csrPem, ...(t ? { token: t } : {}) });
    assert.ok(!r.ok, `${name} token must be refused`);
    assert.equal(r.error.code, grpc.status.UNAUTHENTICATED, name);
    assert.match(r.error.details, reason, name);
  }
});

test('a malformed or tampered CSR is refused with INVALID_ARGUMENT', async () => {
  const bad = await createCertificate({ address: ca.address, rootsPem: roots, csrPem: 'hello', token });
  assert.ok(!bad.ok);
  assert.equal(bad.error.code, grpc.status.INVALID_ARGUMENT);
  // Swap in another key's CSR body but keep the signature: proof of possession must fail.
  const a = (await createKeyAndCsr('ecdsa-p256', webUri)).csrPem;
  const der = Buffer.from(a.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  der[der.length - 5] = der[der.length - 5]! ^ 0xff;
  const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  const r = await createCertificate({ address: ca.address, rootsPem: roots, csrPem: tampered, token });
  assert.ok(!r.ok);
  assert.equal(r.error.code, grpc.status.INVALID_ARGUMENT);
});

test('renewal over mTLS with a still-valid workload certificate, without a token', async () => {
  const first = await createKeyAndCsr('ecdsa-p256', webUri);
  const r1 = await createCertificate({ address: ca.address, rootsPem: roots, csrPem: first.csrPem, token });
  assert.ok(r1.ok);
  const clientCert = { certChainPem: r1.value.cert_chain.slice(0, -1).join(''), keyPem: first.keyPem };
  const second = await createKeyAndCsr('ecdsa-p256', webUri);
  const r2 = await createCertificate({ address: ca.address, rootsPem: roots, csrPem: second.csrPem, clientCert });
  assert.ok(r2.ok, r2.ok ? '' : r2.error.details);
  assert.equal(new X509Certificate(r2.value.cert_chain[0]!).subjectAltName, `URI:${webUri}`);
  assert.ok((ca.cp.stats().issuedBy['client-certificate'] ?? 0) >= 1);
  const text = await ca.cp.metrics.metrics();
  assert.match(text, /^citadel_server_success_cert_issuance_count \d+$/m);
  assert.match(text, /^citadel_server_authentication_failure_count [1-9]\d*$/m);
  assert.match(text, /^citadel_server_root_cert_expiry_timestamp \d+/m);
  const foreign = await createCertificate({ address: ca.address, rootsPem: roots, csrPem: (await createKeyAndCsr('ecdsa-p256', 'spiffe://cluster.local/ns/default/sa/db')).csrPem, clientCert });
  assert.ok(!foreign.ok);
  assert.equal(foreign.error.code, grpc.status.PERMISSION_DENIED);
});

test('the serving certificate chains to the root and names the control plane; peerIdentity needs a verified client certificate', async () => {
  const serving = ca.cp.servingCertificate();
  writeFileSync(join(tmp.dir, 'serving.pem'), serving.certChainPem);
  writeFileSync(join(tmp.dir, 'bundle.pem'), roots);
  assert.match(await openssl(['verify', '-CAfile', 'bundle.pem', 'serving.pem'], tmp.dir), /OK/);
  const san = new X509Certificate(serving.certChainPem).subjectAltName ?? '';
  assert.match(san, /URI:spiffe:\/\/cluster\.local\/ns\/istio-system\/sa\/istiod/);
  assert.match(san, /IP Address:127\.0\.0\.1/);
  assert.equal(ca.cp.peerIdentity({ getAuthContext: () => ({}) }), undefined);
});

test('the root key is written 0600 and the CA is reused on restart', async () => {
  const s = loadCaState(tmp.dir)!;
  const mode = statSync(join(s.dir, 'root-1-key.pem')).mode & 0o777;
  assert.equal(mode, 0o600);
  assert.equal(statSync(join(s.dir, 'token-key.pem')).mode & 0o777, 0o600);
  const again = await startTestCa({ stateDir: tmp.dir });
  try {
    assert.equal(again.cp.ca.trustBundlePem(), roots);
    // Tokens minted before the restart still work.
    const r = await createCertificate({ address: again.address, rootsPem: roots, csrPem: (await createKeyAndCsr('ecdsa-p256', webUri)).csrPem, token });
    assert.ok(r.ok);
  } finally {
    await again.close();
  }
});

test('an RSA 2048 root signs certificates that openssl verifies', async () => {
  const d = tempDir();
  const rsa = await startTestCa({ stateDir: d.dir, keyType: 'rsa-2048', trustDomain: 'example.org' });
  try {
    const bundle = rsa.cp.ca.trustBundlePem();
    assert.match((new X509Certificate(bundle).publicKey.asymmetricKeyType ?? ''), /rsa/);
    const t = await mintBootstrapToken({ keys: requireTokenKeys(d.dir), identity: web, ttlSeconds: 60 });
    const r = await createCertificate({ address: rsa.address, rootsPem: bundle, csrPem: (await createKeyAndCsr('rsa-2048', undefined)).csrPem, token: t });
    assert.ok(r.ok, r.ok ? '' : r.error.details);
    writeFileSync(join(d.dir, 'leaf.pem'), r.value.cert_chain[0]!);
    writeFileSync(join(d.dir, 'root.pem'), bundle);
    assert.match(await openssl(['verify', '-CAfile', 'root.pem', 'leaf.pem'], d.dir), /OK/);
    assert.match(await openssl(['x509', '-in', 'leaf.pem', '-noout', '-ext', 'subjectAltName'], d.dir), /URI:spiffe:\/\/example\.org\/ns\/default\/sa\/web/);
  } finally {
    await rsa.close();
    d.remove();
  }
});

test('peerIdentity gives the SPIFFE id of a verified client certificate on another service of the same server (xDS over mTLS)', async () => {
  const def = {
    Who: {
      path: '/weft.test.Identity/Who',
      requestStream: false,
      responseStream: false,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: (b: Buffer) => b,
    },
  };
  const d = tempDir();
  const logs: string[] = [];
  const { startCaForControlPlane } = await import('./index.ts');
  const cp = await startCaForControlPlane({ stateDir: d.dir, log: (l) => logs.push(l) });
  const server = new grpc.Server();
  cp.register(server);
  server.addService(def, {
    Who: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const id = cp.peerIdentity(call);
      cb(null, Buffer.from(id ? `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}` : 'anonymous'));
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', cp.tlsServerCredentials(), (e, p) => (e ? reject(e) : resolve(p))));
  const bundle = cp.ca.trustBundlePem();
  const Client = grpc.makeGenericClientConstructor(def, 'Identity');
  const who = (creds: grpc.ChannelCredentials): Promise<string> =>
    new Promise((resolve, reject) => {
      const c = new Client(`127.0.0.1:${port}`, creds) as unknown as grpc.Client & { Who(req: Buffer, cb: (e: grpc.ServiceError | null, r?: Buffer) => void): void };
      c.Who(Buffer.alloc(0), (e, r) => {
        c.close();
        if (e) reject(e);
        else resolve(r!.toString());
      });
    });
  try {
    assert.equal(await who(grpc.credentials.createSsl(Buffer.from(bundle))), 'anonymous');
    const t = await mintBootstrapToken({ keys: requireTokenKeys(d.dir), identity: { namespace: 'mesh', serviceAccount: 'proxy' }, ttlSeconds: 60 });
    const kc = await createKeyAndCsr('ecdsa-p256', undefined);
    const r = await createCertificate({ address: `127.0.0.1:${port}`, rootsPem: bundle, csrPem: kc.csrPem, token: t });
    assert.ok(r.ok);
    const creds = grpc.credentials.createSsl(Buffer.from(bundle), Buffer.from(kc.keyPem), Buffer.from(r.value.cert_chain.slice(0, -1).join('')));
    assert.equal(await who(creds), 'spiffe://cluster.local/ns/mesh/sa/proxy');
    // A certificate from some other CA is not verified, so it proves nothing.
    const other = tempDir();
    const foreign = await startTestCa({ stateDir: other.dir });
    const t2 = await mintBootstrapToken({ keys: requireTokenKeys(other.dir), identity: { namespace: 'mesh', serviceAccount: 'proxy' }, ttlSeconds: 60 });
    const kc2 = await createKeyAndCsr('ecdsa-p256', undefined);
    const r2 = await createCertificate({ address: foreign.address, rootsPem: foreign.cp.ca.trustBundlePem(), csrPem: kc2.csrPem, token: t2 });
    await foreign.close();
    other.remove();
    assert.ok(r2.ok);
    assert.equal(await who(grpc.credentials.createSsl(Buffer.from(bundle), Buffer.from(kc2.keyPem), Buffer.from(r2.value.cert_chain[0]!))), 'anonymous');
  } finally {
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    await cp.close();
    d.remove();
  }
});
