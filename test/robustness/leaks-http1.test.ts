// Resource leaks on the HTTP/1.1 path of a real `weft proxy sidecar` process: after each bounded batch of broken
// exchanges (clients aborting mid-body and mid-response, upstream resets, upstreams that never answer, connect
// failures, WebSocket and CONNECT tunnels closed from either side) the proxy's open descriptors, downstream
// connections and upstream connections come back to what they were at rest.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { backToBaseline, baselineOf, bootstrap, connect, pool, readUntil, request, startChaos, startEcho, startStaticSidecar, type Chaos, type Counts, type ProxyProcess } from './lib.ts';
import { freePort } from '../ports.ts';

let chaos: Chaos;
let echo: Awaited<ReturnType<typeof startEcho>>;
let proxy: ProxyProcess;
let baseline: Counts;
const BATCH = 20;

before(async () => {
  chaos = await startChaos();
  echo = await startEcho();
  const closedPort = await freePort(); // nothing listens there: connect failures
  proxy = await startStaticSidecar(
    bootstrap([
      { authority: 'app:9080', upstreamPort: chaos.port, routes: [{ match: { prefix: '/hang' }, route: { timeout: '0.3s' } }] },
      { authority: 'down:9080', upstreamPort: closedPort },
      { authority: 'tunnel:7000', upstreamPort: echo.port },
    ]),
  );
  // One good request warms the lazily loaded modules, so the baseline holds what a busy proxy holds.
  assert.equal((await request(proxy.outbound, 'http://app:9080/ok')).status, 200);
  baseline = await baselineOf(proxy);
});

after(async () => {
  await proxy?.stop();
  await chaos?.close();
  await echo?.close();
});

/** After a batch the proxy is back at rest and still serves. */
async function settled(what: string): Promise<void> {
  await backToBaseline(proxy, baseline, what);
  assert.equal((await request(proxy.outbound, 'http://app:9080/ok')).status, 200, `${what}: the proxy still serves`);
}

test('clients that abort mid-request-body', async () => {
  await pool(BATCH, 1, async () => {
    const s = await connect(proxy.outbound);
    // Hang up once the upstream has the request (the proxy then holds both ends).
    const arrived = once(chaos.events, 'request', { signal: AbortSignal.timeout(5000) });
    s.write('POST http://app:9080/echo HTTP/1.1\r\nhost: app:9080\r\ncontent-length: 1000000\r\n\r\n');
    s.write(Buffer.alloc(32 * 1024, 1));
    await arrived;
    s.destroy();
  });
  await settled('aborted uploads');
});

test('clients that abort mid-response', async () => {
  await pool(BATCH, 5, async () => {
    const s = await connect(proxy.outbound);
    s.write('GET http://app:9080/big?bytes=67108864 HTTP/1.1\r\nhost: app:9080\r\n\r\n');
    await readUntil(s, (t) => t.length > 100_000);
    s.destroy();
  });
  await settled('aborted downloads');
});

test('upstreams that reset mid-response', async () => {
  await pool(BATCH, 5, async () => {
    const s = await connect(proxy.outbound);
    s.write('GET http://app:9080/reset HTTP/1.1\r\nhost: app:9080\r\n\r\n');
    const got = await readUntil(s, () => false, 5000).catch(() => 'timeout');
    // The head was forwarded, then the downstream connection is reset (Envoy: UC, no second response).
    assert.match(got, /^HTTP\/1\.1 200 /);
    s.destroy();
  });
  await settled('upstream resets');
});

test('upstreams that never answer: route timeout → 504 UT', async () => {
  await pool(BATCH, 10, async () => {
    const r = await request(proxy.outbound, 'http://app:9080/hang');
    assert.equal(r.status, 504);
    assert.equal(r.body.toString(), 'upstream request timeout');
  });
  await settled('route timeouts');
});

test('connect failures → 503 UF', async () => {
  await pool(BATCH, 10, async () => {
    const r = await request(proxy.outbound, 'http://down:9080/x');
    assert.equal(r.status, 503);
  });
  await settled('connect failures');
});

test('WebSocket tunnels closed by the client and by the upstream', async () => {
  await pool(BATCH, 5, async (i) => {
    const s = await connect(proxy.outbound);
    s.write('GET http://app:9080/ws HTTP/1.1\r\nhost: app:9080\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n');
    assert.match(await readUntil(s, (t) => t.includes('\r\n\r\n')), /^HTTP\/1\.1 101 /);
    s.write('ping');
    assert.equal(await readUntil(s, (t) => t.includes('ping')), 'ping');
    if (i % 2 === 0) s.destroy();
    else {
      s.write('close-from-upstream');
      await once(s, 'close');
    }
  });
  await settled('WebSocket tunnels');
});

test('CONNECT tunnels closed by the client and by the upstream', async () => {
  await pool(BATCH, 5, async (i) => {
    const s = await connect(proxy.outbound);
    s.write('CONNECT tunnel:7000 HTTP/1.1\r\nhost: tunnel:7000\r\n\r\n');
    assert.match(await readUntil(s, (t) => t.includes('\r\n\r\n')), /^HTTP\/1\.1 200 /);
    s.write('hello');
    assert.equal(await readUntil(s, (t) => t.includes('hello')), 'hello');
    if (i % 2 === 0) s.destroy();
    else {
      s.write('close-from-upstream');
      await once(s, 'close');
    }
  });
  await settled('CONNECT tunnels');
});
