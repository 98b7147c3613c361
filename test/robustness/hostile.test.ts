// Hostile clients against a real `weft proxy sidecar` process: slowloris (request heads trickled byte by byte over
// many connections), many idle connections, header floods, and pipelined request floods that never read. In every
// case other clients keep getting 200s during the attack, the proxy answers within a bound (408 for a head that takes
// too long, 431 for too many headers, idle connections closed by the idle timeout, pipelining held back by
// backpressure), and it is alive and back at rest afterwards.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import { backToBaseline, baselineOf, bootstrap, boundListener, closed, connect, kernelQueued, pool, readUntil, request, rssBytes, startChaos, startStaticSidecar, type Chaos, type Counts, type ProxyProcess, type Service } from './lib.ts';
import { freePort } from '../ports.ts';

let chaos: Chaos;
let proxy: ProxyProcess;
let baseline: Counts;
/** A listener with short timeouts (as a gateway operator would set them): request_headers_timeout 1s, idle_timeout 1s. */
let guarded: number;
let app: Service;

before(async () => {
  chaos = await startChaos();
  guarded = await freePort();
  app = { authority: 'app:9080', upstreamPort: chaos.port };
  proxy = await startStaticSidecar(bootstrap([app], [boundListener(guarded, app, { request_headers_timeout: '1s', common_http_protocol_options: { idle_timeout: '1s' } })]));
  assert.equal((await request(proxy.outbound, 'http://app:9080/ok')).status, 200);
  assert.equal((await request(guarded, 'http://app:9080/ok')).status, 200);
  baseline = await baselineOf(proxy);
});

after(async () => {
  await proxy?.stop();
  await chaos?.close();
});

/** Other clients are still served: `n` requests on fresh connections all answer 200 within 5 s. */
async function othersServed(what: string, n = 10): Promise<void> {
  await pool(n, 5, async (i) => {
    const port = i % 2 === 0 ? proxy.outbound : guarded;
    const r = await request(port, 'http://app:9080/ok', { timeoutMs: 5000 });
    assert.equal(r.status, 200, `${what}: a well-behaved client got ${r.status}`);
  });
}

async function settled(what: string): Promise<void> {
  assert.equal(proxy.proc.child.exitCode, null, `${what}: the proxy process is alive`);
  await backToBaseline(proxy, baseline, what);
  await othersServed(`after ${what}`, 4);
}

/** Open `n` connections to `port` (bounded concurrency). */
async function openMany(port: number, n: number): Promise<net.Socket[]> {
  const out: net.Socket[] = [];
  await pool(n, 50, async () => void out.push(await connect(port)));
  return out;
}

test('slowloris: heads trickled byte by byte on 200 connections; others are served; a bounded head time → 408', { timeout: 30_000 }, async () => {
  const head = 'GET http://app:9080/ok HTTP/1.1\r\nhost: app:9080\r\nuser-agent: slowloris\r\nx-padding: ' + 'a'.repeat(200);
  const plain = await openMany(proxy.outbound, 100);
  const guardedConns = await openMany(guarded, 100);
  const all = [...plain, ...guardedConns];
  const replies = guardedConns.map((s) => readUntil(s, () => false, 10_000).catch((e: Error) => `no answer: ${e.message}`));
  // Trickle: one byte per connection every 50 ms, for ~2.5 s (50 rounds), never finishing the head.
  let served = false;
  for (let i = 0; i < 50; i++) {
    for (const s of all) if (!s.destroyed) s.write(head[i % head.length]!);
    if (i === 20) {
      await othersServed('during slowloris');
      served = true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(served);
  // The listener with request_headers_timeout answered every trickling connection 408 and closed it.
  for (const r of await Promise.all(replies)) assert.match(r, /^HTTP\/1\.1 408 Request Timeout\r\n[^]*connection: close/, 'a head that takes too long gets 408 and the connection is closed');
  for (const s of all) s.destroy();
  await settled('slowloris');
});

test('many idle connections: others are served, the idle timeout closes them, nothing stays behind', { timeout: 30_000 }, async () => {
  const plain = await openMany(proxy.outbound, 200);
  const guardedConns = await openMany(guarded, 200);
  // h2c connections that send the preface and then nothing.
  const sessions = Array.from({ length: 20 }, () => {
    const s = http2.connect(`http://127.0.0.1:${guarded}`);
    s.on('error', () => undefined);
    return s;
  });
  await Promise.all(sessions.map((s) => once(s, 'connect')));
  await othersServed('with 420 idle connections open');
  // idle_timeout 1s on the guarded listener: the proxy closes its idle HTTP/1.1 and HTTP/2 connections.
  await Promise.all(guardedConns.map((s) => closed(s, 10_000)));
  await Promise.all(sessions.map((s) => closed(s, 10_000)));
  for (const s of plain) s.destroy();
  await settled('idle connections');
});

test('header floods: more than 100 headers → 431 (Envoy max_headers_count), 100 pass; oversized heads → 431', { timeout: 30_000 }, async () => {
  const headers = (n: number): string => Array.from({ length: n }, (_, i) => `x-h${i}: v\r\n`).join('');
  const ask = async (port: number, extra: string): Promise<string> => {
    const s = await connect(port);
    s.write(`GET http://app:9080/ok HTTP/1.1\r\nhost: app:9080\r\n${extra}\r\n`);
    const got = await readUntil(s, (t) => /\r\n\r\n/.test(t), 5000);
    s.destroy();
    return got;
  };
  for (const port of [proxy.outbound, guarded]) {
    assert.match(await ask(port, headers(99)), /^HTTP\/1\.1 200 /, '100 headers (host + 99) are accepted');
    assert.match(await ask(port, headers(100)), /^HTTP\/1\.1 431 /, '101 headers are refused');
    assert.match(await ask(port, headers(5000)), /^HTTP\/1\.1 431 /, 'a flood of small headers is refused');
    assert.match(await ask(port, `x-big: ${'b'.repeat(70 * 1024)}\r\n`), /^HTTP\/1\.1 431 /, 'a head over 60 KiB is refused');
  }
  // HTTP/2: a header list of 5000 small headers resets the stream (or the session); the next connection works.
  const s = http2.connect(`http://127.0.0.1:${proxy.outbound}`);
  s.on('error', () => undefined);
  const big: http2.OutgoingHttpHeaders = { ':authority': 'app:9080', ':path': '/ok' };
  for (let i = 0; i < 5000; i++) big[`x-h${i}`] = 'v';
  const st = s.request(big);
  let status: unknown;
  st.on('response', (h) => (status = h[':status']));
  st.resume();
  await closed(st);
  assert.notEqual(status, 200, 'an HTTP/2 request with 5000 headers is not forwarded');
  s.destroy();
  // Parallel floods while others are served.
  const floods = pool(40, 10, async () => void (await ask(proxy.outbound, headers(2000))));
  await othersServed('during header floods');
  await floods;
  await settled('header floods');
});

test('pipelined flood without reading: the proxy stops reading requests, memory stays bounded, order is kept', { timeout: 40_000 }, async () => {
  const rest = rssBytes(proxy.pid);
  // 200 pipelined requests for 4 MB each (800 MB of responses) on one connection that never reads.
  const s = await connect(proxy.outbound);
  const one = 'GET http://app:9080/big?bytes=4194304 HTTP/1.1\r\nhost: app:9080\r\n\r\n';
  let seen = 0;
  const count = (p: string): void => void (p === '/big' && seen++);
  chaos.events.on('request', count);
  s.write(one.repeat(200));
  // Wait until the upstream stops receiving requests (bounded): backpressure has reached it.
  let last = -1;
  for (let i = 0; i < 100 && seen !== last; i++) {
    last = seen;
    await new Promise((r) => setTimeout(r, 300));
  }
  const grown = rssBytes(proxy.pid) - rest;
  const inKernel = kernelQueued([proxy.outbound, chaos.port]);
  chaos.events.off('request', count);
  assert.ok(seen < 40, `the proxy forwarded ${seen} of 200 pipelined requests to a client that reads nothing (socket buffers hold ${inKernel} bytes)`);
  assert.ok(grown < 50 * 1024 * 1024, `proxy RSS grew by ${(grown / 1048576).toFixed(1)} MB`);
  await othersServed('during a pipelined flood');
  s.destroy();
  // 1000 small pipelined requests, read at the end: 1000 responses, in order.
  const p = await connect(proxy.outbound);
  let reqs = '';
  for (let i = 0; i < 1000; i++) reqs += `GET http://app:9080/echo-${i} HTTP/1.1\r\nhost: app:9080\r\n\r\n`;
  p.write(reqs);
  const all = await readUntil(p, (t) => (t.match(/HTTP\/1\.1 200 /g) ?? []).length >= 1000, 20_000);
  assert.equal((all.match(/HTTP\/1\.1 200 /g) ?? []).length, 1000);
  p.destroy();
  await settled('pipelined floods');
});
