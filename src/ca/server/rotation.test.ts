// Root rotation without downtime, driven by `weft ca rotate-root` against the state dir of a running CA:
// workloads holding old-root certificates and workloads holding new-root certificates trust each other throughout.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { run } from '../../cli/commands/ca.ts';
import { memoryIo } from '../../cli/io.ts';
import { IdentityManager, type WorkloadIdentity } from '../../agent/identity/manager.ts';
import { connectEcho, startEchoServer } from '../../agent/identity/testing.ts';
import { splitCertificates } from '../pki/pem.ts';
import { createCertificate, openssl, startTestCa, tempDir, waitForLog } from '../testing/harness.ts';
import { createKeyAndCsr } from '../../agent/identity/csr.ts';
import { mintBootstrapToken } from './auth/token.ts';
import { requireTokenKeys, rotateRoot } from './store.ts';

const tmp = tempDir();
after(() => tmp.remove());
const policy = { trustDomains: ['cluster.local'] };

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo();
  const code = await run(args, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

/** Both directions of an mTLS echo between two workloads: a serves and b connects, then the reverse. */
async function mutualTrust(a: IdentityManager, b: IdentityManager): Promise<void> {
  for (const [srv, cli] of [[a, b], [b, a]] as const) {
    const server = await startEchoServer(srv, policy);
    try {
      const c = await connectEcho(server.port, cli.current()!, policy);
      assert.equal(await c.echo('hello'), 'hello');
      c.socket.destroy();
    } finally {
      await server.close();
    }
  }
}

test('during a root rotation old and new workload certificates trust each other; after it, new ones do', async () => {
  const stateDir = tmp.dir;
  const ca = await startTestCa({ stateDir, pollIntervalMs: 50 });
  const oldRoot = ca.cp.ca.trustBundlePem();
  const managers: IdentityManager[] = [];
  const workload = (sa: string, roots: string): IdentityManager => {
    const m = new IdentityManager({
      caAddress: ca.address,
      caRootsPem: roots,
      token: () => mintBootstrapToken({ keys: requireTokenKeys(stateDir), identity: { namespace: 'default', serviceAccount: sa }, ttlSeconds: 600 }),
    });
    managers.push(m);
    return m;
  };
  try {
    const oldWorkload = workload('reviews', oldRoot);
    const before: WorkloadIdentity = await oldWorkload.start();
    assert.equal(splitCertificates(before.rootsPem).length, 1);

    // Rotate on disk, as an operator would; the running CA notices within its poll interval.
    const updated = once(ca.cp.ca, 'updated');
    const r = await cli('rotate-root', '--state-dir', stateDir, '--overlap', '1h');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /generation 1 → 2/);
    await updated;
    const bundle = ca.cp.ca.trustBundlePem();
    assert.equal(splitCertificates(bundle).length, 2, 'old and new roots are trusted together');
    // A 1 h overlap is shorter than the 90-day maximum TTL: the operator is warned.
    assert.ok(ca.logs.some((l) => l.includes('shorter than the maximum certificate TTL')), ca.logs.join('\n'));

    // A workload that only knows the old root (e.g. a fresh start with an old root-cert.pem) still reaches the CA,
    // whose serving certificate now comes from the new root via the cross-signed certificate.
    const newWorkload = workload('ratings', oldRoot);
    const after1 = await newWorkload.start();
    assert.equal(splitCertificates(after1.certChainPem).length, 2, 'leaf and the cross-signed new root');
    assert.equal(after1.rootsPem, bundle);
    assert.equal(new X509Certificate(splitCertificates(after1.certChainPem)[0]!).issuer, 'O=cluster.local\nCN=Weft Root CA 2');

    // openssl agrees: the new leaf verifies against the old root alone (through the cross certificate) and against the new root.
    writeFileSync(join(tmp.dir, 'leaf.pem'), splitCertificates(after1.certChainPem)[0]!);
    writeFileSync(join(tmp.dir, 'cross.pem'), splitCertificates(after1.certChainPem)[1]!);
    writeFileSync(join(tmp.dir, 'old-root.pem'), oldRoot);
    writeFileSync(join(tmp.dir, 'new-root.pem'), splitCertificates(bundle)[1]!);
    assert.match(await openssl(['verify', '-CAfile', 'old-root.pem', '-untrusted', 'cross.pem', 'leaf.pem'], tmp.dir), /OK/);
    assert.match(await openssl(['verify', '-CAfile', 'new-root.pem', 'leaf.pem'], tmp.dir), /OK/);

    // Old (trusts only the old root) and new certificates accept each other in both directions.
    assert.equal(oldWorkload.current()!.rootsPem, oldRoot);
    await mutualTrust(oldWorkload, newWorkload);

    // The old workload renews and learns the new bundle.
    const roots = once(oldWorkload, 'roots');
    await oldWorkload.renewNow();
    assert.equal((await roots)[0], bundle);
    await mutualTrust(oldWorkload, newWorkload);

    // Finishing early needs --force; then only the new root is trusted and issued chains no longer carry the cross certificate.
    await assert.rejects(cli('rotate-root', '--finish', '--state-dir', stateDir), /Add --force once every workload has rotated/);
    const finished = once(ca.cp.ca, 'updated');
    assert.equal((await cli('rotate-root', '--finish', '--force', '--state-dir', stateDir)).code, 0);
    await finished;
    assert.equal(splitCertificates(ca.cp.ca.trustBundlePem()).length, 1);
    const latest = workload('details', ca.cp.ca.trustBundlePem());
    const last = await latest.start();
    assert.equal(splitCertificates(last.certChainPem).length, 1);
    assert.equal(splitCertificates(last.rootsPem).length, 1);
    // Workloads still carrying the cross certificate and both roots interoperate with the post-rotation ones.
    await mutualTrust(latest, newWorkload);
    await mutualTrust(latest, oldWorkload);
  } finally {
    for (const m of managers) m.close();
    await ca.close();
  }
});

test('the old root leaves the trust bundle on its own when the overlap ends', async () => {
  const d = tempDir();
  const ca = await startTestCa({ stateDir: d.dir, pollIntervalMs: 50 });
  try {
    const started = once(ca.cp.ca, 'updated');
    await rotateRoot({ stateDir: d.dir, overlapMs: 1500 });
    await started;
    assert.equal(splitCertificates(ca.cp.ca.trustBundlePem()).length, 2);
    // No file changes: the clock ends the overlap, and the running CA notices.
    await once(ca.cp.ca, 'updated');
    assert.equal(splitCertificates(ca.cp.ca.trustBundlePem()).length, 1);
    assert.match(new X509Certificate(ca.cp.ca.trustBundlePem()).subject, /Weft Root CA 2/);
    assert.ok(ca.logs.some((l) => l.includes('now self-signed root generation 2') && !l.includes('rotating')), ca.logs.join('\n'));
  } finally {
    await ca.close();
    d.remove();
  }
});

test('a damaged ca.json under a running CA is logged once and the current CA keeps signing', async () => {
  const d = tempDir();
  const ca = await startTestCa({ stateDir: d.dir, pollIntervalMs: 20 });
  try {
    const bundle = ca.cp.ca.trustBundlePem();
    writeFileSync(join(d.dir, 'ca', 'ca.json'), '{ damaged');
    assert.match(await waitForLog(ca, /could not reload the CA/), /ca\.json is not valid JSON/);
    // Further polls (20 ms apart) keep failing but do not repeat the line.
    await once(setTimeoutEmitter(200), 'tick');
    assert.equal(ca.logs.filter((l) => l.includes('could not reload the CA')).length, 1);
    assert.equal(ca.cp.ca.trustBundlePem(), bundle);
    const token = await mintBootstrapToken({ keys: requireTokenKeys(d.dir), identity: { namespace: 'a', serviceAccount: 'b' }, ttlSeconds: 60 });
    const r = await createCertificate({ address: ca.address, rootsPem: bundle, csrPem: (await createKeyAndCsr('ecdsa-p256', undefined)).csrPem, token });
    assert.ok(r.ok);
  } finally {
    await ca.close();
    d.remove();
  }
});

/** An emitter that ticks once after `ms`: lets the CA's poller run several times (asserting an absence needs time). */
function setTimeoutEmitter(ms: number): EventEmitter {
  const e = new EventEmitter();
  setTimeout(() => e.emit('tick'), ms);
  return e;
}
