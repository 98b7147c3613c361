// The HTTP/1.1 path with Envoy's retry conditions (shared with HTTP/2 in router/retry.ts): x-envoy-attempt-count on
// each attempt, retriable-4xx and retriable-headers, URX only when a retriable outcome runs out of retries, and
// the max_retries circuit breaker (UO, the upstream's answer passed on).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { AccessLog } from '../../src/proxy/access-log/access-log.ts';
import { outboundListener, routeConfig, startProxy, startUpstream, staticCluster, viaProxy } from './helpers.ts';

test('HTTP/1.1 path: attempt count, retriable-4xx, retriable-headers, URX, max_retries → UO', async (t) => {
  const calls = new Map<string, number>();
  const attempts: string[] = [];
  const up = await startUpstream('app', (req, res) => {
    const path = req.url ?? '';
    const n = (calls.get(path) ?? 0) + 1;
    calls.set(path, n);
    attempts.push(`${path}#${String(req.headers['x-envoy-attempt-count'])}`);
    req.resume();
    req.on('end', () => {
      if (path === '/conflict' && n === 1) res.statusCode = 409;
      else if (path === '/header' && n === 1) res.setHeader('x-retry-me', 'yes');
      else if (path === '/always' || path === '/budget') res.statusCode = 503;
      else if (path === '/404') res.statusCode = 404;
      res.end(`n=${n}`);
    });
  });
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  const log = new AccessLog(out, 'text');
  const route = (prefix: string, cluster: string, retry: Record<string, unknown>): Record<string, unknown> => ({ match: { prefix }, route: { cluster, retry_policy: { num_retries: { value: 1 }, ...retry } } });
  const p = await startProxy(
    {
      clusters: [staticCluster('app', [up.port]), staticCluster('tight', [up.port], { circuit_breakers: { thresholds: [{ max_retries: { value: 0 } }] } })],
      listeners: [outboundListener(80)],
      routes: [
        routeConfig('80', [
          {
            name: 'all',
            domains: ['*'],
            include_request_attempt_count: true,
            routes: [
              route('/conflict', 'app', { retry_on: 'retriable-4xx' }),
              route('/header', 'app', { retry_on: 'retriable-headers', retriable_headers: [{ name: 'x-retry-me', string_match: { exact: 'yes' } }] }),
              route('/always', 'app', { retry_on: 'gateway-error' }),
              route('/budget', 'tight', { retry_on: '5xx' }),
              route('/404', 'app', { retry_on: '5xx' }),
            ],
          },
        ]),
      ],
    },
    log,
  );
  t.after(async () => {
    p.close();
    await up.close();
  });
  assert.equal((await viaProxy(p.port, 'http://svc/conflict')).body, 'n=2');
  assert.equal((await viaProxy(p.port, 'http://svc/header')).body, 'n=2');
  const always = await viaProxy(p.port, 'http://svc/always');
  assert.equal(always.status, 503);
  assert.equal(always.body, 'n=2');
  const budget = await viaProxy(p.port, 'http://svc/budget');
  assert.equal(budget.body, 'n=1');
  const nf = await viaProxy(p.port, 'http://svc/404');
  assert.equal(nf.status, 404);
  assert.deepEqual(attempts, ['/conflict#1', '/conflict#2', '/header#1', '/header#2', '/always#1', '/always#2', '/budget#1', '/404#1']);
  log.flush();
  const line = (path: string): string => text.split('\n').find((l) => l.includes(`"GET http://svc${path} HTTP/1.1"`) || l.includes(`"GET ${path} HTTP/1.1"`)) ?? '';
  assert.match(line('/always'), /" 503 URX via_upstream /);
  assert.match(line('/budget'), /" 503 UO via_upstream /);
  assert.match(line('/404'), /" 404 - via_upstream /, 'a response no condition matches is not flagged');
});

test('HTTP/1.1 path: a request waiting for a connection keeps its whole body, past the replay buffer', async (t) => {
  const held: (() => void)[] = [];
  let arrived: (() => void) | undefined;
  const up = await startUpstream('app', (req, res) => {
    let n = 0;
    req.on('data', (d: Buffer) => (n += d.length));
    req.on('end', () => {
      const answer = (): void => void res.end(`${req.url} got ${n}`);
      if (req.url === '/first') {
        held.push(answer);
        arrived?.();
      } else answer();
    });
  });
  const p = await startProxy({
    clusters: [staticCluster('tight', [up.port], { circuit_breakers: { thresholds: [{ max_connections: { value: 1 }, max_pending_requests: { value: 4 } }] } })],
    listeners: [outboundListener(80)],
    routes: [routeConfig('80', [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'tight', timeout: { seconds: 5 }, retry_policy: { retry_on: '5xx', num_retries: { value: 1 } } } }] }])],
  });
  t.after(async () => {
    p.close();
    await up.close();
  });
  const first = viaProxy(p.port, 'http://svc/first');
  await new Promise<void>((r) => (held.length > 0 ? r() : (arrived = r)));
  const big = 'y'.repeat(300 * 1024);
  const second = viaProxy(p.port, 'http://svc/second', { method: 'POST', body: big });
  const cluster = p.engine.clusters.get('tight')!;
  for (let i = 0; i < 500 && cluster.pending.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(cluster.pending.length, 1, 'the second request waits for the only connection');
  await new Promise((r) => setTimeout(r, 50)); // let the body arrive at the proxy while it waits (the bug needed the bytes early)
  held.shift()!();
  assert.equal((await first).body, '/first got 0');
  const r = await second;
  assert.equal(r.status, 200, r.body);
  assert.equal(r.body, `/second got ${big.length}`);
});
