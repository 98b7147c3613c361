// Backpressure and memory bounds of a real `weft proxy sidecar` process: a client that stops reading a large
// response, and a large upload to an upstream that stops reading, over HTTP/1.1 and HTTP/2 (h2c). While one side
// stalls, the other side must stall too (the proxy stops reading), the proxy's RSS stays within +50 MB of rest, and
// once the slow side reads again every byte arrives intact (sha256 on both ends).
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { Readable, Writable } from 'node:stream';
import { bootstrap, kernelQueued, payloadHash, rssBytes, startChaos, startH2Chaos, startStaticSidecar, writePayload, type Chaos, type H2Chaos, type ProxyProcess, type Transfers } from './lib.ts';

const SIZE = 64 * 1024 * 1024; // far more than HELD_BOUND + socket buffers: a proxy that buffered would fail
const RSS_BOUND = 50 * 1024 * 1024;
/** Bytes the proxy itself may hold for one stalled transfer (its stream and socket write buffers, h2 windows). */
const HELD_BOUND = 4 * 1024 * 1024; // measured: 150–330 KB
let chaos: Chaos;
let h2: H2Chaos;
let proxy: ProxyProcess;
/** The proxy's RSS when the current transfer started (garbage from earlier transfers is not this one's growth). */
let rest: number;

before(async () => {
  chaos = await startChaos();
  h2 = await startH2Chaos();
  proxy = await startStaticSidecar(bootstrap([{ authority: 'app:9080', upstreamPort: chaos.port }, { authority: 'grpc:9090', upstreamPort: h2.port, http2: true }]));
});

beforeEach(() => {
  rest = rssBytes(proxy.pid);
});

after(async () => {
  await proxy?.stop();
  await chaos?.close();
  await h2?.close();
});

/** What the proxy holds in its own memory: produced − consumed − what sits in the kernel's socket queues. */
function check(produced: number, consumed: number, upstream: Transfers, what: string): void {
  const inKernel = kernelQueued([proxy.outbound, upstream === chaos ? chaos.port : h2.port]);
  const held = produced - consumed - inKernel;
  const grown = rssBytes(proxy.pid) - rest;
  assert.ok(held < HELD_BOUND, `${what}: the proxy holds ${held} bytes (produced ${produced}, consumed ${consumed}, in socket buffers ${inKernel})`);
  assert.ok(grown < RSS_BOUND, `${what}: proxy RSS grew by ${(grown / 1048576).toFixed(1)} MB`);
}

/**
 * Wait until `progress()` stops moving (bounded): it is stalled when it has not changed for `quietMs`. Returns
 * its value then. Throws if it never stalls within `ms` (nothing is applying backpressure).
 */
async function stalled(progress: () => number, what: string, quietMs = 300, ms = 10_000): Promise<number> {
  const deadline = Date.now() + ms;
  let last = progress();
  let since = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    const v = progress();
    if (v !== last) {
      last = v;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return v;
  }
  throw new Error(`${what} never stalled in ${ms} ms (at ${last} bytes): nothing applies backpressure`);
}

/** Read a response slowly: read ~8 MB, stop reading (checking the bounds while stalled), then drain and hash it. */
async function slowRead(body: Readable, upstream: Transfers): Promise<{ bytes: number; sha256: string }> {
  const h = createHash('sha256');
  let bytes = 0;
  body.on('data', (d: Buffer) => {
    h.update(d);
    bytes += d.length;
  });
  while (bytes < 8 * 1024 * 1024) await once(body, 'data', { signal: AbortSignal.timeout(10_000) });
  body.pause();
  const produced = await stalled(() => upstream.bigWritten, 'the upstream response');
  check(produced, bytes, upstream, 'client not reading');
  body.resume();
  await within(once(body, 'end'), 20_000, () => `the response to end after the client resumed reading (read ${bytes} of ${SIZE}, upstream wrote ${upstream.bigWritten})`);
  return { bytes, sha256: h.digest('hex') };
}

/** Upload while the upstream does not read (checking the bounds while stalled), then let it finish. */
async function slowUpload(out: Writable, upstream: Transfers): Promise<void> {
  let written = 0;
  upstream.uploadReading = false;
  const writing = writePayload(out, SIZE, (n) => (written = n)).then(() => out.end());
  const produced = await stalled(() => written, 'the client upload');
  check(produced, upstream.uploadRead, upstream, 'upstream not reading');
  upstream.resumeUpload();
  await within(writing, 20_000, () => `the upload to finish after the upstream resumed reading (client wrote ${written} of ${SIZE}, upstream read ${upstream.uploadRead})`);
}

/** `p`, or a rejection naming what did not happen within `ms` (a hang shows where it stuck). */
async function within<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what()}`)), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

test('HTTP/1.1 → HTTP/1.1 cluster: a client that stops reading a large response', { timeout: 40_000 }, async () => {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: proxy.outbound, path: `http://app:9080/big?bytes=${SIZE}`, headers: { host: 'app:9080' }, agent: false }, resolve);
    req.on('error', reject);
  });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(await slowRead(res, chaos), { bytes: SIZE, sha256: payloadHash(SIZE) });
});

test('HTTP/1.1 → HTTP/1.1 cluster: a large upload to an upstream that stops reading', { timeout: 40_000 }, async () => {
  const req = http.request({ host: '127.0.0.1', port: proxy.outbound, method: 'POST', path: 'http://app:9080/upload', headers: { host: 'app:9080', 'content-length': String(SIZE) }, agent: false });
  const response = once(req, 'response') as Promise<[http.IncomingMessage]>;
  await slowUpload(req, chaos);
  const [res] = await within(response, 10_000, () => 'the upload response');
  let body = '';
  for await (const d of res) body += String(d);
  assert.deepEqual(JSON.parse(body), { bytes: SIZE, sha256: payloadHash(SIZE) });
});

for (const [authority, upstreamOf, label] of [
  ['app:9080', () => chaos, 'HTTP/2 → HTTP/1.1 cluster'],
  ['grpc:9090', () => h2, 'HTTP/2 → HTTP/2 cluster'],
] as const) {
  test(`${label}: a client that stops reading a large response`, { timeout: 40_000 }, async () => {
    const s = http2.connect(`http://127.0.0.1:${proxy.outbound}`);
    try {
      const st = s.request({ ':authority': authority, ':path': `/big?bytes=${SIZE}` });
      const [h] = (await once(st, 'response')) as [http2.IncomingHttpHeaders];
      assert.equal(h[':status'], 200);
      assert.deepEqual(await slowRead(st, upstreamOf()), { bytes: SIZE, sha256: payloadHash(SIZE) });
    } finally {
      s.close();
    }
  });

  test(`${label}: a large upload to an upstream that stops reading`, { timeout: 40_000 }, async () => {
    const s = http2.connect(`http://127.0.0.1:${proxy.outbound}`);
    try {
      const st = s.request({ ':authority': authority, ':path': '/upload', ':method': 'POST', 'content-length': String(SIZE) });
      const response = once(st, 'response') as Promise<[http2.IncomingHttpHeaders]>;
      await slowUpload(st, upstreamOf());
      const [h] = await within(response, 10_000, () => 'the upload response');
      assert.equal(h[':status'], 200);
      let body = '';
      for await (const d of st) body += String(d);
      assert.deepEqual(JSON.parse(body), { bytes: SIZE, sha256: payloadHash(SIZE) });
    } finally {
      s.close();
    }
  });
}
