// The workload side end to end: identities from a real CA over gRPC, rotation before expiry while an open mTLS
// connection keeps working, and retries while the CA is away.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { formatSpiffeId } from '../../core/names/spiffe.ts';
import { mintBootstrapToken } from '../../ca/server/auth/token.ts';
import { requireTokenKeys } from '../../ca/server/store.ts';
import { startTestCa, tempDir } from '../../ca/testing/harness.ts';
import { IdentityManager } from './manager.ts';
import { connectEcho, startEchoServer, waitForIdentity } from './testing.ts';
import { formatSecretTable, secretSummaries } from './describe.ts';

const tmp = tempDir();
after(() => tmp.remove());
const policy = { trustDomains: ['cluster.local'] };

function manager(address: string, rootsPem: string, sa: string, ttlSeconds: number, extra: Partial<ConstructorParameters<typeof IdentityManager>[0]> = {}): IdentityManager {
  let seq = 0;
  return new IdentityManager({
    caAddress: address,
    caRootsPem: rootsPem,
    token: () => mintBootstrapToken({ keys: requireTokenKeys(tmp.dir), identity: { namespace: 'default', serviceAccount: sa }, ttlSeconds: 600 }),
    identity: { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: sa },
    ttlSeconds,
    initialBackoffMs: 50,
    maxBackoffMs: 500,
    // Seeded jitter: deterministic schedules.
    random: () => ((seq = (seq * 1103515245 + 12345) % 2 ** 31) / 2 ** 31),
    ...extra,
  });
}

test('a 3-second certificate is replaced before it expires while an open mTLS connection keeps working', async () => {
  const ca = await startTestCa({ stateDir: tmp.dir });
  const web = manager(ca.address, ca.cp.ca.trustBundlePem(), 'web', 3);
  const db = manager(ca.address, ca.cp.ca.trustBundlePem(), 'db', 3);
  try {
    const [webFirst, dbFirst] = await Promise.all([web.start(), db.start()]);
    assert.equal(formatSpiffeId(webFirst.spiffeId), 'spiffe://cluster.local/ns/default/sa/web');
    assert.equal(webFirst.notAfter.getTime() - webFirst.notBefore.getTime(), 3000);
    // The private key was made here and the certificate carries its public key.
    assert.match(webFirst.keyPem, /BEGIN PRIVATE KEY/);

    const server = await startEchoServer(db, { trustDomains: ['cluster.local'], allow: (id) => id.serviceAccount === 'web' });
    const conn = await connectEcho(server.port, webFirst, { trustDomains: ['cluster.local'], allow: (id) => id.serviceAccount === 'db' });
    assert.equal(await conn.echo('before rotation'), 'before rotation');
    assert.equal(conn.peerSerial, dbFirst.serialNumber);

    // Wait (for events, not time) until both workloads hold certificates issued after the first ones expired.
    const [webNow, dbNow] = await Promise.all([
      waitForIdentity(web, (id) => id.notBefore.getTime() >= webFirst.notAfter.getTime()),
      waitForIdentity(db, (id) => id.notBefore.getTime() >= dbFirst.notAfter.getTime()),
    ]);
    assert.ok(Date.now() >= webFirst.notAfter.getTime(), 'the first certificate has expired');
    assert.ok(web.rotations >= 3, `renewed at half life (${web.rotations} issuances)`);
    // Renewals after the first used the current certificate over mTLS, not the token.
    assert.ok((ca.cp.stats().issuedBy['client-certificate'] ?? 0) >= 2, JSON.stringify(ca.cp.stats()));

    // The connection opened with the now-expired certificates still works.
    assert.equal(await conn.echo('after rotation'), 'after rotation');
    // New connections use the new certificates on both sides.
    const fresh = await connectEcho(server.port, web.current()!, policy);
    assert.equal(await fresh.echo('fresh'), 'fresh');
    assert.equal(fresh.peerSerial, db.current()!.serialNumber);
    assert.notEqual(fresh.peerSerial, dbFirst.serialNumber);
    assert.ok(webNow.serialNumber !== webFirst.serialNumber && dbNow.serialNumber !== dbFirst.serialNumber);
    conn.socket.destroy();
    fresh.socket.destroy();
    await server.close();
  } finally {
    web.close();
    db.close();
    await ca.close();
  }
});

test('SPIFFE peer validation refuses a peer with the wrong identity', async () => {
  const ca = await startTestCa({ stateDir: tmp.dir });
  const web = manager(ca.address, ca.cp.ca.trustBundlePem(), 'web', 600);
  const db = manager(ca.address, ca.cp.ca.trustBundlePem(), 'db', 600);
  try {
    await Promise.all([web.start(), db.start()]);
    const server = await startEchoServer(db, policy);
    await assert.rejects(connectEcho(server.port, web.current()!, { trustDomains: ['cluster.local'], allow: (id) => id.serviceAccount === 'payments' }), /not allowed/);
    await assert.rejects(connectEcho(server.port, web.current()!, { trustDomains: ['other.example'] }), /not in trust domain other\.example/);
    // What `proxy-config secret` shows for this workload.
    const rows = secretSummaries(web.current()!);
    assert.deepEqual(rows.map((r) => [r.resourceName, r.type, r.validCert]), [['default', 'Cert Chain', true], ['ROOTCA', 'CA', true]]);
    assert.deepEqual(rows[0]!.uris, ['spiffe://cluster.local/ns/default/sa/web']);
    assert.equal(rows[0]!.serialNumber, web.current()!.serialNumber);
    assert.match(formatSecretTable(rows), /^RESOURCE NAME +TYPE +STATUS +VALID CERT +SERIAL NUMBER +NOT AFTER +NOT BEFORE\ndefault +Cert Chain +ACTIVE +true +[0-9a-f]+ +\d{4}-/);
    await server.close();
  } finally {
    web.close();
    db.close();
    await ca.close();
  }
});

test('while the CA is away the manager retries with backoff, and gets its certificate once the CA is up', async () => {
  // Find a free port, then leave it closed: the CA is "away".
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  // The roots come from a CA started on this state dir earlier (same root on restart).
  const rootsCa = await startTestCa({ stateDir: tmp.dir });
  const roots = rootsCa.cp.ca.trustBundlePem();
  await rootsCa.close();
  const logs: string[] = [];
  const m = manager(`127.0.0.1:${port}`, roots, 'web', 600, { log: (l) => logs.push(l) });
  const errors: Error[] = [];
  m.on('error', (e) => errors.push(e));
  const started = m.start();
  await once(m, 'error');
  await once(m, 'error');
  const ca = await startTestCa({ stateDir: tmp.dir, port });
  try {
    const id = await started;
    assert.equal(id.spiffeId.serviceAccount, 'web');
    assert.ok(errors.length >= 2);
    assert.ok(logs.some((l) => /retrying in \d+ ms/.test(l)), logs.join('\n'));
  } finally {
    m.close();
    await ca.close();
  }
});

test("the CA's serving certificate must name the address dialled: an IP missing from its SANs is refused", async () => {
  const ca = await startTestCa({ stateDir: tmp.dir, servingHosts: ['localhost'] });
  try {
    const byIp = manager(ca.address, ca.cp.ca.trustBundlePem(), 'web', 600);
    await assert.rejects(byIp.renewNow(), /IP: 127\.0\.0\.1 is not in the cert's list/);
    byIp.close();
    const byName = manager(`localhost:${ca.port}`, ca.cp.ca.trustBundlePem(), 'web', 600);
    assert.equal((await byName.renewNow()).spiffeId.serviceAccount, 'web');
    byName.close();
  } finally {
    await ca.close();
  }
});

test('a token for another account: refused is emitted once, retries go on quietly, and a replaced token is picked up', async () => {
  const ca = await startTestCa({ stateDir: tmp.dir });
  let account = 'reviews';
  const logs: Array<[string, string | undefined]> = [];
  const m = manager(ca.address, ca.cp.ca.trustBundlePem(), 'ratings', 600, {
    // The token file as the operator first wrote it (for reviews), then replaced (for ratings).
    token: () => mintBootstrapToken({ keys: requireTokenKeys(tmp.dir), identity: { namespace: 'default', serviceAccount: account }, ttlSeconds: 600 }),
    log: (line, level) => logs.push([line, level]),
  });
  const refusals: unknown[] = [];
  m.on('refused', (r) => refusals.push(r));
  let failures = 0;
  m.on('error', () => {
    if (++failures === 3) account = 'ratings';
  });
  try {
    const id = await m.start();
    assert.equal(formatSpiffeId(id.spiffeId), 'spiffe://cluster.local/ns/default/sa/ratings');
    assert.ok(failures >= 3);
    assert.deepEqual(refusals, [
      {
        asked: 'spiffe://cluster.local/ns/default/sa/ratings',
        proven: 'spiffe://cluster.local/ns/default/sa/reviews',
        credential: 'token',
        details: 'the CSR asks for spiffe://cluster.local/ns/default/sa/ratings but the caller proved spiffe://cluster.local/ns/default/sa/reviews',
      },
    ]);
    const failed = logs.filter(([l]) => l.includes('certificate request failed'));
    assert.ok(failed.every(([, level]) => level === 'warn'));
    assert.match(failed[0]![0], /\(attempt 1\), retrying in \d+ ms: .*PERMISSION_DENIED: the CSR asks for/);
    assert.match(failed[1]![0], /\(attempt 2\), retrying in \d+ ms: the same error as before$/);
  } finally {
    m.close();
    await ca.close();
  }
});
