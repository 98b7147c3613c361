// DestinationRule connection-pool settings → the cluster's HttpProtocolOptions, as Istio's applyConnectionPool builds them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpProtocolOptions } from './cluster-policy.ts';

const common = (j: unknown): unknown => (j as Record<string, Record<string, unknown>> | undefined)?.['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']?.['common_http_protocol_options'];

test('tcp.maxConnectionDuration → common_http_protocol_options.max_connection_duration', () => {
  assert.deepEqual(common(httpProtocolOptions('HTTP', { tcp: { maxConnectionDuration: '1m30s' } })), { max_connection_duration: { seconds: 90 } });
  // With HTTP settings beside it, both land in the one common options message.
  assert.deepEqual(common(httpProtocolOptions('HTTP', { tcp: { maxConnectionDuration: '500ms' }, http: { maxRequestsPerConnection: 5 } })), {
    max_connection_duration: { seconds: 0, nanos: 500_000_000 },
    max_requests_per_connection: { value: 5 },
  });
});

test('tcp.idleTimeout is the upstream idle timeout when http.idleTimeout is unset; http.idleTimeout wins', () => {
  assert.deepEqual(common(httpProtocolOptions('HTTP', { tcp: { idleTimeout: '7s' } })), { idle_timeout: { seconds: 7 } });
  assert.deepEqual(common(httpProtocolOptions('HTTP', { tcp: { idleTimeout: '7s' }, http: { idleTimeout: '15s' } })), { idle_timeout: { seconds: 15 } });
  // 0s disables the timeout (Envoy: 0 = no idle timeout), and is passed on as such.
  assert.deepEqual(common(httpProtocolOptions('HTTP', { tcp: { idleTimeout: '0s' } })), { idle_timeout: { seconds: 0 } });
});

test('no connection-pool durations: no protocol options for a plain HTTP/1.1 port (unchanged)', () => {
  assert.equal(httpProtocolOptions('HTTP', { tcp: { maxConnections: 10 } }), undefined);
  assert.equal(httpProtocolOptions('HTTP', undefined), undefined);
});
