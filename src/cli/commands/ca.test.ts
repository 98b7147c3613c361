// `weft ca` through the CLI entry point: output shapes, exit codes and usage errors.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../main.ts';
import { memoryIo } from '../io.ts';
import { openssl, startTestCa, tempDir } from '../../ca/testing/harness.ts';
import { BootstrapTokenAuthenticator } from '../../ca/server/auth/token.ts';
import { requireTokenKeys } from '../../ca/server/store.ts';
import { parseDurationFlag } from './ca.ts';

const tmp = tempDir();
after(() => tmp.remove());

async function weft(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await main(args, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

test('init creates the CA once, root prints it, inspect describes it', async () => {
  const dir = join(tmp.dir, 'a');
  const first = await weft('ca', 'init', '--state-dir', dir, '--trust-domain', 'corp.example');
  assert.equal(first.code, 0, first.err);
  assert.match(first.out, /^Created a new CA in .*\/ca\n/);
  assert.match(first.out, /trust domain: corp\.example/);
  assert.match(first.out, /subject: +O=corp\.example, CN=Weft Root CA 1/);
  assert.equal(statSync(join(dir, 'ca', 'root-1-key.pem')).mode & 0o777, 0o600);
  const again = await weft('ca', 'init', '--state-dir', dir);
  assert.match(again.out, /already exists .*keeping it/);
  const root = await weft('ca', 'root', '--state-dir', dir);
  assert.equal(root.code, 0);
  const cert = new X509Certificate(root.out);
  assert.ok(cert.ca);
  assert.equal(Math.round((Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000), 3650);
  const json = await weft('ca', 'inspect', '--state-dir', dir, '-o', 'json');
  const parsed = JSON.parse(json.out) as { trustDomain: string; generation: number; trustedRoots: Array<{ sha256Fingerprint: string }> };
  assert.equal(parsed.trustDomain, 'corp.example');
  assert.equal(parsed.generation, 1);
  assert.equal(parsed.trustedRoots[0]!.sha256Fingerprint, cert.fingerprint256);
  writeFileSync(join(tmp.dir, 'root.pem'), root.out);
  const file = await weft('ca', 'inspect', join(tmp.dir, 'root.pem'));
  assert.match(file.out, /root\.pem \[0\]:\n {2}subject: +O=corp\.example, CN=Weft Root CA 1/);
});

test('token mints a JWT the CA accepts for exactly that identity', async () => {
  const dir = join(tmp.dir, 'a');
  const r = await weft('ca', 'token', '--namespace', 'shop', '--service-account', 'cart', '--ttl', '10m', '--state-dir', dir);
  assert.equal(r.code, 0, r.err);
  const outcome = await new BootstrapTokenAuthenticator(requireTokenKeys(dir)).authenticate({ bearerToken: r.out.trim(), peerCertificate: undefined });
  assert.deepEqual(outcome, { kind: 'authenticated', identity: { namespace: 'shop', serviceAccount: 'cart' }, method: 'bootstrap-token' });
  const payload = JSON.parse(Buffer.from(r.out.split('.')[1]!, 'base64url').toString()) as { exp: number; iat: number; aud: string };
  assert.equal(payload.exp - payload.iat, 600);
  assert.equal(payload.aud, 'istio-ca');
});

test('usage errors exit 2 with a message saying what to do', async () => {
  const noDir = await weft('ca', 'root', '--state-dir', join(tmp.dir, 'nothing-here'));
  assert.equal(noDir.code, 2);
  assert.match(noDir.err, /there is no CA in .*run 'weft ca init --state-dir/);
  const missing = await weft('ca', 'token', '--namespace', 'shop', '--state-dir', join(tmp.dir, 'a'));
  assert.equal(missing.code, 2);
  assert.match(missing.err, /--namespace and --service-account are required/);
  const badName = await weft('ca', 'token', '--namespace', 'Shop', '--service-account', 'x', '--state-dir', join(tmp.dir, 'a'));
  assert.match(badName.err, /DNS-1123 label/);
  const badKey = await weft('ca', 'init', '--state-dir', join(tmp.dir, 'b'), '--key-type', 'dsa');
  assert.match(badKey.err, /--key-type must be ecdsa-p256 or rsa-2048/);
  const badFlag = await weft('ca', 'root', '--bogus');
  assert.equal(badFlag.code, 2);
  // The flag errors read as the other commands' do (not node:util's advice to quote it after '--').
  assert.equal(badFlag.err, "weft ca: unknown flag --bogus; run 'weft ca --help'\n");
  assert.equal((await weft('ca', 'init', '--state-dir')).err, "weft ca: flag --state-dir needs a value; run 'weft ca --help'\n");
  assert.equal((await weft('ca', 'rotate-root', '--finish=yes')).err, "weft ca: flag --finish takes no value; run 'weft ca --help'\n");
  const noRotation = await weft('ca', 'rotate-root', '--finish', '--state-dir', join(tmp.dir, 'a'));
  assert.match(noRotation.err, /no root rotation is in progress/);
  assert.equal((await weft('ca')).code, 2);
  assert.equal((await weft('ca', '--help')).code, 0);
});

test('duration flags take Go syntax and days', () => {
  assert.equal(parseDurationFlag('ttl', '90s'), 90);
  assert.equal(parseDurationFlag('ttl', '1h30m'), 5400);
  assert.equal(parseDurationFlag('ttl', '90d'), 90 * 86_400);
  assert.throws(() => parseDurationFlag('ttl', '10'), /--ttl/);
  assert.throws(() => parseDurationFlag('ttl', '100ms'), /at least 1s/);
});

test('request gets a certificate from a running CA over the real API and writes it for openssl', async () => {
  const dir = join(tmp.dir, 'running');
  const ca = await startTestCa({ stateDir: dir });
  try {
    const token = (await weft('ca', 'token', '-n', 'vm', '--service-account', 'legacy', '--state-dir', dir)).out.trim();
    const out = join(tmp.dir, 'certs');
    const r = await weft('ca', 'request', '--ca-address', ca.address, '--state-dir', dir, '--token', token, '--ttl', '2h', '--out-dir', out);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^identity: +spiffe:\/\/cluster\.local\/ns\/vm\/sa\/legacy$/m);
    assert.equal(statSync(join(out, 'key.pem')).mode & 0o777, 0o600);
    assert.match(await openssl(['verify', '-CAfile', 'root-cert.pem', 'cert-chain.pem'], out), /OK/);
    const leaf = new X509Certificate(readFileSync(join(out, 'cert-chain.pem')));
    assert.equal(Date.parse(leaf.validTo) - Date.parse(leaf.validFrom), 2 * 3600 * 1000);
    const denied = await weft('ca', 'request', '--ca-address', ca.address, '--state-dir', dir, '--token', 'x.y.z', '--out-dir', out);
    assert.equal(denied.code, 2);
    assert.match(denied.err, /the CA did not accept the credentials: .* \(WEFT_ERR_AUTH\)/);
  } finally {
    await ca.close();
  }
});
