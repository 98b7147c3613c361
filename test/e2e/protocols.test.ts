// End to end with real processes: client → its sidecar (`weft proxy sidecar`) → mTLS → server sidecar (`weft run`)
// → real server, for HTTP/1.1 (keep-alive, chunked, large bodies both ways), HTTP/2 (curl and nghttp over h2c), and
// gRPC (unary, the three streaming shapes, deadlines, the server's grpc-status). openssl sees the workload's SPIFFE
// certificate on the inbound port; PeerAuthentication STRICT refuses plaintext, PERMISSIVE accepts it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Mesh, curl, freePort, service, sh, startSidecar, startWorkload, stopAll, until, appsDir, type Sidecar, type Workload } from './harness.ts';
import { loadStreams, type Msg } from './apps/grpc-proto.ts';

const mesh = new Mesh();
let client: Sidecar;
let web: Workload;
let grpcWl: Workload;

before(async () => {
  mesh.write('services.yaml', `${service('web', 9080, 'http')}---\n${service('grpc-echo', 9090, 'grpc')}`);
  await mesh.start();
  const [webPort, grpcPort] = [await freePort(), await freePort()];
  [web, grpcWl, client] = await Promise.all([
    startWorkload(mesh, 'web-v1', 'app=web,version=v1', 'http', webPort, [process.execPath, join(appsDir, 'http-app.ts'), String(webPort), 'web-v1']),
    startWorkload(mesh, 'grpc-echo-v1', 'app=grpc-echo,version=v1', 'grpc', grpcPort, [process.execPath, join(appsDir, 'grpc-app.ts'), String(grpcPort), 'grpc-echo-v1']),
    startSidecar(mesh, 'client'),
  ]);
  // The client sidecar may have its first config from before the workloads registered: wait for both endpoints.
  await until('the client sidecar to know both workloads', async () => {
    const c = await client.admin_('/clusters');
    return c.includes(`outbound|9080||web.default.svc.cluster.local::${web.address}:`) && c.includes(`outbound|9090||grpc-echo.default.svc.cluster.local::${grpcWl.address}:`) ? true : undefined;
  });
});

after(async () => {
  await stopAll();
  await mesh.close();
});

const proxy = (): string[] => ['-x', `http://127.0.0.1:${client.outbound}`];

function sha(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function pattern(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = i % 251;
  return b;
}

test('HTTP/1.1 through both sidecars over mTLS: keep-alive reuses the connection; the server sees the client identity', async () => {
  const r = await curl(['-v', ...proxy(), 'http://web:9080/hello', 'http://web:9080/headers']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^hello from web-v1\{/);
  assert.match(r.stderr, /Re-using existing connection/);
  const headers = JSON.parse(r.stdout.slice('hello from web-v1'.length)) as Record<string, string>;
  assert.match(headers['x-forwarded-client-cert'] ?? '', /By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/web;.*URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/client/);
});

test('HTTP/1.1 large bodies stream both ways: 16 MiB chunked and 16 MiB content-length uploads, 16 MiB chunked download', async () => {
  const size = 16 << 20;
  const body = pattern(size);
  const file = join(mesh.root, 'big.bin');
  writeFileSync(file, body);
  const chunked = await curl([...proxy(), '-H', 'Transfer-Encoding: chunked', '--data-binary', `@${file}`, 'http://web:9080/upload'], 30);
  assert.equal(chunked.code, 0, chunked.stderr);
  assert.deepEqual(JSON.parse(chunked.stdout), { bytes: size, sha256: sha(body), chunked: true });
  const fixed = await curl([...proxy(), '-T', file, 'http://web:9080/upload'], 30);
  assert.deepEqual(JSON.parse(fixed.stdout), { bytes: size, sha256: sha(body), chunked: false });
  const out = join(mesh.root, 'down.bin');
  const down = await curl([...proxy(), '-D', '-', '-o', out, `http://web:9080/download?bytes=${size}`], 30);
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /transfer-encoding: chunked/i);
  assert.equal((await sh(`sha256sum ${out}`)).split(' ')[0], sha(body));
});

test('HTTP/2 (h2c prior knowledge) from curl and nghttp, routed by :authority across the mTLS hop', async () => {
  const target = ['--http2-prior-knowledge', '--connect-to', `web:9080:127.0.0.1:${client.outbound}`];
  const get = await curl([...target, '-w', ' %{http_version} %{http_code}', 'http://web:9080/hello']);
  assert.equal(get.stdout, 'hello from web-v1 2 200', get.stderr);
  const post = await curl([...target, '--data-binary', 'x'.repeat(100_000), 'http://web:9080/upload']);
  assert.equal((JSON.parse(post.stdout) as { bytes: number }).bytes, 100_000);
  const nghttp = await sh(`nghttp -v -H ':authority: web:9080' http://127.0.0.1:${client.outbound}/hello`);
  assert.match(nghttp, /:status: 200/);
  assert.match(nghttp, /hello from web-v1/);
});

function grpcClient(): grpc.Client & Record<string, (...a: unknown[]) => unknown> {
  const { Client } = loadStreams();
  return new Client(`127.0.0.1:${client.outbound}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'grpc-echo:9090' }) as unknown as grpc.Client & Record<string, (...a: unknown[]) => unknown>;
}

function unary(c: ReturnType<typeof grpcClient>, msg: Msg, deadlineMs = 5000): Promise<{ err: grpc.ServiceError | null; res?: Msg }> {
  return new Promise((resolve) => c.Unary!(msg, { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, res?: Msg) => resolve({ err, res })));
}

test('gRPC unary, server, client and bidi streaming through both sidecars; grpc-status from the server preserved; deadlines', async (t) => {
  const c = grpcClient();
  t.after(() => c.close());
  const ok = await unary(c, { text: 'hi', n: 7 });
  assert.equal(ok.err, null);
  assert.deepEqual(ok.res, { text: 'grpc-echo-v1: hi', n: 7 });

  const failed = await unary(c, { text: 'fail', n: 0 });
  assert.equal(failed.err?.code, grpc.status.NOT_FOUND);
  assert.equal(failed.err?.details, 'no such thing at grpc-echo-v1');

  const late = await unary(c, { text: 'sleep', n: 3000 }, 300);
  assert.equal(late.err?.code, grpc.status.DEADLINE_EXCEEDED);

  const streamed = await new Promise<Msg[]>((resolve, reject) => {
    const got: Msg[] = [];
    const call = c.ServerStream!({ text: 'item', n: 50 }) as grpc.ClientReadableStream<Msg>;
    call.on('data', (m: Msg) => got.push(m));
    call.on('error', reject);
    call.on('end', () => resolve(got));
  });
  assert.equal(streamed.length, 50);
  assert.deepEqual(streamed[49], { text: 'item 49', n: 49 });

  const summed = await new Promise<Msg>((resolve, reject) => {
    const call = c.ClientStream!((err: grpc.ServiceError | null, res: Msg) => (err ? reject(err) : resolve(res))) as grpc.ClientWritableStream<Msg>;
    for (let i = 1; i <= 100; i++) call.write({ text: '', n: i });
    call.end();
  });
  assert.deepEqual(summed, { text: 'got 100', n: 5050 });

  // Bidi: each reply is awaited before the next message goes, so the stream is truly interactive end to end.
  const bidi = c.Bidi!() as grpc.ClientDuplexStream<Msg, Msg>;
  const replies: Msg[] = [];
  for (let i = 0; i < 5; i++) {
    const next = new Promise<Msg>((resolve, reject) => {
      bidi.once('data', resolve);
      bidi.once('error', reject);
    });
    bidi.write({ text: `m${i}`, n: i });
    replies.push(await next);
  }
  bidi.end();
  await new Promise((r) => bidi.on('end', r).resume());
  assert.deepEqual(replies.map((m) => m.text), ['echo m0', 'echo m1', 'echo m2', 'echo m3', 'echo m4']);
});

test("openssl s_client on the workload's inbound port sees its SPIFFE certificate (URI SAN)", async () => {
  const text = await sh(`openssl s_client -connect ${web.address}:${web.port} -servername outbound_.9080_._.web.default.svc.cluster.local </dev/null 2>/dev/null | openssl x509 -noout -ext subjectAltName`);
  assert.match(text, /URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/web/);
});

/** A plaintext HTTP/1.1 request straight to the workload's inbound port: the response, or '' if the connection was closed. */
function plaintext(address: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, address);
    let out = '';
    const timer = setTimeout(() => s.destroy(new Error('no answer and no close within 5 s')), 5000);
    s.on('data', (d) => {
      out += d.toString('latin1');
      if (/\r\n\r\n[\s\S]*hello from/.test(out)) s.end();
    });
    s.on('close', () => (clearTimeout(timer), resolve(out)));
    s.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve(out) : reject(e)));
    s.write(`GET /hello HTTP/1.1\r\nHost: web:9080\r\nConnection: close\r\n\r\n`);
  });
}

test('PeerAuthentication: PERMISSIVE (default) accepts plaintext; STRICT closes a plaintext connection and still serves mTLS', async () => {
  assert.match(await plaintext(web.address, web.port), /^HTTP\/1\.1 200 [\s\S]*hello from web-v1/);
  mesh.write('strict.yaml', `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: web-strict, namespace: default }
spec:
  selector: { matchLabels: { app: web } }
  mtls: { mode: STRICT }
`);
  await until('STRICT to reach the server sidecar', async () => ((await plaintext(web.address, web.port)) === '' ? true : undefined));
  const viaMesh = await curl([...proxy(), 'http://web:9080/hello']);
  assert.equal(viaMesh.stdout, 'hello from web-v1');
  mesh.write('strict.yaml', `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: web-strict, namespace: default }
spec:
  selector: { matchLabels: { app: web } }
  mtls: { mode: PERMISSIVE }
`);
  await until('PERMISSIVE to reach the server sidecar', async () => ((await plaintext(web.address, web.port)).includes('hello from web-v1') ? true : undefined));
});

test('regression: VirtualService fault injection and header edits apply on the HTTP/2 path — gRPC abort (UNAVAILABLE), h2c delay, request/response headers', async (t) => {
  mesh.write(
    'faults.yaml',
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: grpc-echo, namespace: default }
spec:
  hosts: [grpc-echo.default.svc.cluster.local]
  http:
  - match: [{ uri: { exact: /weft.e2e.Streams/Unary } }]
    fault: { abort: { grpcStatus: UNAVAILABLE, percentage: { value: 100 } } }
    route: [{ destination: { host: grpc-echo.default.svc.cluster.local } }]
  - headers: { response: { set: { x-resp-h2: grpc } } }
    route: [{ destination: { host: grpc-echo.default.svc.cluster.local } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: default }
spec:
  hosts: [web.default.svc.cluster.local]
  http:
  - match: [{ uri: { exact: /delayed } }]
    fault: { delay: { fixedDelay: 400ms, percentage: { value: 100 } } }
    route: [{ destination: { host: web.default.svc.cluster.local } }]
  - match: [{ uri: { exact: /headers } }]
    headers: { request: { set: { x-set: s }, remove: [x-drop] }, response: { add: { x-resp-h2: web } } }
    route: [{ destination: { host: web.default.svc.cluster.local } }]
  - route: [{ destination: { host: web.default.svc.cluster.local } }]
`,
  );
  t.after(() => mesh.remove('faults.yaml'));
  const c = grpcClient();
  t.after(() => c.close());
  const aborted = await until('the gRPC fault to apply', async () => {
    const r = await unary(c, { text: 'hi', n: 1 });
    return r.err?.code === grpc.status.UNAVAILABLE ? r : undefined;
  });
  assert.equal(aborted.err?.details, 'fault filter abort');
  const target = ['--http2-prior-knowledge', '--connect-to', `web:9080:127.0.0.1:${client.outbound}`, '-w', ' %{http_code} %{time_total}'];
  const r = await curl([...target, 'http://web:9080/delayed']);
  const m = /^hello from web-v1 200 ([\d.]+)$/.exec(r.stdout);
  assert.ok(m, `${r.stdout} ${r.stderr}`);
  assert.ok(Number(m[1]) >= 0.4, `took ${m[1]} s: the delay was not injected`);
  // Header edits: h2c → HTTP/1.1 cluster (bridged) and gRPC → HTTP/2 cluster.
  const h = await curl(['--http2-prior-knowledge', '--connect-to', `web:9080:127.0.0.1:${client.outbound}`, '-D', '-', '-H', 'x-set: original', '-H', 'x-drop: me', 'http://web:9080/headers']);
  assert.match(h.stdout, /^x-resp-h2: web\r$/m);
  const seen = JSON.parse(h.stdout.slice(h.stdout.indexOf('\r\n\r\n') + 4)) as Record<string, string>;
  assert.equal(seen['x-set'], 's');
  assert.equal(seen['x-drop'], undefined);
  const md = await new Promise<grpc.Metadata>((resolve, reject) => {
    const call = c.ServerStream!({ text: 'x', n: 1 }) as grpc.ClientReadableStream<Msg>;
    call.on('metadata', resolve);
    call.on('error', reject);
    call.resume();
  });
  assert.deepEqual(md.get('x-resp-h2'), ['grpc']);
});
