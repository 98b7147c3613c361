// Failure handling against real sockets: connect failures, resets before and after headers, timeouts, retries,
// malformed requests, and the codec's keep-alive, pipelining, chunked streaming and upgrade paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { PassThrough } from 'node:stream';
import { AccessLog } from '../../src/proxy/access-log/access-log.ts';
import { renderClusters } from '../../src/proxy/admin/admin-stats.ts';
import { hcm, outboundListener, rawExchange, routeConfig, startProxy, startUpstream, staticCluster, viaProto, viaProxy, vhost, type TestProxy } from './helpers.ts';
import { TypeUrl } from '../../src/xds/protos.ts';

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

async function proxyTo(clusters: Parameters<typeof startProxy>[0]['clusters'], routeAction: Record<string, unknown>, log?: AccessLog): Promise<TestProxy> {
  return startProxy({ clusters, listeners: [outboundListener(80)], routes: [routeConfig('80', [vhost('all', ['*'], [{ match: { prefix: '/' }, route: routeAction }])])] }, log);
}

test('connect refused → 503 UF with Envoy body and flag; connect-failure retry moves to a live endpoint', async (t) => {
  const dead = await deadPort();
  const live = await startUpstream('live');
  const cap = captureLog();
  const p = await proxyTo([staticCluster('dead', [dead]), staticCluster('mixed', [dead, live.port])], { cluster: 'dead' }, cap.log);
  const p2 = await proxyTo([staticCluster('mixed', [dead, live.port])], { cluster: 'mixed', retry_policy: { retry_on: 'connect-failure', num_retries: { value: 2 } } });
  t.after(async () => {
    p.close();
    p2.close();
    await live.close();
  });
  const r = await viaProxy(p.port, 'http://svc/');
  assert.equal(r.status, 503);
  assert.match(r.body, /^upstream connect error or disconnect\/reset before headers\. reset reason: connection failure/);
  assert.match(cap.lines()[0]!, /" 503 UF upstream_reset_before_response_started\{connection_failure\} /);
  for (let i = 0; i < 6; i++) assert.equal((await viaProxy(p2.port, 'http://svc/')).status, 200);
});

test('5xx responses are retried per retry_on; without a policy they pass through', async (t) => {
  let n = 0;
  const flaky = await startUpstream('flaky', (_req, res) => {
    n++;
    res.statusCode = n % 2 === 1 ? 503 : 200;
    res.end(String(res.statusCode));
  });
  const cap = captureLog();
  const p = await proxyTo([staticCluster('flaky', [flaky.port])], { cluster: 'flaky', retry_policy: { retry_on: '5xx', num_retries: { value: 1 } } }, cap.log);
  const p2 = await proxyTo([staticCluster('flaky', [flaky.port])], { cluster: 'flaky' });
  t.after(async () => {
    p.close();
    p2.close();
    await flaky.close();
  });
  for (let i = 0; i < 3; i++) assert.equal((await viaProxy(p.port, 'http://svc/')).status, 200);
  assert.equal(n, 6);
  const statuses = [(await viaProxy(p2.port, 'http://svc/')).status, (await viaProxy(p2.port, 'http://svc/')).status].sort();
  assert.deepEqual(statuses, [200, 503]);
});

test('upstream closes before headers → 503 UC; killed mid-body → downstream reset, logged UC', async (t) => {
  const early = await startUpstream('early', (req) => req.socket.destroy());
  const mid = await startUpstream('mid', (req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('partial', () => setImmediate(() => req.socket.destroy()));
  });
  const cap = captureLog();
  const p = await startProxy(
    {
      clusters: [staticCluster('early', [early.port]), staticCluster('mid', [mid.port])],
      listeners: [outboundListener(80)],
      routes: [routeConfig('80', [vhost('e', ['early'], [{ match: { prefix: '/' }, route: { cluster: 'early' } }]), vhost('m', ['mid'], [{ match: { prefix: '/' }, route: { cluster: 'mid' } }])])],
    },
    cap.log,
  );
  t.after(async () => {
    p.close();
    await Promise.all([early.close(), mid.close()]);
  });
  const r = await viaProxy(p.port, 'http://early/');
  assert.equal(r.status, 503);
  assert.match(r.body, /reset reason: connection termination/);
  await assert.rejects(viaProxy(p.port, 'http://mid/'), /aborted|ECONNRESET|socket hang up/);
  const lines = cap.lines();
  assert.match(lines[0]!, /" 503 UC /);
  assert.match(lines[1]!, /" 200 UC upstream_reset_after_response_started/);
});

test('route timeout → 504 UT; per-try timeout retries on another endpoint', async (t) => {
  const slow = await startUpstream('slow', () => undefined); // never answers
  const fast = await startUpstream('fast');
  const cap = captureLog();
  const p = await proxyTo([staticCluster('slow', [slow.port])], { cluster: 'slow', timeout: { nanos: 200_000_000 } }, cap.log);
  const p2 = await proxyTo([staticCluster('both', [slow.port, fast.port])], {
    cluster: 'both',
    timeout: { seconds: 5 },
    retry_policy: { retry_on: 'gateway-error', num_retries: { value: 2 }, per_try_timeout: { nanos: 150_000_000 } },
  });
  t.after(async () => {
    p.close();
    p2.close();
    await Promise.all([slow.close(), fast.close()]);
  });
  const r = await viaProxy(p.port, 'http://svc/');
  assert.equal(r.status, 504);
  assert.equal(r.body, 'upstream request timeout');
  assert.match(cap.lines()[0]!, /" 504 UT upstream_response_timeout /);
  for (let i = 0; i < 2; i++) assert.equal((await viaProxy(p2.port, 'http://svc/')).body, 'fast');
});

test('malformed requests get 400/431/501 and the connection is closed; the proxy keeps serving', async (t) => {
  const a = await startUpstream('ok');
  const p = await proxyTo([staticCluster('ok', [a.port])], { cluster: 'ok' });
  t.after(async () => {
    p.close();
    await a.close();
  });
  const cases: [string, RegExp][] = [
    ['POST / HTTP/1.1\r\nHost: svc\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', /^HTTP\/1\.1 400 /],
    ['POST / HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n', /^HTTP\/1\.1 400 /],
    ['GET / HTTP/1.1\r\nHost: svc\r\nX-A: 1\r\n folded\r\n\r\n', /^HTTP\/1\.1 400 /],
    ['GET / HTTP/1.1\r\nHost: svc\r\nBad Name: 1\r\n\r\n', /^HTTP\/1\.1 400 /],
    [`GET / HTTP/1.1\r\nHost: svc\r\nX-Big: ${'x'.repeat(70 * 1024)}\r\n\r\n`, /^HTTP\/1\.1 431 /],
    ['POST / HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', /^HTTP\/1\.1 501 /],
    ['\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\r\n\r\n', /^HTTP\/1\.1 400 /],
  ];
  for (const [input, expected] of cases) {
    const out = await rawExchange(p.port, Buffer.from(input, 'latin1'));
    assert.match(out, expected, JSON.stringify(input.slice(0, 40)));
    assert.match(out, /connection: close/);
  }
  // A bad chunk after the request was already forwarded: 400 to the client, connection closed.
  const midBody = await rawExchange(p.port, 'POST / HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n');
  assert.match(midBody, /^HTTP\/1\.1 400 /);
  assert.equal((await viaProxy(p.port, 'http://svc/')).status, 200);
});

test('keep-alive and pipelining: responses come back in order on one connection', async (t) => {
  const a = await startUpstream('pipe');
  const p = await proxyTo([staticCluster('pipe', [a.port])], { cluster: 'pipe' });
  t.after(async () => {
    p.close();
    await a.close();
  });
  const req = (path: string, close = false): string => `GET ${path} HTTP/1.1\r\nHost: svc\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;
  const out = await rawExchange(p.port, req('/one') + req('/two') + req('/three', true));
  const paths = [...out.matchAll(/x-seen-path: (\S+)/g)].map((m) => m[1]);
  assert.deepEqual(paths, ['/one', '/two', '/three']);
  assert.equal((out.match(/HTTP\/1\.1 200/g) ?? []).length, 3);
});

test('chunked request and response bodies stream through (1 MiB each way, with backpressure)', async (t) => {
  const echo = await startUpstream('echo', (req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' }); // no length: chunked to the proxy
    req.pipe(res);
  });
  const p = await proxyTo([staticCluster('echo', [echo.port])], { cluster: 'echo' });
  t.after(async () => {
    p.close();
    await echo.close();
  });
  const size = 1024 * 1024;
  const body = Buffer.alloc(size, 'abcdefghij');
  const received = await new Promise<Buffer>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: p.port, method: 'POST', path: 'http://svc/echo', headers: { host: 'svc', 'transfer-encoding': 'chunked' }, agent: false }, (res) => {
      assert.equal(res.headers['transfer-encoding'], 'chunked');
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve(Buffer.concat(parts)));
    });
    req.on('error', reject);
    for (let i = 0; i < size; i += 64 * 1024) req.write(body.subarray(i, i + 64 * 1024));
    req.end();
  });
  assert.equal(received.length, size);
  assert.ok(received.equals(body));
});

test('Connection: upgrade (WebSocket handshake) becomes a tunnel after 101', async (t) => {
  const up = await startUpstream('ws');
  up.server.on('upgrade', (req, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (d: Buffer) => socket.write(`echo:${d.toString()}`));
    socket.on('end', () => socket.end()); // the upgraded socket is half-open by default on node:http servers
  });
  const p = await proxyTo([staticCluster('ws', [up.port])], { cluster: 'ws' });
  t.after(async () => {
    p.close();
    await up.close();
  });
  const got = await new Promise<string>((resolve, reject) => {
    const s = net.connect(p.port, '127.0.0.1');
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n\r\n') && !buf.includes('echo:')) s.write('ping');
      if (buf.includes('echo:ping')) {
        s.destroy();
        resolve(buf);
      }
    });
    s.on('error', reject);
    s.write('GET /ws HTTP/1.1\r\nHost: svc\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
  });
  assert.match(got, /^HTTP\/1\.1 101 /);
  assert.match(got, /upgrade: websocket/i);
  assert.match(got, /echo:ping$/);
});

test('a client that disconnects before the response is logged DC and the upstream request is abandoned', async (t) => {
  let aborted = false;
  const slow = await startUpstream('slow', (req) => req.socket.on('close', () => (aborted = true)));
  const cap = captureLog();
  const p = await proxyTo([staticCluster('slow', [slow.port])], { cluster: 'slow' }, cap.log);
  t.after(async () => {
    p.close();
    await slow.close();
  });
  await new Promise<void>((resolve) => {
    const s = net.connect(p.port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: svc\r\n\r\n'));
    slow.server.once('request', () => {
      s.destroy();
      resolve();
    });
  });
  await new Promise<void>((resolve) => {
    const check = (): void => (aborted ? resolve() : void setImmediate(check));
    check();
  });
  assert.match(cap.lines()[0]!, /" 0 DC downstream_remote_disconnect /);
});

test('drain: idle keep-alive connections close at once, a busy one gets its response with connection: close', async (t) => {
  let release: () => void = () => undefined;
  const held = new Promise<void>((r) => (release = r));
  const slow = await startUpstream('slow', (_req, res) => void held.then(() => res.end('finished')));
  const p = await proxyTo([staticCluster('slow', [slow.port])], { cluster: 'slow' });
  t.after(async () => {
    p.close();
    await slow.close();
  });
  const idle = net.connect(p.port, '127.0.0.1');
  await new Promise<void>((r) => idle.once('connect', () => r()));
  const idleClosed = new Promise<void>((r) => idle.once('close', () => r()));
  const busy = new Promise<string>((resolve) => {
    const s = net.connect(p.port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: svc\r\n\r\n'));
    let out = '';
    s.on('data', (d) => (out += d.toString()));
    s.on('close', () => resolve(out));
  });
  await new Promise<void>((r) => slow.server.once('request', () => r()));
  const drained = p.engine.drain(30_000);
  await idleClosed;
  release();
  const response = await busy;
  assert.match(response, /^HTTP\/1\.1 200 OK/);
  assert.match(response, /connection: close/);
  assert.match(response, /finished$/);
  await drained;
});

test('outlier detection ejects a host after consecutive 5xx; traffic then goes to the healthy one', async (t) => {
  const bad = await startUpstream('bad', (_req, res) => {
    res.statusCode = 503;
    res.end('bad');
  });
  const good = await startUpstream('good');
  const p = await proxyTo([staticCluster('od', [bad.port, good.port], { outlier_detection: { consecutive_5xx: { value: 2 }, base_ejection_time: { seconds: 30 }, max_ejection_percent: { value: 50 } } })], { cluster: 'od' });
  t.after(async () => {
    p.close();
    await Promise.all([bad.close(), good.close()]);
  });
  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) statuses.push((await viaProxy(p.port, 'http://svc/')).status);
  assert.equal(statuses.filter((s) => s === 503).length, 2, `two failures eject the bad host: ${statuses.join(',')}`);
  assert.deepEqual(statuses.slice(-8), Array(8).fill(200));
  assert.match(renderClusters(p.engine, 'text') as string, /health_flags::\/failed_outlier_check/);
});

test('circuit breaking: max_connections 1 + max_pending_requests 1 → the third concurrent request gets 503 UO', async (t) => {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  let arrived = 0;
  let resolveArrived: () => void = () => undefined;
  const arrivedFirst = new Promise<void>((resolve) => (resolveArrived = resolve));
  const slow = await startUpstream('cb', (_req, res) => {
    arrived++;
    if (arrived === 1) resolveArrived();
    void gate.then(() => res.end('served'));
  });
  const cap = captureLog();
  const p = await proxyTo(
    [staticCluster('cb', [slow.port], { circuit_breakers: { thresholds: [{ max_connections: { value: 1 }, max_pending_requests: { value: 1 } }] } })],
    { cluster: 'cb' },
    cap.log,
  );
  t.after(async () => {
    p.close();
    await slow.close();
  });
  const first = viaProxy(p.port, 'http://svc/1');
  await arrivedFirst;
  const second = viaProxy(p.port, 'http://svc/2');
  // The second is pending inside the proxy (no connection free); a third overflows.
  await new Promise<void>((resolve) => {
    const check = (): void => (p.engine.clusters.get('cb')!.pending.length === 1 ? resolve() : void setImmediate(check));
    check();
  });
  const third = await viaProxy(p.port, 'http://svc/3');
  assert.equal(third.status, 503);
  assert.match(third.body, /reset reason: overflow/);
  release();
  assert.equal((await first).body, 'served');
  assert.equal((await second).body, 'served');
  assert.equal(arrived, 2, 'the pending request went out on the freed connection');
  assert.match(cap.lines().join('\n'), /" 503 UO /);
});

test('idle timeouts: a silent upstream hits stream_idle_timeout (408, SI); an idle keep-alive connection is closed', async (t) => {
  const silent = await startUpstream('silent', () => undefined);
  const cap = captureLog();
  const p = await startProxy({ clusters: [staticCluster('silent', [silent.port])] }, cap.log);
  t.after(async () => {
    p.close();
    await silent.close();
  });
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const n = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(n));
    });
  });
  p.engine.apply(
    TypeUrl.listener,
    [
      viaProto(TypeUrl.listener, {
        name: 'gw',
        address: { socket_address: { address: '127.0.0.1', port_value: port } },
        filter_chains: [{ filters: [hcm({ route_config: { name: 'r', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'silent', timeout: { seconds: 0 } } }] }] } }, { stream_idle_timeout: { nanos: 300_000_000 }, common_http_protocol_options: { idle_timeout: { nanos: 300_000_000 } } })] }],
      }),
    ],
    '1',
  );
  await p.engine.listeners.reconcile(p.engine.snapshot.listeners.values(), p.engine.reserved);
  const out = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: svc\r\n\r\n', 10_000);
  assert.match(out, /^HTTP\/1\.1 408 /);
  assert.match(cap.lines()[0]!, /" 408 SI stream_idle_timeout /);
  const idleClosed = await new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('close', () => resolve(true));
    s.on('error', () => resolve(false));
  });
  assert.ok(idleClosed);
});
