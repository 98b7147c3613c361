// Bookinfo with tracing: `weft demo --tracing-collector` (a real demo process: control plane, ingress gateway, six
// workloads with sidecars) exporting OTLP/HTTP to a collector in this test. One /productpage request is one trace:
// ingress gateway → productpage → details and reviews → ratings, every hop a child of the one before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../ports.ts';
import { TestCollector, type CollectedSpan } from '../tracing/collector.ts';

const weft = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));

test('weft demo --tracing-collector: one /productpage request is one trace through gateway, productpage, reviews and ratings', { timeout: 150_000 }, async (t) => {
  const collector = await new TestCollector().start();
  const stateDir = mkdtempSync(join(tmpdir(), 'weft-demo-tracing-'));
  const port = await freePort('0.0.0.0');
  const demo = spawn(process.execPath, [weft, 'demo', '--ingress-port', String(port), '--state-dir', stateDir, '--tracing-collector', `127.0.0.1:${collector.httpPort}`], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  demo.stdout.on('data', (d: Buffer) => (out += d.toString()));
  demo.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
  t.after(async () => {
    if (demo.exitCode === null) {
      process.kill(-demo.pid!, 'SIGINT');
      const timer = setTimeout(() => process.kill(-demo.pid!, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await collector.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });
  await Promise.race([
    new Promise<void>((resolve) => {
      const check = (): void => void (out.includes('Stop: Ctrl-C') && resolve());
      demo.stdout.on('data', check);
      check();
    }),
    exited.then((code) => assert.fail(`weft demo exited ${code} before it was ready:\n${err}`)),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`weft demo not ready within 90 s:\n${err}`)), 90_000).unref()),
  ]);
  assert.match(out, /Tracing: every request's spans go to 127\.0\.0\.1:\d+ \(otlp-http\)/);

  // reviews round-robins over v1 (no ratings call), v2 and v3: request until a trace reaches ratings (bounded).
  const url = `http://127.0.0.1:${port}/productpage`;
  let trace: CollectedSpan[] | undefined;
  for (let i = 0; i < 30 && !trace; i++) {
    const r = await fetch(url, { signal: AbortSignal.timeout(15_000) });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    const ratings = await collector.waitFor((s) => s.tags['istio.canonical_service'] === 'ratings' && s.kind === 'SERVER', 1, 3000).catch(() => undefined);
    if (ratings) trace = collector.spans.filter((s) => s.traceId === ratings[0]!.traceId);
  }
  assert.ok(trace, 'no trace reached ratings in 30 requests');
  const id = trace[0]!.traceId;
  // Every hop's spans arrive (each proxy flushes within a second); wait for the whole chain.
  const spans = await collector.waitFor((s) => s.traceId === id, 9);
  const find = (svc: string, kind: string, peer?: string): CollectedSpan => {
    const s = spans.find((x) => x.tags['istio.canonical_service'] === svc && x.kind === kind && (peer === undefined || (x.tags['upstream_cluster'] ?? '').includes(peer)));
    assert.ok(s, `no ${kind} span from ${svc}${peer ? ` to ${peer}` : ''}: ${JSON.stringify(spans.map((x) => [x.tags['istio.canonical_service'], x.kind, x.tags['upstream_cluster']]))}`);
    return s;
  };
  const gwServer = find('istio-ingressgateway', 'SERVER');
  const gwClient = find('istio-ingressgateway', 'CLIENT');
  const ppServer = find('productpage', 'SERVER');
  const ppToReviews = find('productpage', 'CLIENT', 'reviews');
  const ppToDetails = find('productpage', 'CLIENT', 'details');
  const reviewsServer = find('reviews', 'SERVER');
  const reviewsToRatings = find('reviews', 'CLIENT', 'ratings');
  const ratingsServer = find('ratings', 'SERVER');
  const detailsServer = find('details', 'SERVER');
  assert.equal(gwServer.parentSpanId, undefined, 'the gateway starts the trace');
  assert.equal(gwClient.parentSpanId, gwServer.spanId);
  assert.equal(ppServer.parentSpanId, gwClient.spanId);
  assert.equal(ppToReviews.parentSpanId, ppServer.spanId);
  assert.equal(ppToDetails.parentSpanId, ppServer.spanId);
  assert.equal(detailsServer.parentSpanId, ppToDetails.spanId);
  assert.equal(reviewsServer.parentSpanId, ppToReviews.spanId);
  assert.equal(reviewsToRatings.parentSpanId, reviewsServer.spanId);
  assert.equal(ratingsServer.parentSpanId, reviewsToRatings.spanId);
  assert.equal(ppServer.service, 'productpage.default');
  assert.equal(ratingsServer.tags['http.status_code'], '200');
});
