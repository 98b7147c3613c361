// Retries on the HTTP/2 request path, against real node:http2 and grpc-js upstreams: retry_on conditions with Envoy's
// semantics (5xx, retriable-4xx, retriable-status-codes, retriable-headers, connect-failure, refused-stream, reset,
// per-try timeouts, the gRPC status conditions), x-envoy-attempt-count, URX when retries run out, the replay
// buffer's limit, and the max_retries circuit breaker (UO). gRPC status retries on the HTTP/1.1 path too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { PassThrough } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { AccessLog } from '../../src/proxy/access-log/access-log.ts';
import type { Raw } from '../../src/proxy/config/raw.ts';
import { outboundListener, routeConfig, startProxy, startUpstream, staticCluster, type TestProxy } from './helpers.ts';
import { h2Cluster, h2Request, startH2Upstream } from './h2-helpers.ts';

function captureLog(): { log: AccessLog; lines: () => string[] } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  const log = new AccessLog(out, 'text');
  return {
    log,
    lines: () => {
      log.flush();
      return text.split('\n').filter(Boolean);
    },
  };
}

async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A proxy whose port-80 routes are `routes` (path prefix → action) on a vhost that counts attempts, as Istio's do. */
function proxyWith(clusters: Raw[], routes: [string, Raw][], log?: AccessLog): Promise<TestProxy> {
  const vh = { name: 'all', domains: ['*'], include_request_attempt_count: true, routes: routes.map(([prefix, route]) => ({ match: { prefix }, route })) };
  return startProxy({ clusters, listeners: [outboundListener(80)], routes: [routeConfig('80', [vh])] }, log);
}

test('HTTP/2 path: 5xx retried with x-envoy-attempt-count; retries run out → URX; no policy → one attempt', async (t) => {
  const calls = new Map<string, number>();
  const up = await startH2Upstream((stream, req) => {
    const path = String(req.headers[':path']);
    const n = (calls.get(path) ?? 0) + 1;
    calls.set(path, n);
    const fail = path === '/always' || path === '/none' || (path === '/flaky' && n === 1);
    stream.respond({ ':status': fail ? 503 : 200, 'x-attempt': String(req.headers['x-envoy-attempt-count'] ?? '') });
    stream.end(fail ? 'down' : `ok after ${n}`);
  });
  const cap = captureLog();
  const retry = { cluster: 'h2', retry_policy: { retry_on: '5xx', num_retries: { value: 2 } } };
  const p = await proxyWith([h2Cluster('h2', [up.port])], [['/none', { cluster: 'h2' }], ['/', retry]], cap.log);
  t.after(async () => {
    p.close();
    await up.close();
  });
  const ok = await h2Request(p.port, 'svc', '/flaky');
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'ok after 2');
  assert.equal(ok.headers['x-attempt'], '2');
  assert.deepEqual(up.seen.filter((r) => r.headers[':path'] === '/flaky').map((r) => r.headers['x-envoy-attempt-count']), ['1', '2']);

  const out = await h2Request(p.port, 'svc', '/always');
  assert.equal(out.status, 503);
  assert.equal(out.body, 'down');
  assert.equal(calls.get('/always'), 3);
  const none = await h2Request(p.port, 'svc', '/none');
  assert.equal(none.status, 503);
  assert.equal(calls.get('/none'), 1);
  const lines = cap.lines();
  assert.match(lines.find((l) => l.includes('"GET /always HTTP/2"'))!, /" 503 URX via_upstream /);
  assert.match(lines.find((l) => l.includes('"GET /flaky HTTP/2"'))!, /" 200 - via_upstream /);
  assert.match(lines.find((l) => l.includes('"GET /none HTTP/2"'))!, /" 503 - via_upstream /);
});

test('HTTP/2 path: request bodies are replayed on retry; a body past the 64 KiB replay buffer is not retried', async (t) => {
  let n = 0;
  const up = await startH2Upstream((stream, req) => {
    n++;
    const first = String(req.headers['x-envoy-attempt-count']) === '1';
    stream.respond({ ':status': first ? 503 : 200 });
    stream.end(first ? 'no' : `got ${req.body.length} bytes: ${req.body.subarray(0, 5).toString()}`);
  });
  const p = await proxyWith([h2Cluster('h2', [up.port])], [['/', { cluster: 'h2', retry_policy: { retry_on: '5xx', num_retries: { value: 1 } } }]]);
  t.after(async () => {
    p.close();
    await up.close();
  });
  const small = await h2Request(p.port, 'svc', '/post', { method: 'POST', body: 'hello'.repeat(200) });
  assert.equal(small.status, 200);
  assert.equal(small.body, 'got 1000 bytes: hello');
  assert.equal(n, 2);
  const big = await h2Request(p.port, 'svc', '/post', { method: 'POST', body: Buffer.alloc(100 * 1024, 'x') });
  assert.equal(big.status, 503, 'a request whose body no longer fits the replay buffer is not retried');
  assert.equal(n, 3);
});

test('HTTP/2 path: connect-failure moves to a live endpoint; refused-stream and per-try timeouts are retried', async (t) => {
  const dead = await deadPort();
  let refused = 0;
  let hung = 0;
  const up = await startH2Upstream((stream, req) => {
    const path = String(req.headers[':path']);
    if (path === '/refuse' && refused++ === 0) return stream.close(0x7 /* REFUSED_STREAM */);
    if (path === '/hang' && hung++ === 0) return; // never answers: the per-try timeout ends the attempt
    stream.respond({ ':status': 200 });
    stream.end(`ok ${path}`);
  });
  const cap = captureLog();
  const p = await proxyWith(
    [h2Cluster('mixed', [dead, up.port]), h2Cluster('live', [up.port]), h2Cluster('dead', [dead])],
    [
      ['/connect', { cluster: 'mixed', retry_policy: { retry_on: 'connect-failure', num_retries: { value: 2 } } }],
      ['/refuse', { cluster: 'live', retry_policy: { retry_on: 'refused-stream', num_retries: { value: 1 } } }],
      ['/hang', { cluster: 'live', retry_policy: { retry_on: 'reset', num_retries: { value: 1 }, per_try_timeout: { nanos: 200_000_000 } } }],
      ['/down', { cluster: 'dead', retry_policy: { retry_on: 'connect-failure', num_retries: { value: 1 } } }],
    ],
    cap.log,
  );
  t.after(async () => {
    p.close();
    await up.close();
  });
  for (let i = 0; i < 4; i++) assert.equal((await h2Request(p.port, 'svc', '/connect')).status, 200);
  const r = await h2Request(p.port, 'svc', '/refuse');
  assert.equal(r.status, 200);
  assert.equal(refused, 2);
  const h = await h2Request(p.port, 'svc', '/hang');
  assert.equal(h.status, 200);
  assert.equal(h.body, 'ok /hang');
  const d = await h2Request(p.port, 'svc', '/down');
  assert.equal(d.status, 503);
  assert.match(d.body, /reset reason: connection failure/);
  assert.match(cap.lines().find((l) => l.includes('"GET /down HTTP/2"'))!, /" 503 UF,URX upstream_reset_before_response_started\{connection_failure\} /);
});

test('HTTP/2 path: retriable-4xx, retriable-status-codes and retriable-headers; max_retries 0 → UO', async (t) => {
  const calls = new Map<string, number>();
  const up = await startH2Upstream((stream, req) => {
    const path = String(req.headers[':path']);
    const n = (calls.get(path) ?? 0) + 1;
    calls.set(path, n);
    if (n === 1 && path === '/conflict') return (stream.respond({ ':status': 409 }), stream.end());
    if (n === 1 && path === '/teapot') return (stream.respond({ ':status': 418 }), stream.end());
    if (n === 1 && path === '/header') return (stream.respond({ ':status': 200, 'x-retry-me': 'yes' }), stream.end('first'));
    if (path === '/budget') return (stream.respond({ ':status': 503 }), stream.end('busy'));
    stream.respond({ ':status': 200 });
    stream.end(`ok ${n}`);
  });
  const cap = captureLog();
  const p = await proxyWith(
    [h2Cluster('h2', [up.port]), h2Cluster('tight', [up.port], { circuit_breakers: { thresholds: [{ max_retries: { value: 0 } }] } })],
    [
      ['/conflict', { cluster: 'h2', retry_policy: { retry_on: 'retriable-4xx', num_retries: { value: 1 } } }],
      ['/teapot', { cluster: 'h2', retry_policy: { retry_on: 'retriable-status-codes', retriable_status_codes: [418], num_retries: { value: 1 } } }],
      ['/header', { cluster: 'h2', retry_policy: { retry_on: 'retriable-headers', retriable_headers: [{ name: 'x-retry-me', string_match: { exact: 'yes' } }], num_retries: { value: 1 } } }],
      ['/budget', { cluster: 'tight', retry_policy: { retry_on: '5xx', num_retries: { value: 3 } } }],
    ],
    cap.log,
  );
  t.after(async () => {
    p.close();
    await up.close();
  });
  assert.equal((await h2Request(p.port, 'svc', '/conflict')).body, 'ok 2');
  assert.equal((await h2Request(p.port, 'svc', '/teapot')).body, 'ok 2');
  assert.equal((await h2Request(p.port, 'svc', '/header')).body, 'ok 2');
  const b = await h2Request(p.port, 'svc', '/budget');
  assert.equal(b.status, 503);
  assert.equal(b.body, 'busy');
  assert.equal(calls.get('/budget'), 1, 'max_retries 0: the retry is not made');
  assert.match(cap.lines().find((l) => l.includes('"GET /budget HTTP/2"'))!, /" 503 UO via_upstream /);
});

const bytes = { serialize: (b: Buffer): Buffer => b, deserialize: (b: Buffer): Buffer => b };
const echo: grpc.ServiceDefinition = {
  Echo: { path: '/test.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: bytes.serialize, requestDeserialize: bytes.deserialize, responseSerialize: bytes.serialize, responseDeserialize: bytes.deserialize },
};

/** A grpc-js server whose Echo fails the first call for each request payload with the status the payload names (`CODE:key`). */
async function flakyGrpc(calls: Map<string, number>): Promise<{ port: number; server: grpc.Server }> {
  const server = new grpc.Server();
  server.addService(echo, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const key = call.request.toString();
      const n = (calls.get(key) ?? 0) + 1;
      calls.set(key, n);
      const code = Number(key.split(':')[0]);
      if (n === 1 && code !== 0) return cb({ code, details: `first call fails with ${code}` });
      cb(null, Buffer.from(`echo ${key} after ${n}`));
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { port, server };
}

test('gRPC retry_on over HTTP/2: cancelled, deadline-exceeded, resource-exhausted, internal, unavailable from grpc-js statuses', async (t) => {
  const calls = new Map<string, number>();
  const g = await flakyGrpc(calls);
  const p = await proxyWith([h2Cluster('grpc', [g.port])], [['/', { cluster: 'grpc', retry_policy: { retry_on: 'cancelled,deadline-exceeded,resource-exhausted,internal,unavailable', num_retries: { value: 1 } } }]]);
  const p2 = await proxyWith([h2Cluster('grpc', [g.port])], [['/', { cluster: 'grpc', retry_policy: { retry_on: 'cancelled', num_retries: { value: 1 } } }]]);
  const Client = grpc.makeGenericClientConstructor(echo, 'Echo');
  const client = new Client(`127.0.0.1:${p.port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'greeter:80' });
  const client2 = new Client(`127.0.0.1:${p2.port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'greeter:80' });
  t.after(() => {
    client.close();
    client2.close();
    g.server.forceShutdown();
    p.close();
    p2.close();
  });
  const call = (c: grpc.Client, msg: string): Promise<string> =>
    new Promise((resolve, reject) => (c as unknown as { Echo: (req: Buffer, cb: (e: grpc.ServiceError | null, r?: Buffer) => void) => void }).Echo(Buffer.from(msg), (e, r) => (e ? reject(e) : resolve(r!.toString()))));
  const { CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE, PERMISSION_DENIED } = grpc.status;
  for (const code of [CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE]) {
    assert.equal(await call(client, `${code}:a`), `echo ${code}:a after 2`, `status ${code} is retried`);
  }
  await assert.rejects(call(client, `${PERMISSION_DENIED}:a`), (e: grpc.ServiceError) => e.code === PERMISSION_DENIED);
  assert.equal(calls.get(`${PERMISSION_DENIED}:a`), 1);
  // Only the conditions listed are retried.
  await assert.rejects(call(client2, `${UNAVAILABLE}:b`), (e: grpc.ServiceError) => e.code === UNAVAILABLE);
  assert.equal(calls.get(`${UNAVAILABLE}:b`), 1);
  assert.equal(await call(client2, `${CANCELLED}:b`), `echo ${CANCELLED}:b after 2`);
});

test('gRPC retry_on on the HTTP/1.1 path: an HTTP/1.1 client to an HTTP/2 cluster; grpc-status comes back as chunked trailers with TE: trailers', async (t) => {
  const calls = new Map<string, number>();
  const g = await flakyGrpc(calls);
  const p = await proxyWith([h2Cluster('grpc', [g.port])], [['/', { cluster: 'grpc', retry_policy: { retry_on: 'unavailable', num_retries: { value: 1 } } }]]);
  t.after(() => {
    g.server.forceShutdown();
    p.close();
  });
  const frame = (msg: string): Buffer => {
    const m = Buffer.from(msg);
    const b = Buffer.alloc(5 + m.length);
    b.writeUInt32BE(m.length, 1);
    m.copy(b, 5);
    return b;
  };
  const post = (msg: string, te: boolean): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer; trailers: NodeJS.Dict<string> }> =>
    new Promise((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: p.port, method: 'POST', path: 'http://greeter/test.Echo/Echo', agent: false, headers: { host: 'greeter', 'content-type': 'application/grpc', ...(te ? { te: 'trailers' } : {}) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), trailers: res.trailers }));
        },
      );
      req.on('error', reject);
      req.end(frame(msg));
    });
  const ok = await post(`${grpc.status.UNAVAILABLE}:h1`, true);
  assert.equal(ok.status, 200);
  assert.equal(calls.get(`${grpc.status.UNAVAILABLE}:h1`), 2, 'the trailers-only UNAVAILABLE was retried');
  assert.equal(ok.body.subarray(5).toString(), `echo ${grpc.status.UNAVAILABLE}:h1 after 2`);
  assert.equal(ok.headers['transfer-encoding'], 'chunked');
  assert.equal(ok.trailers['grpc-status'], '0');
  const noTe = await post('0:plain', false);
  assert.equal(noTe.status, 200);
  assert.equal(noTe.body.subarray(5).toString(), 'echo 0:plain after 1');
  assert.equal(noTe.trailers['grpc-status'], undefined, 'trailers are dropped when the client did not ask for them');
});

test('HTTP/2 path to an HTTP/1.1 cluster: retries replay the request over HTTP/1.1', async (t) => {
  let n = 0;
  const up = await startUpstream('h1', (req, res) => {
    n++;
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      res.statusCode = n === 1 ? 502 : 200;
      res.end(`${req.headers['x-envoy-attempt-count']}:${body}`);
    });
  });
  const p = await proxyWith([staticCluster('h1', [up.port])], [['/', { cluster: 'h1', retry_policy: { retry_on: 'gateway-error', num_retries: { value: 1 } } }]]);
  t.after(async () => {
    p.close();
    await up.close();
  });
  const r = await h2Request(p.port, 'svc', '/x', { method: 'POST', body: 'payload' });
  assert.equal(r.status, 200);
  assert.equal(r.body, '2:payload');
});

test('HTTP/2 path: a request waiting for a connection keeps its whole body, past the replay buffer', async (t) => {
  const held: (() => void)[] = [];
  let arrived: (() => void) | undefined;
  const up = await startH2Upstream((stream, req) => {
    const answer = (): void => {
      stream.respond({ ':status': 200 });
      stream.end(`${req.headers[':path']} got ${req.body.length}`);
    };
    if (req.headers[':path'] === '/first') {
      held.push(answer);
      arrived?.();
    } else answer();
  });
  const tight = h2Cluster('tight', [up.port], { circuit_breakers: { thresholds: [{ max_connections: { value: 1 }, max_pending_requests: { value: 4 } }] } }, 1);
  const p = await proxyWith([tight], [['/', { cluster: 'tight', retry_policy: { retry_on: '5xx', num_retries: { value: 1 } } }]]);
  t.after(async () => {
    p.close();
    await up.close();
  });
  const first = h2Request(p.port, 'svc', '/first');
  await new Promise<void>((r) => (held.length > 0 ? r() : (arrived = r)));
  const big = Buffer.alloc(300 * 1024, 'y');
  const second = h2Request(p.port, 'svc', '/second', { method: 'POST', body: big });
  const cluster = p.engine.clusters.get('tight')!;
  for (let i = 0; i < 500 && cluster.pending.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(cluster.pending.length, 1, 'the second request waits for the only stream slot');
  held.shift()!();
  assert.equal((await first).body, '/first got 0');
  assert.equal((await second).body, `/second got ${big.length}`);
});
