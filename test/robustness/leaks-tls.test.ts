// TLS clients that hang up mid-handshake on a sidecar's inbound (mutual TLS) port: a real `weft up`, a real
// `weft proxy sidecar` with a workload certificate from its CA, and bounded batches of broken handshakes — a partial
// ClientHello, a ClientHello then a hang-up as the server answers, a handshake without a client certificate, and a
// client certificate the mesh did not sign. After each batch the sidecar's descriptors are back at rest and it is alive.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mesh, startSidecar, stopAll, type Sidecar } from '../e2e/harness.ts';
import { closed, connect, fdCount, pool } from './lib.ts';

const BATCH = 20;
let mesh: Mesh;
let sidecar: Sidecar;
let rest: number;
let selfSigned: { key: string; cert: string };
const tmp = mkdtempSync(join(tmpdir(), 'weft-robust-tls-'));

before(async () => {
  mesh = new Mesh();
  await mesh.start();
  sidecar = await startSidecar(mesh, 'tls-target');
  // A client certificate with a SPIFFE id that no mesh root signed.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=intruder', '-addext', 'subjectAltName=URI:spiffe://cluster.local/ns/default/sa/intruder', '-keyout', join(tmp, 'key.pem'), '-out', join(tmp, 'cert.pem')], { stdio: 'ignore' });
  selfSigned = { key: readFileSync(join(tmp, 'key.pem'), 'utf8'), cert: readFileSync(join(tmp, 'cert.pem'), 'utf8') };
  await handshakeFails({});
  rest = await restingFds();
});

after(async () => {
  await stopAll();
  await mesh?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** The sidecar's descriptor count once it is stable (two equal readings 100 ms apart, bounded). */
async function restingFds(): Promise<number> {
  let prev = fdCount(sidecar.proc.child.pid!);
  for (let i = 0; i < 40; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const n = fdCount(sidecar.proc.child.pid!);
    if (n === prev) return n;
    prev = n;
  }
  return prev;
}

async function backToRest(what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  let n = fdCount(sidecar.proc.child.pid!);
  while (n > rest) {
    if (Date.now() > deadline) assert.fail(`${what}: the sidecar holds ${n} descriptors, ${rest} at rest`);
    await new Promise((r) => setTimeout(r, 100));
    n = fdCount(sidecar.proc.child.pid!);
  }
  assert.equal(sidecar.proc.child.exitCode, null, `${what}: the sidecar is alive`);
}

/** A TLS client handshake to the inbound port that must not succeed; resolves when the connection is gone. */
async function handshakeFails(opts: tls.ConnectionOptions): Promise<void> {
  const t = tls.connect({ host: '127.0.0.1', port: sidecar.inbound, rejectUnauthorized: false, servername: 'outbound_.8080_._.tls-target.default.svc.cluster.local', ALPNProtocols: ['http/1.1'], ...opts });
  t.on('error', () => undefined);
  let secure = false;
  t.on('secureConnect', () => {
    secure = true;
    // TLS 1.3: the server checks the client certificate after the client's Finished; a request shows the verdict.
    t.write('GET / HTTP/1.1\r\nhost: tls-target\r\n\r\n');
  });
  let answered = '';
  t.on('data', (d: Buffer) => (answered += d.toString('latin1')));
  await closed(t, 10_000);
  assert.ok(!/^HTTP\//.test(answered), `no HTTP response without a mesh client certificate (secure: ${secure}, got ${answered.slice(0, 40)})`);
}

/** The first bytes of a real ClientHello (captured from a node TLS client). */
async function clientHello(): Promise<Buffer> {
  const net = await import('node:net');
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as import('node:net').AddressInfo).port;
  const got = once(server, 'connection').then(async ([s]) => {
    const [d] = (await once(s as import('node:net').Socket, 'data')) as [Buffer];
    (s as import('node:net').Socket).destroy();
    return d;
  });
  const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'outbound_.8080_._.tls-target.default.svc.cluster.local' });
  c.on('error', () => undefined);
  const hello = await got;
  c.destroy();
  server.close();
  return hello;
}

test('partial ClientHellos, then the client hangs up', { timeout: 30_000 }, async () => {
  const hello = await clientHello();
  await pool(BATCH, 5, async (i) => {
    const s = await connect(sidecar.inbound);
    s.write(hello.subarray(0, 5 + (i % 10) * 10));
    await new Promise((r) => setTimeout(r, 20));
    s.destroy();
  });
  await backToRest('partial ClientHellos');
});

test('a whole ClientHello, then the client hangs up as the server answers', { timeout: 30_000 }, async () => {
  const hello = await clientHello();
  await pool(BATCH, 5, async () => {
    const s = await connect(sidecar.inbound);
    const answer = once(s, 'data', { signal: AbortSignal.timeout(5000) });
    s.write(hello);
    await answer;
    s.destroy();
  });
  await backToRest('hang-ups after ServerHello');
});

test('handshakes without a client certificate and with one the mesh did not sign', { timeout: 30_000 }, async () => {
  await pool(BATCH, 5, async (i) => handshakeFails(i % 2 === 0 ? {} : selfSigned));
  await backToRest('refused client certificates');
});
