// Envoy's retry decisions (router/retry.ts): which outcomes each retry_on condition retries, the retry budget, the
// max_retries circuit breaker and the backoff bounds — compiled from real retry_policy shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Errors } from '../config/raw.ts';
import { Cluster } from '../cluster/cluster-manager.ts';
import { compileCluster } from '../cluster/cluster-config.ts';
import { compileAction, type RetryPolicy } from './route-action.ts';
import { RetryState, retriableReset, retriableResponse, withAttemptCount } from './retry.ts';

function policy(retry: Record<string, unknown>): RetryPolicy {
  const errors = new Errors();
  const a = compileAction({ route: { cluster: 'c', retry_policy: retry } }, 'route', errors);
  assert.equal(errors.any, false, JSON.stringify(errors.list));
  assert.ok(a?.kind === 'cluster' && a.retry);
  return a.retry;
}

function cluster(maxRetries?: number): Cluster {
  const c = compileCluster({ name: 'c', type: 'STATIC', ...(maxRetries === undefined ? {} : { circuit_breakers: { thresholds: [{ max_retries: { value: maxRetries } }] } }) });
  assert.ok(c.ok);
  return new Cluster(c.value, undefined);
}

test('retry_on conditions: responses', () => {
  assert.equal(retriableResponse(policy({ retry_on: '5xx' }), 500, []), true);
  assert.equal(retriableResponse(policy({ retry_on: '5xx' }), 404, []), false);
  assert.equal(retriableResponse(policy({ retry_on: 'gateway-error' }), 500, []), false);
  assert.equal(retriableResponse(policy({ retry_on: 'gateway-error' }), 504, []), true);
  assert.equal(retriableResponse(policy({ retry_on: 'retriable-4xx' }), 409, []), true);
  assert.equal(retriableResponse(policy({ retry_on: 'retriable-4xx' }), 429, []), false);
  assert.equal(retriableResponse(policy({ retry_on: 'retriable-status-codes', retriable_status_codes: [429] }), 429, []), true);
  assert.equal(retriableResponse(policy({ retry_on: '5xx', retriable_status_codes: [429] }), 429, []), false, 'codes count only with retriable-status-codes');
  const headers = policy({ retry_on: 'retriable-headers', retriable_headers: [{ name: 'x-retry', string_match: { prefix: 'y' } }] });
  assert.equal(retriableResponse(headers, 200, ['x-retry', 'yes']), true);
  assert.equal(retriableResponse(headers, 200, ['x-retry', 'no']), false);
  const grpc = policy({ retry_on: 'unavailable,resource-exhausted' });
  assert.equal(retriableResponse(grpc, 200, ['content-type', 'application/grpc', 'grpc-status', '14']), true);
  assert.equal(retriableResponse(grpc, 200, ['grpc-status', '8']), true);
  assert.equal(retriableResponse(grpc, 200, ['grpc-status', '13']), false);
  assert.equal(retriableResponse(grpc, 200, []), false, 'grpc-status only counts in the response headers');
  assert.equal(retriableResponse(policy({ retry_on: 'cancelled,deadline-exceeded,internal' }), 200, ['grpc-status', '4']), true);
});

test('retry_on conditions: resets and per-try timeouts', () => {
  assert.equal(retriableReset(policy({ retry_on: 'connect-failure' }), 'connect_failure'), true);
  assert.equal(retriableReset(policy({ retry_on: 'connect-failure' }), 'connect_timeout'), true);
  assert.equal(retriableReset(policy({ retry_on: 'connect-failure' }), 'connection_termination'), false);
  assert.equal(retriableReset(policy({ retry_on: 'refused-stream' }), 'refused_stream'), true);
  assert.equal(retriableReset(policy({ retry_on: 'refused-stream' }), 'connect_failure'), false);
  assert.equal(retriableReset(policy({ retry_on: 'reset' }), 'connection_termination'), true);
  assert.equal(retriableReset(policy({ retry_on: '5xx' }), 'connect_failure'), true);
  assert.equal(retriableReset(policy({ retry_on: 'retriable-status-codes', retriable_status_codes: [504] }), 'per_try_timeout'), true);
  assert.equal(retriableReset(policy({ retry_on: 'connect-failure' }), 'per_try_timeout'), false);
  // Istio's default policy.
  const istio = policy({ retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes', num_retries: { value: 2 }, retriable_status_codes: [503] });
  assert.equal(retriableResponse(istio, 503, []), true);
  assert.equal(retriableResponse(istio, 500, []), false);
  assert.equal(retriableReset(istio, 'connection_termination'), false);
});

test('RetryState: num_retries, URX when exhausted, max_retries overflow (UO), slot released', () => {
  const p = policy({ retry_on: '5xx', num_retries: { value: 2 } });
  const c = cluster();
  assert.equal(c.config.maxRetries, 3, "Envoy's default max_retries");
  const s = new RetryState(p);
  const random = (): number => 0.5;
  assert.equal(s.decide(false, true, c, random).kind, 'no');
  assert.equal(s.decide(true, false, c, random).kind, 'no', 'no replay possible');
  const first = s.decide(true, true, c, random);
  assert.deepEqual(first, { kind: 'retry', delayMs: 12 });
  assert.equal(c.retriesActive, 1);
  s.release();
  assert.equal(c.retriesActive, 0);
  assert.deepEqual(s.decide(true, true, c, random), { kind: 'retry', delayMs: 25 });
  s.release();
  assert.equal(s.decide(true, true, c, random).kind, 'exhausted');
  assert.equal(c.stats.rqRetry, 2);

  const tight = cluster(1);
  const a = new RetryState(p);
  const b = new RetryState(p);
  assert.equal(a.decide(true, true, tight, random).kind, 'retry');
  assert.equal(b.decide(true, true, tight, random).kind, 'overflow');
  assert.equal(tight.stats.rqRetryOverflow, 1);
  a.release();
  assert.equal(b.decide(true, true, tight, random).kind, 'retry');
  b.release();
  b.release();
  assert.equal(tight.retriesActive, 0, 'release is idempotent');
});

test('backoff: full jitter within [0, base·2^n), capped at max_interval', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1, max: 8 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (base, retries, r) => {
      const p = policy({ retry_on: '5xx', num_retries: { value: retries }, retry_back_off: { base_interval: { nanos: base * 1_000_000 } } });
      const s = new RetryState(p);
      const c = cluster(100);
      let interval = base;
      for (let i = 0; i < retries; i++) {
        const d = s.decide(true, true, c, () => r);
        assert.equal(d.kind, 'retry');
        if (d.kind === 'retry') assert.ok(d.delayMs >= 0 && d.delayMs < Math.max(1, interval) && d.delayMs <= base * 10);
        s.release();
        interval = Math.min(interval * 2, base * 10);
      }
    }),
    { numRuns: 200 },
  );
});

test('x-envoy-attempt-count goes before the blank line of an HTTP/1.1 head', () => {
  assert.equal(withAttemptCount('GET / HTTP/1.1\r\nhost: a\r\n\r\n', 2), 'GET / HTTP/1.1\r\nhost: a\r\nx-envoy-attempt-count: 2\r\n\r\n');
});

test('previous_hosts: a retry re-picks a host already tried (bounded by host_selection_retry_max_attempts)', () => {
  const c = compileCluster({ name: 'c', type: 'STATIC', lb_policy: 'RANDOM', load_assignment: { cluster_name: 'c', endpoints: [{ lb_endpoints: [1, 2].map((p) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } } })) }] } });
  assert.ok(c.ok);
  const cl = new Cluster(c.value, undefined);
  const seq = (xs: number[]): (() => number) => () => xs.shift() ?? 0;
  const withPredicate = policy({ retry_on: '5xx', retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts' }], host_selection_retry_max_attempts: 5 });
  assert.equal(withPredicate.hostReselectAttempts, 5);
  const s = new RetryState(withPredicate);
  assert.equal(s.pickHost(cl, seq([0.1]), undefined, undefined)?.port, 1);
  assert.equal(s.pickHost(cl, seq([0.1, 0.1, 0.9]), undefined, undefined)?.port, 2, 'host 1 was tried: re-picked until another comes up');
  const plain = new RetryState(policy({ retry_on: '5xx' }));
  assert.equal(plain.pickHost(cl, seq([0.1]), undefined, undefined)?.port, 1);
  assert.equal(plain.pickHost(cl, seq([0.1, 0.9]), undefined, undefined)?.port, 1, 'without the predicate the balancer decides alone');
});
