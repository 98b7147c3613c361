// The done-when test of the config API: every resource in Istio's own samples and test configs is accepted,
// except what Istio itself rejects, which must be reported with Istio's reason.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadPaths } from './load.ts';
import { formatKey } from './resource.ts';
import { istioSamples } from '../../../test/samples.ts';

const SAMPLES = istioSamples;
const DIRS = [
  'bookinfo/networking', 'bookinfo/platform', 'bookinfo/policy', 'bookinfo/gateway-api', 'curl', 'extauthz', 'external', 'grpc-echo', 'helloworld',
  'httpbin', 'jwt-server', 'multicluster', 'open-telemetry', 'ratelimit', 'sleep', 'tcp-echo', 'websockets', 'authz-policies',
  'pilot-testdata-config', 'integration-tests',
];

/** What Istio rejects in these folders (INDEX.md's schema findings, and one deliberately invalid test input), as `file|Kind/ns/name|path|message fragment`. */
const EXPECTED_INVALID = [
  'pilot-testdata-config/rule-websocket-route.yaml|VirtualService/testns/websocket-route|spec.http[0].websocketUpgrade|unknown field',
  'pilot-testdata-config/rule-websocket-route.yaml|VirtualService/testns/websocket-route2|spec.http[0].websocketUpgrade|unknown field',
  // Deliberately invalid in Istio's integration tests ("this will cause a schema validation error").
  'integration-tests/pilot/some-dir/missing-gateway.yaml|VirtualService/default/missing-gateway|spec|http, tcp or tls',
];

test('every Istio sample is accepted except what Istio rejects', async () => {
  const { results, ioErrors } = await loadPaths(DIRS, undefined, { cwd: SAMPLES });
  assert.deepEqual(ioErrors, []);
  assert.ok(results.length > 300, `expected the whole sample set, loaded ${results.length}`);
  const invalid = results
    .filter((r) => !r.valid)
    .flatMap((r) => r.errors.map((e) => `${r.origin.file}|${formatKey(r.key)}|${e.path}|${e.message}`));
  assert.equal(invalid.length, EXPECTED_INVALID.length, `unexpected errors:\n${invalid.join('\n')}`);
  EXPECTED_INVALID.forEach((want, i) => {
    const [file, key, path, fragment] = want.split('|') as [string, string, string, string];
    assert.ok(invalid[i]?.startsWith(`${file}|${key}|${path}|`) && invalid[i].includes(fragment), `${invalid[i]} should match ${want}`);
  });
  // Every Istio kind in the samples was understood (none skipped as foreign), and foreign kinds were skipped, not failed.
  const istio = results.filter((r) => r.apiVersion.includes('.istio.io/'));
  assert.ok(istio.every((r) => r.support === 'mesh' || r.support === 'ignored'));
  const skipped = new Set(results.filter((r) => r.support === 'skipped').map((r) => r.key.kind));
  for (const k of ['HTTPRoute', 'Ingress', 'Secret', 'Certificate']) assert.ok(skipped.has(k), `${k} should be skipped`);
  // Bookinfo's own resources are typed and namespaced as the mesh needs them.
  const reviews = results.find((r) => r.key.kind === 'Service' && r.key.name === 'reviews' && r.origin.file === 'bookinfo/platform/kube/bookinfo.yaml');
  assert.equal(reviews?.key.namespace, 'default');
  assert.equal(reviews?.support, 'mesh');
});
