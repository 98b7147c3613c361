// Routing and cluster features end to end: Istio YAML in a real `weft up`, a real `weft proxy sidecar` process, curl
// and node clients, real HTTP and HTTPS servers. One VirtualService/DestinationRule per feature, as a user writes them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { Mesh, curl, sh, startSidecar, stopAll, until, type Sidecar } from './harness.ts';

const mesh = new Mesh();
let client: Sidecar;
const servers: http.Server[] = [];
/** Requests seen per backend name and path. */
const seen = new Map<string, number>();
const count = (key: string): number => seen.get(key) ?? 0;
let release: () => void = () => undefined;
let held = new Promise<void>((r) => (release = r));

/** A backend: answers its name; /slow?ms waits; /odd-503 and /odd-hang fail or hang every odd request; /hold waits for release(); /always-500 on "bad" backends. */
function handler(name: string): http.RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const key = `${name} ${url.pathname}`;
    seen.set(key, count(key) + 1);
    const n = count(key);
    req.resume();
    res.setHeader('x-backend', name);
    if (url.pathname === '/headers') return void res.end(JSON.stringify(req.headers));
    if (url.pathname === '/slow') return void setTimeout(() => res.end(name), Number(url.searchParams.get('ms')));
    if (url.pathname === '/odd-503' && n % 2 === 1) return void ((res.statusCode = 503), res.end('odd'));
    if (url.pathname === '/odd-hang' && n % 2 === 1) return; // never answers; closed when the test ends
    if (url.pathname === '/hold') return void held.then(() => res.end(name));
    if (url.pathname === '/outlier' && name.startsWith('bad')) return void ((res.statusCode = 500), res.end('bad'));
    if (url.pathname === '/lr' && name === 'slow') return void setTimeout(() => res.end(name), 300);
    const peer = (req.socket as TLSSocket).getPeerCertificate?.();
    res.end(peer?.subject ? `${name} client=${peer.subject.CN}` : name);
  };
}

async function listen(server: http.Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

function serviceEntry(host: string, endpoints: [number, string][], protocol = 'HTTP'): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${host}, namespace: default }
spec:
  hosts: [${host}.default.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{ number: 80, name: http, protocol: ${protocol} }]
  resolution: STATIC
  endpoints: [${endpoints.map(([p, v]) => `{ address: 127.0.0.1, ports: { http: ${p} }, labels: { version: ${v} } }`).join(', ')}]
---
`;
}

function destinationRule(host: string, trafficPolicy: string, subsets = ''): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${host}, namespace: default }
spec:
  host: ${host}.default.svc.cluster.local
${trafficPolicy === '' ? '' : `  trafficPolicy: ${trafficPolicy}\n`}${subsets}---
`;
}

const H = (h: string): string => `${h}.default.svc.cluster.local`;

before(async () => {
  const pki = join(mesh.root, 'pki');
  // A private CA, a server certificate for tls-up.test and a client certificate, with the openssl CLI.
  await sh(
    [
      `mkdir -p ${pki} && cd ${pki}`,
      `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=e2e-ca 2>/dev/null`,
      `openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr -subj /CN=tls-up.test 2>/dev/null`,
      `printf 'subjectAltName=DNS:tls-up.test' > san.ext`,
      `openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 -extfile san.ext 2>/dev/null`,
      `openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout client.key -out client.csr -subj /CN=weft-client 2>/dev/null`,
      `openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 1 2>/dev/null`,
    ].join(' && '),
  );
  const tlsOpts = { key: readFileSync(join(pki, 'server.key')), cert: readFileSync(join(pki, 'server.pem')) };
  const [v1, v2, a, b, c, slow, good, bad] = await Promise.all(['v1', 'v2', 'a', 'b', 'c', 'slow', 'good', 'bad'].map((n) => listen(http.createServer(handler(n)))));
  const simple = await listen(https.createServer(tlsOpts, handler('tls-simple')));
  const mutual = await listen(https.createServer({ ...tlsOpts, ca: readFileSync(join(pki, 'ca.pem')), requestCert: true, rejectUnauthorized: true }, handler('tls-mutual')));
  const abc: [number, string][] = [[a!, 'a'], [b!, 'b'], [c!, 'c']];
  const hash = (name: string, lb: string): string => serviceEntry(name, abc) + destinationRule(name, `{ loadBalancer: { consistentHash: ${lb} } }`);
  mesh.write(
    'routing.yaml',
    serviceEntry('echo', [[v1!, 'v1'], [v2!, 'v2']]) +
      destinationRule('echo', '', '  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]\n') +
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo, namespace: default }
spec:
  hosts: [${H('echo')}]
  http:
  - match: [{ uri: { prefix: /odd-503 } }]
    retries: { attempts: 2, retryOn: 5xx }
    route: [{ destination: { host: ${H('echo')}, subset: v1 } }]
  - match: [{ uri: { prefix: /odd-hang } }]
    retries: { attempts: 2, perTryTimeout: 200ms, retryOn: gateway-error }
    route: [{ destination: { host: ${H('echo')}, subset: v1 } }]
  - match: [{ uri: { prefix: /slow } }]
    timeout: 300ms
    route: [{ destination: { host: ${H('echo')}, subset: v1 } }]
  - match: [{ uri: { exact: /old } }]
    redirect: { uri: /new, authority: elsewhere.example, redirectCode: 308 }
  - match: [{ uri: { exact: /direct } }]
    directResponse: { status: 418, body: { string: "short and stout" } }
  - match: [{ uri: { exact: /headers } }]
    headers:
      request: { set: { x-set: s }, add: { x-added: a }, remove: [x-drop] }
      response: { set: { x-resp-set: rs }, add: { x-resp-added: ra }, remove: [x-backend] }
    route: [{ destination: { host: ${H('echo')}, subset: v1 } }]
  - match: [{ uri: { exact: /cors } }]
    corsPolicy: { allowOrigins: [{ exact: "https://app.example" }], allowMethods: [GET, PUT], allowHeaders: [x-custom], exposeHeaders: [x-backend], maxAge: 1h }
    route: [{ destination: { host: ${H('echo')}, subset: v1 } }]
  - match: [{ uri: { exact: /delay } }]
    fault: { delay: { fixedDelay: 400ms, percentage: { value: 100 } } }
    route: [{ destination: { host: ${H('echo')}, subset: v1 } }]
  - match: [{ uri: { exact: /abort } }]
    fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }
    route: [{ destination: { host: ${H('echo')}, subset: v1 } }]
  - route:
    - { destination: { host: ${H('echo')}, subset: v1 }, weight: 75 }
    - { destination: { host: ${H('echo')}, subset: v2 }, weight: 25 }
---
` +
      hash('hash-header', '{ httpHeaderName: x-user }') +
      hash('hash-cookie', '{ httpCookie: { name: session, ttl: 60s } }') +
      hash('hash-ip', '{ useSourceIp: true }') +
      hash('hash-query', '{ httpQueryParameterName: user, maglev: { tableSize: 65537 } }') +
      serviceEntry('lr', [[a!, 'a'], [b!, 'b'], [slow!, 'slow']]) +
      destinationRule('lr', '{ loadBalancer: { simple: LEAST_REQUEST } }') +
      serviceEntry('cb', [[a!, 'a']]) +
      destinationRule('cb', '{ connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } } }') +
      serviceEntry('outlier', [[good!, 'good'], [bad!, 'bad']]) +
      destinationRule('outlier', '{ loadBalancer: { simple: ROUND_ROBIN }, outlierDetection: { consecutive5xxErrors: 2, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 100 } }') +
      serviceEntry('tls-simple', [[simple, 'v1']]) +
      destinationRule('tls-simple', `{ tls: { mode: SIMPLE, caCertificates: ${pki}/ca.pem, sni: tls-up.test, subjectAltNames: [tls-up.test] } }`) +
      serviceEntry('tls-mutual', [[mutual, 'v1']]) +
      destinationRule('tls-mutual', `{ tls: { mode: MUTUAL, caCertificates: ${pki}/ca.pem, clientCertificate: ${pki}/client.pem, privateKey: ${pki}/client.key, sni: tls-up.test } }`),
  );
  await mesh.start();
  client = await startSidecar(mesh, 'client');
});

after(async () => {
  release();
  await stopAll();
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  await mesh.close();
});

const proxy = (): string[] => ['-x', `http://127.0.0.1:${client.outbound}`];
async function status(url: string, extra: string[] = []): Promise<{ code: string; body: string; headers: string }> {
  const r = await curl([...proxy(), '-D', '-', '-w', '\n%{http_code}', ...extra, url]);
  const head = r.stdout.slice(0, r.stdout.indexOf('\r\n\r\n'));
  const rest = r.stdout.slice(r.stdout.indexOf('\r\n\r\n') + 4);
  return { code: rest.slice(rest.lastIndexOf('\n') + 1), body: rest.slice(0, rest.lastIndexOf('\n')), headers: head };
}

test('retries: retryOn 5xx hides a backend failing every other request; perTryTimeout retries a hung attempt', async () => {
  for (let i = 0; i < 4; i++) assert.equal((await status('http://echo/odd-503')).code, '200');
  assert.equal(count('v1 /odd-503'), 8, 'each request took two attempts');
  for (let i = 0; i < 2; i++) {
    const r = await status('http://echo/odd-hang');
    assert.equal(`${r.code} ${r.body}`, '200 v1');
  }
  assert.equal(count('v1 /odd-hang'), 4);
});

test('timeout: a route timeout of 300ms ends a slow request with 504', async () => {
  const t0 = Date.now();
  const r = await status('http://echo/slow?ms=5000');
  assert.equal(`${r.code} ${r.body}`, '504 upstream request timeout');
  assert.ok(Date.now() - t0 < 4000);
  assert.equal((await status('http://echo/slow?ms=1')).code, '200');
});

test('redirect, direct response, header add/set/remove, fault delay and abort', async () => {
  const redirect = await status('http://echo/old');
  assert.equal(redirect.code, '308');
  assert.match(redirect.headers, /^location: http:\/\/elsewhere\.example\/new$/im);
  const direct = await status('http://echo/direct');
  assert.equal(`${direct.code} ${direct.body}`, '418 short and stout');
  const h = await status('http://echo/headers', ['-H', 'x-set: original', '-H', 'x-drop: me', '-H', 'x-added: first']);
  const got = JSON.parse(h.body) as Record<string, string>;
  assert.equal(got['x-set'], 's');
  assert.equal(got['x-drop'], undefined);
  assert.equal(got['x-added'], 'first, a');
  assert.match(h.headers, /^x-resp-set: rs$/im);
  assert.match(h.headers, /^x-resp-added: ra$/im);
  assert.doesNotMatch(h.headers, /^x-backend:/im);
  const t0 = Date.now();
  assert.equal((await status('http://echo/delay')).code, '200');
  assert.ok(Date.now() - t0 >= 400, 'delayed by the fault filter');
  const abort = await status('http://echo/abort');
  assert.equal(`${abort.code} ${abort.body}`, '503 fault filter abort');
});

test('CORS: a preflight from an allowed origin is answered by the proxy; other origins get no CORS headers', async () => {
  const pre = await status('http://echo/cors', ['-X', 'OPTIONS', '-H', 'Origin: https://app.example', '-H', 'Access-Control-Request-Method: PUT', '-H', 'Access-Control-Request-Headers: x-custom']);
  assert.equal(pre.code, '200');
  assert.match(pre.headers, /^access-control-allow-origin: https:\/\/app\.example$/im);
  assert.match(pre.headers, /^access-control-allow-methods: GET,\s?PUT$/im);
  assert.match(pre.headers, /^access-control-max-age: 3600$/im);
  assert.equal(count('v1 /cors'), 0, 'the preflight never reached the backend');
  const actual = await status('http://echo/cors', ['-H', 'Origin: https://app.example']);
  assert.match(actual.headers, /^access-control-allow-origin: https:\/\/app\.example$/im);
  assert.match(actual.headers, /^access-control-expose-headers: x-backend$/im);
  const other = await status('http://echo/cors', ['-H', 'Origin: https://evil.example']);
  assert.doesNotMatch(other.headers, /access-control-allow-origin/i);
});

/** n requests with a keep-alive agent; which backend answered each. */
async function backends(host: string, n: number, opts: { path?: string; headers?: Record<string, string>; localAddress?: string; concurrency?: number } = {}): Promise<string[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency ?? 1 });
  const out: string[] = [];
  const one = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const url = `http://${host}${opts.path ?? '/'}`;
      const req = http.request({ host: '127.0.0.1', port: client.outbound, path: url, headers: { host, ...opts.headers }, agent, localAddress: opts.localAddress }, (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.headers['x-backend'] ?? res.statusCode)));
      });
      req.on('error', reject);
      req.end();
    });
  const workers = Array.from({ length: opts.concurrency ?? 1 }, async () => {
    while (out.length < n) {
      out.push('');
      out[out.length - 1] = await one();
    }
  });
  await Promise.all(workers);
  agent.destroy();
  return out;
}

test('weighted subsets 75/25 over 200 requests', async () => {
  const got = await backends('echo', 200);
  const v1 = got.filter((b) => b === 'v1').length;
  assert.equal(got.filter((b) => b === 'v2').length, 200 - v1);
  assert.ok(v1 >= 120 && v1 <= 180, `v1 got ${v1} of 200`);
});

test('consistent hashing (ring hash and maglev): by header, cookie, source IP and query parameter, each key sticks to one host', async () => {
  const cases: [string, (k: number) => Parameters<typeof backends>[2]][] = [
    ['hash-header', (k) => ({ headers: { 'x-user': `user-${k}` } })],
    ['hash-cookie', (k) => ({ headers: { cookie: `session=s-${k}` } })],
    ['hash-ip', (k) => ({ localAddress: `127.0.3.${k + 1}` })],
    ['hash-query', (k) => ({ path: `/?user=u-${k}` })],
  ];
  for (const [host, key] of cases) {
    const chosen = new Set<string>();
    for (let k = 0; k < 12; k++) {
      const got = new Set(await backends(host, 4, key(k)));
      assert.equal(got.size, 1, `${host} key ${k} went to ${[...got].join(',')}`);
      chosen.add([...got][0]!);
    }
    assert.ok(chosen.size >= 2, `${host}: 12 keys all landed on ${[...chosen].join(',')}`);
  }
});

test('least request: a slow host gets fewer requests than round robin would give it', async () => {
  const got = await backends('lr', 30, { path: '/lr', concurrency: 3 });
  assert.equal(got.filter((b) => !['a', 'b', 'slow'].includes(b)).length, 0, got.join(','));
  assert.ok(got.filter((b) => b === 'slow').length < 10, got.join(','));
});

test('circuit breaker: maxConnections 1 + http1MaxPendingRequests 1 → the third concurrent request gets 503 UO', async () => {
  const held1 = curl([...proxy(), 'http://cb/hold']);
  await until('the first request to reach the backend', async () => (count('a /hold') === 1 ? true : undefined), 5000);
  // Three more at once: one waits as pending (only one connection is allowed), the other two overflow at once.
  const settled: Awaited<ReturnType<typeof status>>[] = [];
  let twoSettled: () => void = () => undefined;
  const two = new Promise<void>((r) => (twoSettled = r));
  const more = [1, 2, 3].map(async () => {
    const r = await status('http://cb/hold');
    if (settled.push(r) === 2) twoSettled();
    return r;
  });
  // Two answers come back while the backend still holds the first request: they are the overflows.
  await two;
  assert.deepEqual(settled.map((r) => r.code), ['503', '503']);
  assert.match(settled[0]!.body, /reset reason: overflow/);
  assert.match(settled[0]!.headers, /^x-envoy-overloaded: true$/im);
  release();
  assert.equal((await held1).stdout, 'a');
  assert.deepEqual((await Promise.all(more)).map((r) => r.code).sort(), ['200', '503', '503']);
  held = new Promise<void>((r) => (release = r));
  release();
});

test('outlier detection: a host answering 500 is ejected after 2 consecutive errors; traffic goes to the healthy one', async () => {
  const got = await backends('outlier', 12, { path: '/outlier' });
  assert.ok(count('bad /outlier') <= 2 + 1, got.join(','));
  assert.deepEqual(got.slice(-6), ['good', 'good', 'good', 'good', 'good', 'good']);
});

test('TLS origination: SIMPLE verifies the server against caCertificates and SNI; MUTUAL presents the client certificate', async () => {
  const simple = await status('http://tls-simple/');
  assert.equal(`${simple.code} ${simple.body}`, '200 tls-simple');
  const mutual = await status('http://tls-mutual/');
  assert.equal(`${mutual.code} ${mutual.body}`, '200 tls-mutual client=weft-client');
});
