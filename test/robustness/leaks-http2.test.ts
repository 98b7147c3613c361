// Resource leaks on the HTTP/2 path of a real `weft proxy sidecar` process (h2c with prior knowledge on the explicit
// port, as gRPC clients speak to their sidecar): streams reset by the client (RST_STREAM) mid-response and while the
// upstream has not answered, and whole connections dropped with streams in flight, towards an HTTP/1.1 cluster and
// an HTTP/2 cluster. After each bounded batch the descriptors and connection counts come back to rest.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once, type EventEmitter } from 'node:events';
import * as http2 from 'node:http2';
import { backToBaseline, baselineOf, bootstrap, closed, pool, startChaos, startH2Chaos, startStaticSidecar, type Chaos, type Counts, type ProxyProcess } from './lib.ts';

const { NGHTTP2_CANCEL } = http2.constants;
let chaos: Chaos;
let h2: Awaited<ReturnType<typeof startH2Chaos>>;
let proxy: ProxyProcess;
let baseline: Counts;
const BATCH = 20;
/** The two clusters: HTTP/1.1 (streams become pooled HTTP/1.1 requests) and h2c (streams are multiplexed). */
const TARGETS = ['app:9080', 'grpc:9090'] as const;

before(async () => {
  chaos = await startChaos();
  h2 = await startH2Chaos();
  proxy = await startStaticSidecar(
    bootstrap([
      { authority: 'app:9080', upstreamPort: chaos.port, routes: [{ match: { prefix: '/hang' }, route: { timeout: '0.3s' } }] },
      { authority: 'grpc:9090', upstreamPort: h2.port, http2: true, idleTimeout: '0.3s', routes: [{ match: { prefix: '/hang' }, route: { timeout: '0.3s' } }] },
    ]),
  );
  for (const t of TARGETS) assert.equal((await get(t, '/ok')).status, 200);
  baseline = await baselineOf(proxy);
});

after(async () => {
  await proxy?.stop();
  await chaos?.close();
  await h2?.close();
});

function upstreamOf(target: string): { events: EventEmitter } {
  return target === 'app:9080' ? chaos : h2;
}

function session(): http2.ClientHttp2Session {
  const s = http2.connect(`http://127.0.0.1:${proxy.outbound}`);
  s.on('error', () => undefined);
  return s;
}

/** One complete GET over its own h2c connection. */
async function get(authority: string, path: string): Promise<{ status: number; body: string }> {
  const s = session();
  try {
    const st = s.request({ ':authority': authority, ':path': path });
    const [headers] = (await once(st, 'response', { signal: AbortSignal.timeout(5000) })) as [http2.IncomingHttpHeaders];
    let body = '';
    st.setEncoding('utf8');
    for await (const d of st) body += d as string;
    return { status: Number(headers[':status']), body };
  } finally {
    s.close();
  }
}

async function settled(what: string): Promise<void> {
  await backToBaseline(proxy, baseline, what);
  for (const t of TARGETS) assert.equal((await get(t, '/ok')).status, 200, `${what}: ${t} still served`);
}

for (const target of TARGETS) {
  test(`RST_STREAM from the client mid-response and before the response (${target})`, { timeout: 20_000 }, async () => {
    const s = session();
    await pool(BATCH, 1, async (i) => {
      // Reset once the upstream has the request, or once the response body flows.
      const arrived = once(upstreamOf(target).events, 'request', { signal: AbortSignal.timeout(5000) });
      const st = s.request({ ':authority': target, ':path': i % 2 === 0 ? '/big?bytes=67108864' : '/hang' });
      st.on('error', () => undefined);
      await arrived;
      if (i % 2 === 0) await once(st, 'data', { signal: AbortSignal.timeout(5000) });
      st.close(NGHTTP2_CANCEL);
      await closed(st);
    });
    // The same connection still carries requests after all those resets.
    const ok = s.request({ ':authority': target, ':path': '/ok' });
    const [h] = (await once(ok, 'response', { signal: AbortSignal.timeout(5000) })) as [http2.IncomingHttpHeaders];
    assert.equal(h[':status'], 200);
    ok.resume();
    await once(ok, 'close');
    s.close();
    await settled(`client RST_STREAM (${target})`);
  });

  test(`connections dropped with streams in flight (${target})`, { timeout: 20_000 }, async () => {
    await pool(BATCH, 5, async (i) => {
      const s = session();
      const big = s.request({ ':authority': target, ':path': '/big?bytes=67108864' });
      const hang = s.request({ ':authority': target, ':path': '/hang' });
      big.on('error', () => undefined);
      hang.on('error', () => undefined);
      await once(big, 'data', { signal: AbortSignal.timeout(5000) });
      // Half the time the socket just goes, half the time after a GOAWAY with an error code.
      if (i % 2 === 0) s.destroy();
      else s.destroy(undefined, http2.constants.NGHTTP2_PROTOCOL_ERROR);
      await closed(s);
    });
    await settled(`dropped connections (${target})`);
  });

  test(`upstream stream resets and route timeouts (${target})`, { timeout: 20_000 }, async () => {
    const s = session();
    await pool(BATCH, 5, async (i) => {
      const st = s.request({ ':authority': target, ':path': i % 2 === 0 ? '/reset' : '/hang' });
      st.on('error', () => undefined);
      st.resume();
      await closed(st);
    });
    s.close();
    await settled(`upstream resets and timeouts (${target})`);
  });
}
