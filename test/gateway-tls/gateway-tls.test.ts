// Gateway TLS end to end with real processes and real tools: `weft up` with Istio Gateway + VirtualService YAML →
// `weft proxy router --credentials-dir DIR`; certificates made here with openssl; curl and `openssl s_client` as
// clients. Covers SNI routing of two hosts on one port (credentialName and certificate files), MUTUAL, PASSTHROUGH
// to a TLS upstream whose certificate the client sees, AUTO_PASSTHROUGH by Istio's cluster SNI, httpsRedirect, and a
// credential rotated on disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { makeCa, makeLeaf } from './certs.ts';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startUpstream } from '../proxy/helpers.ts';
import { WEFT, eventually, freePort } from '../tcp/harness.ts';

const run = promisify(execFile);

function startProcess(args: string[], readyText: string, children: ChildProcess[]): Promise<{ child: ChildProcess; out: () => string; err: () => string }> {
  const child = spawn(process.execPath, [WEFT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', () => {
      if (out.includes(readyText)) resolve({ child, out: () => out, err: () => err });
    });
    child.once('exit', (code) => reject(new Error(`weft ${args.slice(0, 2).join(' ')} exited ${code}: ${err}`)));
  });
}

/** The subject line of the certificate a server presents for `sni` (openssl s_client). */
async function presentedSubject(port: number, sni: string, extra: string[] = []): Promise<string> {
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', sni, ...extra], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin.end();
  await new Promise((r) => child.once('close', r));
  const m = /^subject=(.*)$/m.exec(out);
  return m ? m[1]!.trim() : `(no certificate) ${out.slice(0, 200)}`;
}

async function curl(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run('curl', ['-sS', '--max-time', '5', ...args]);
    return { code: 0, out: stdout };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

test('weft proxy router: SIMPLE by SNI (credentialName and files), MUTUAL, PASSTHROUGH, AUTO_PASSTHROUGH, httpsRedirect, credential reload', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-gateway-tls-'));
  const children: ChildProcess[] = [];
  const certs = join(dir, 'certs');
  mkdirSync(certs);
  makeCa(certs);
  for (const n of ['a.example.com', 'b.example.com', 'm.example.com', 'p.example.com', 'client.example.com']) makeLeaf(certs, n, n);
  // Credentials laid out as a mounted Kubernetes TLS secret (a-cred) and as Istio's generic secret keys (m-cred).
  const creds = join(dir, 'credentials');
  mkdirSync(join(creds, 'a-cred'), { recursive: true });
  copyFileSync(join(certs, 'a.example.com.crt'), join(creds, 'a-cred', 'tls.crt'));
  copyFileSync(join(certs, 'a.example.com.key'), join(creds, 'a-cred', 'tls.key'));
  mkdirSync(join(creds, 'm-cred'));
  copyFileSync(join(certs, 'm.example.com.crt'), join(creds, 'm-cred', 'cert'));
  copyFileSync(join(certs, 'm.example.com.key'), join(creds, 'm-cred', 'key'));
  copyFileSync(join(certs, 'ca.crt'), join(creds, 'm-cred', 'cacert'));

  const appA = await startUpstream('app-a');
  const appB = await startUpstream('app-b');
  const tlsBackend = https.createServer({ cert: readFileSync(join(certs, 'p.example.com.crt')), key: readFileSync(join(certs, 'p.example.com.key')) }, (_req, res) => res.end('tls-backend'));
  await new Promise<void>((r) => tlsBackend.listen(0, '127.0.0.1', r));
  const backendPort = (tlsBackend.address() as net.AddressInfo).port;
  t.after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await appA.close();
    await appB.close();
    tlsBackend.closeAllConnections();
    await new Promise((r) => tlsBackend.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const [pHttps, pMutual, pPass, pHttp, pAuto] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const cfg = join(dir, 'config');
  mkdirSync(cfg);
  writeFileSync(
    join(cfg, 'gateway.yaml'),
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: backends, namespace: default }
spec:
  hosts: [a.internal]
  location: MESH_EXTERNAL
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints: [{ address: 127.0.0.1, ports: { http: ${appA.port} } }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: backend-b, namespace: default }
spec:
  hosts: [b.internal]
  location: MESH_EXTERNAL
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  resolution: STATIC
  endpoints: [{ address: 127.0.0.1, ports: { http: ${appB.port} } }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: backend-p, namespace: default }
spec:
  hosts: [p.internal]
  location: MESH_EXTERNAL
  ports: [{ number: 8443, name: tls, protocol: TLS }]
  resolution: STATIC
  endpoints: [{ address: 127.0.0.1, ports: { tls: ${backendPort} } }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: ${pHttps}, name: https-a, protocol: HTTPS }
    hosts: [a.example.com]
    tls: { mode: SIMPLE, credentialName: a-cred }
  - port: { number: ${pHttps}, name: https-b, protocol: HTTPS }
    hosts: [b.example.com]
    tls: { mode: SIMPLE, serverCertificate: ${join(certs, 'b.example.com.crt')}, privateKey: ${join(certs, 'b.example.com.key')}, minProtocolVersion: TLSV1_3 }
  - port: { number: ${pMutual}, name: https-m, protocol: HTTPS }
    hosts: [m.example.com]
    tls: { mode: MUTUAL, credentialName: m-cred }
  - port: { number: ${pPass}, name: tls-p, protocol: TLS }
    hosts: [p.example.com]
    tls: { mode: PASSTHROUGH }
  - port: { number: ${pAuto}, name: tls-auto, protocol: TLS }
    hosts: ['*.internal']
    tls: { mode: AUTO_PASSTHROUGH }
  - port: { number: ${pHttp}, name: http, protocol: HTTP }
    hosts: [a.example.com]
    tls: { httpsRedirect: true }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: a, namespace: default }
spec:
  hosts: [a.example.com, m.example.com]
  gateways: [gw]
  http: [{ route: [{ destination: { host: a.internal, port: { number: 8080 } } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: b, namespace: default }
spec:
  hosts: [b.example.com]
  gateways: [gw]
  http: [{ route: [{ destination: { host: b.internal, port: { number: 8080 } } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: p, namespace: default }
spec:
  hosts: [p.example.com]
  gateways: [gw]
  tls:
  - match: [{ port: ${pPass}, sniHosts: [p.example.com] }]
    route: [{ destination: { host: p.internal, port: { number: 8443 } } }]
`,
  );
  const state = join(dir, 'state');
  const up = await startProcess(['up', '--config-dir', cfg, '--state-dir', state, '--xds-port', '0', '--xds-tls-port', '0', '--monitoring-port', '0'], 'control plane ready', children);
  const xds = /xDS \(plaintext\) listening on ([\d.:]+)/.exec(up.out())![1]!;
  const router = await startProcess(
    ['proxy', 'router', '--discovery-address', xds, '--credentials-dir', creds, '--name', 'istio-ingressgateway', '--namespace', 'istio-system', '--labels', 'istio=ingressgateway', '--admin-port', '0', '--stats-port', '0', '--readiness-port', '0', '--status-port', '0'],
    'weft proxy ready',
    children,
  );
  for (const p of [pHttps, pMutual, pPass, pHttp, pAuto]) await eventually(`gateway listener on ${p}`, 10_000, () => canConnect(p));
  const resolveTo = (host: string, port: number): string[] => ['--resolve', `${host}:${port}:127.0.0.1`, '--cacert', join(certs, 'ca.crt')];

  // Two hosts on one port, each with its own certificate, routed by SNI to different upstreams.
  assert.deepEqual(await curl([...resolveTo('a.example.com', pHttps), `https://a.example.com:${pHttps}/`]), { code: 0, out: 'app-a' });
  assert.deepEqual(await curl([...resolveTo('b.example.com', pHttps), `https://b.example.com:${pHttps}/`]), { code: 0, out: 'app-b' });
  assert.match(await presentedSubject(pHttps, 'a.example.com'), /CN\s*=\s*a\.example\.com/);
  assert.match(await presentedSubject(pHttps, 'b.example.com'), /CN\s*=\s*b\.example\.com/);
  // minProtocolVersion on b's server only: TLS 1.2 is refused there and still accepted for a.
  assert.notEqual((await curl(['--tls-max', '1.2', ...resolveTo('b.example.com', pHttps), `https://b.example.com:${pHttps}/`])).code, 0);
  assert.deepEqual(await curl(['--tls-max', '1.2', ...resolveTo('a.example.com', pHttps), `https://a.example.com:${pHttps}/`]), { code: 0, out: 'app-a' });
  // HTTP/2 by ALPN over the terminated session.
  assert.deepEqual(await curl(['--http2', '-o', '/dev/null', '-w', '%{http_version}', ...resolveTo('a.example.com', pHttps), `https://a.example.com:${pHttps}/`]), { code: 0, out: '2' });
  // An SNI no server names gets no certificate (no filter chain matches).
  assert.notEqual((await curl([...resolveTo('c.example.com', pHttps), `https://c.example.com:${pHttps}/`])).code, 0);

  // MUTUAL: refused without a client certificate, served with one the CA signed.
  assert.notEqual((await curl([...resolveTo('m.example.com', pMutual), `https://m.example.com:${pMutual}/`])).code, 0);
  const withCert = ['--cert', join(certs, 'client.example.com.crt'), '--key', join(certs, 'client.example.com.key')];
  assert.deepEqual(await curl([...withCert, ...resolveTo('m.example.com', pMutual), `https://m.example.com:${pMutual}/`]), { code: 0, out: 'app-a' });

  // PASSTHROUGH: the gateway never decrypts; the client verifies the upstream's own certificate end to end.
  assert.deepEqual(await curl([...resolveTo('p.example.com', pPass), `https://p.example.com:${pPass}/`]), { code: 0, out: 'tls-backend' });
  assert.match(await presentedSubject(pPass, 'p.example.com'), /CN\s*=\s*p\.example\.com/);

  // AUTO_PASSTHROUGH: Istio's cluster SNI (outbound_.PORT_.SUBSET_.HOST) picks the service, no VirtualService needed.
  assert.match(await presentedSubject(pAuto, 'outbound_.8443_._.p.internal'), /CN\s*=\s*p\.example\.com/);
  assert.match(await presentedSubject(pAuto, 'outbound_.8443_._.unknown.internal'), /no certificate/);

  // httpsRedirect: plain HTTP gets a 301 to the same host and path over https.
  const redirect = await curl(['-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', '-H', 'host: a.example.com', `http://127.0.0.1:${pHttp}/some/path?q=1`]);
  assert.equal(redirect.out, `301 https://a.example.com/some/path?q=1`);

  // The credential rotated on disk: new connections get the new certificate, without a restart.
  makeLeaf(certs, 'a2', 'a.example.com', { org: 'rotated' });
  writeFileSync(join(creds, 'a-cred', 'tls.key.new'), readFileSync(join(certs, 'a2.key')));
  writeFileSync(join(creds, 'a-cred', 'tls.crt.new'), readFileSync(join(certs, 'a2.crt')));
  execFileSync('mv', [join(creds, 'a-cred', 'tls.key.new'), join(creds, 'a-cred', 'tls.key')]);
  execFileSync('mv', [join(creds, 'a-cred', 'tls.crt.new'), join(creds, 'a-cred', 'tls.crt')]);
  assert.match(await presentedSubject(pHttps, 'a.example.com'), /O\s*=\s*rotated/);
  assert.deepEqual(await curl([...resolveTo('a.example.com', pHttps), `https://a.example.com:${pHttps}/`]), { code: 0, out: 'app-a' });

  router.child.kill('SIGTERM');
  up.child.kill('SIGTERM');
});
