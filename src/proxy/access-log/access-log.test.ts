import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { AccessLog, formatJson, formatText } from './access-log.ts';
import { StreamInfo } from '../hcm/stream-info.ts';

function sample(): StreamInfo {
  const s = new StreamInfo();
  s.startEpochMs = Date.UTC(2026, 10, 21, 22, 0, 0, 123);
  s.method = 'GET';
  s.path = '/reviews/1';
  s.status = 503;
  s.addFlag('UF');
  s.addFlag('URX');
  s.addFlag('UF');
  s.details = 'upstream_reset_before_response_started{connection_failure}';
  s.bytesSent = 91;
  s.durationMs = 12.4;
  s.userAgent = 'curl/7.88.1';
  s.requestId = 'abc';
  s.authority = 'reviews:9080';
  s.upstreamHost = '10.0.0.2:9080';
  s.upstreamCluster = 'outbound|9080||reviews.default.svc.cluster.local';
  s.downstreamLocal = '127.0.0.1:15001';
  s.downstreamRemote = '127.0.0.1:50000';
  return s;
}

test('text lines follow Istio\'s default format with Envoy response flags (deduplicated, comma-separated)', () => {
  assert.equal(
    formatText(sample()),
    '[2026-11-21T22:00:00.123Z] "GET /reviews/1 HTTP/1.1" 503 UF,URX upstream_reset_before_response_started{connection_failure} - "-" 0 91 12 - "-" "curl/7.88.1" "abc" "reviews:9080" "10.0.0.2:9080" outbound|9080||reviews.default.svc.cluster.local - 127.0.0.1:15001 127.0.0.1:50000 - -\n',
  );
});

test('JSON lines carry the same fields with Istio\'s key names', () => {
  const j = JSON.parse(formatJson(sample())) as Record<string, unknown>;
  assert.equal(j['response_code'], 503);
  assert.equal(j['response_flags'], 'UF,URX');
  assert.equal(j['upstream_cluster'], 'outbound|9080||reviews.default.svc.cluster.local');
  assert.equal(j['upstream_service_time'], null);
  assert.equal(j['authority'], 'reviews:9080');
});

test('lines are batched into one write per event-loop turn', async () => {
  const out = new PassThrough();
  const writes: string[] = [];
  out.on('data', (d: Buffer) => writes.push(d.toString()));
  const log = new AccessLog(out, 'text');
  log.log(sample());
  log.log(sample());
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.equal(writes.length, 1);
  assert.equal(writes[0]!.split('\n').filter(Boolean).length, 2);
});
