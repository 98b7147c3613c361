// Failure tests with real processes: a backend killed mid-stream, the control plane killed (and restarted on the same
// ports) while traffic flows, a resource the proxy cannot compile (NACKed, shown by `weft proxy-status`, the old
// config keeps serving), and malformed requests from raw sockets and curl (400/431, connection closed, process alive).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { join } from 'node:path';
import { Mesh, appsDir, curl, freePort, service, startApp, startSidecar, startWorkload, stopAll, until, type Proc, type Sidecar, type Workload } from './harness.ts';

const mesh = new Mesh();
let client: Sidecar;
let web: Workload;
let backend: Proc;
let backendPort = 0;
let otherPort = 0;

/** A ServiceEntry for an app without a sidecar (auto mTLS sends it plaintext). */
function serviceEntry(name: string, port: number, protocol: string, endpoints: string): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: default }
spec:
  hosts: [${name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{ number: ${port}, name: ${protocol.toLowerCase()}, protocol: ${protocol} }]
  resolution: STATIC
  endpoints: ${endpoints}
---
`;
}

before(async () => {
  [backendPort, otherPort] = [await freePort(), await freePort()];
  mesh.write(
    'services.yaml',
    service('web', 9080, 'http') +
      '---\n' +
      serviceEntry('backend', 8080, 'HTTP', `[{ address: 127.0.0.1, ports: { http: ${backendPort} } }]`) +
      serviceEntry('other', 8080, 'HTTP', `[{ address: 127.0.0.1, ports: { http: ${otherPort} } }]`),
  );
  // Fixed ports, so that the control plane can come back where the proxies expect it.
  await mesh.start({ xds: await freePort(), tls: await freePort(), monitoring: await freePort() });
  const webPort = await freePort();
  [backend, , web, client] = await Promise.all([
    startApp('http-app.ts', [String(backendPort), 'backend']),
    startApp('http-app.ts', [String(otherPort), 'other']),
    startWorkload(mesh, 'web-v1', 'app=web,version=v1', 'http', webPort, [process.execPath, join(appsDir, 'http-app.ts'), String(webPort), 'web-v1']),
    startSidecar(mesh, 'client', { extra: ['--access-log-file', '/dev/stdout'] }),
  ]);
  await until('the client sidecar to know the web workload', async () => ((await client.admin_('/clusters')).includes(`outbound|9080||web.default.svc.cluster.local::${web.address}:`) ? true : undefined));
});

after(async () => {
  await stopAll();
  await mesh.close();
});

const proxy = (): string[] => ['-x', `http://127.0.0.1:${client.outbound}`];

/** One request through the client sidecar with a keep-alive agent: status and body, or the error's code. */
function get(agent: http.Agent, url: string): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const req = http.request({ host: '127.0.0.1', port: client.outbound, path: url, headers: { host: u.host }, agent, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

test('backend killed mid-stream: the client sees the response cut off (UC); the proxy keeps serving; then 503 UF', async () => {
  const cut = await new Promise<{ bytes: number; outcome: string }>((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: client.outbound, path: 'http://backend:8080/partial', headers: { host: 'backend:8080' }, agent: false }, (res) => {
      let bytes = 0;
      res.once('data', () => backend.child.kill('SIGKILL'));
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => resolve({ bytes, outcome: 'end' }));
      res.on('error', (e: NodeJS.ErrnoException) => resolve({ bytes, outcome: e.code ?? e.message }));
      res.on('aborted', () => resolve({ bytes, outcome: 'aborted' }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ bytes: -1, outcome: e.code ?? e.message }));
    req.end();
  });
  assert.notEqual(cut.outcome, 'end', 'a truncated chunked body must not look complete');
  assert.ok(cut.bytes > 0 && cut.bytes <= 65536, `got ${cut.bytes} bytes`);
  await backend.exit;
  assert.equal((await curl([...proxy(), 'http://other:8080/hello'])).stdout, 'hello from other');
  const after = await curl([...proxy(), '-w', ' %{http_code}', 'http://backend:8080/hello']);
  assert.match(after.stdout, /^upstream connect error or disconnect\/reset before headers\. reset reason: connection failure.* 503$/);
  await client.proc.waitFor(/"GET \/hello HTTP\/1\.1" 503 UF,URX /, 5000);
  assert.match(client.proc.out(), /"GET \/partial HTTP\/1\.1" 200 UC /);
  assert.equal(client.proc.child.exitCode, null);
});

test('malformed requests (raw sockets and curl) get 400/431 and a closed connection; both sidecars stay up', async () => {
  const cases: [string, string, RegExp][] = [
    ['CL+TE', 'POST http://web:9080/upload HTTP/1.1\r\nHost: web:9080\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', /^HTTP\/1\.1 400 /],
    ['bad chunk size', 'POST http://web:9080/upload HTTP/1.1\r\nHost: web:9080\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n', /^HTTP\/1\.1 400 /],
    ['obs-fold', 'GET http://web:9080/hello HTTP/1.1\r\nHost: web:9080\r\nX-Folded: a\r\n  b\r\n\r\n', /^HTTP\/1\.1 400 /],
    ['oversized headers', `GET http://web:9080/hello HTTP/1.1\r\nHost: web:9080\r\nX-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`, /^HTTP\/1\.1 431 /],
  ];
  // The client sidecar's outbound port, and the server sidecar's inbound port (plaintext, PERMISSIVE).
  for (const [host, port] of [['127.0.0.1', client.outbound], [web.address, web.port]] as const) {
    for (const [name, request, want] of cases) {
      const r = await raw(host, port, request.replace(/http:\/\/web:9080/, port === web.port ? '' : 'http://web:9080'));
      assert.match(r.data, want, `${name} on ${host}:${port}`);
      assert.match(r.data, /connection: close/i, `${name} on ${host}:${port}`);
      assert.ok(r.closed, `${name}: the proxy closes the connection`);
    }
  }
  const big = await curl([...proxy(), '-o', '/dev/null', '-w', '%{http_code}', '-H', `X-Big: ${'a'.repeat(70 * 1024)}`, 'http://web:9080/hello']);
  assert.equal(big.stdout, '431');
  const both = await curl([...proxy(), '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Transfer-Encoding: chunked', '-H', 'Content-Length: 3', '--data-binary', 'abc', 'http://web:9080/upload']);
  assert.equal(both.stdout, '400');
  assert.equal((await curl([...proxy(), 'http://web:9080/hello'])).stdout, 'hello from web-v1');
  assert.equal(client.proc.child.exitCode, null);
  assert.equal(web.proc.child.exitCode, null);
});

function raw(host: string, port: number, data: string): Promise<{ data: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, host);
    let out = '';
    const timer = setTimeout(() => (s.destroy(), resolve({ data: out, closed: false })), 5000);
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('close', () => (clearTimeout(timer), resolve({ data: out, closed: true })));
    s.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? undefined : reject(e)));
    s.write(data);
  });
}

test('a cluster the proxy cannot load is NACKed (weft proxy-status: NACKED); the last good config keeps serving', async () => {
  assert.equal((await curl([...proxy(), 'http://other:8080/hello'])).stdout, 'hello from other');
  // Valid Istio config that the control plane cannot check: the CA file is read by the proxy, and it is not there
  // (Envoy rejects such a cluster the same way).
  mesh.write(
    'bad-ca.yaml',
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: other, namespace: default }
spec:
  host: other.default.svc.cluster.local
  trafficPolicy: { tls: { mode: SIMPLE, caCertificates: /nonexistent/weft-e2e/ca.pem } }
`,
  );
  const line = await until('proxy-status to show the NACK', async () => (await mesh.proxyStatus()).split('\n').find((l) => l.startsWith('client.default') && l.includes('NACKED')));
  assert.match(line, /NACKED/);
  assert.match(await client.admin_('/config_dump'), /cannot read \/nonexistent\/weft-e2e\/ca\.pem/);
  // The last good cluster (plaintext) keeps serving, and so does everything else.
  assert.equal((await curl([...proxy(), 'http://other:8080/hello'])).stdout, 'hello from other');
  assert.equal((await curl([...proxy(), 'http://web:9080/hello'])).stdout, 'hello from web-v1');
  mesh.remove('bad-ca.yaml');
  await until('the proxy to be in sync again', async () => ((await mesh.proxyStatus()).split('\n').find((l) => l.startsWith('client.default') && !l.includes('NACKED')) ? true : undefined));
});

test('control plane killed while traffic flows: 300 requests, none fail; the proxy reconnects when it returns on the same ports', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const failures: string[] = [];
  const ports = { xds: mesh.port('xds'), tls: mesh.port('ca'), monitoring: mesh.port('monitoring') };
  let restarted: Promise<void> | undefined;
  const deadline = Date.now() + 30_000;
  for (let i = 0; i < 300 && Date.now() < deadline; i++) {
    if (i === 100) {
      mesh.up!.child.kill('SIGKILL');
      await mesh.up!.exit;
      await until('the client sidecar to notice', async () => ((await client.admin_('/stats')).includes('control_plane.connected_state: 0') ? true : undefined));
    }
    if (i === 200) restarted = mesh.start(ports);
    const r = await get(agent, 'http://web:9080/hello');
    if (!('status' in r) || r.status !== 200) failures.push(`#${i}: ${JSON.stringify(r)}`);
  }
  agent.destroy();
  assert.deepEqual(failures, []);
  await restarted;
  await until('the client sidecar to reconnect', async () => ((await client.admin_('/stats')).includes('control_plane.connected_state: 1') ? true : undefined), 40_000);
  // New config from the restarted control plane reaches the proxy.
  mesh.write(
    'teapot.yaml',
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: other, namespace: default }
spec:
  hosts: [other.default.svc.cluster.local]
  http:
  - fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }
    route: [{ destination: { host: other.default.svc.cluster.local } }]
`,
  );
  await until('the new route', async () => ((await curl([...proxy(), '-o', '/dev/null', '-w', '%{http_code}', 'http://other:8080/'])).stdout === '418' ? true : undefined));
});
