// `weft up --mesh-config`: the MeshConfig fields tracing translation reads reach the resolved mesh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveMesh } from '../discovery/snapshot/mesh.ts';
import { loadMeshConfigText as parseMeshConfig } from './mesh-config.ts';

test('tracing fields: extensionProviders, defaultProviders.tracing, defaultConfig meshId and sampling, enableTracing', () => {
  const { mesh, warnings } = parseMeshConfig(`
enableTracing: true
trustDomain: example.org
extensionProviders:
- name: otel
  opentelemetry: { service: otel.observability.svc.cluster.local, port: 4317 }
defaultProviders: { tracing: [otel] }
defaultConfig: { meshId: mesh-a, tracing: { sampling: 12.5, maxPathTagLength: 99 } }
`, 'mesh.yaml');
  assert.deepEqual(warnings, []);
  const r = resolveMesh(mesh);
  assert.deepEqual(r.defaultProviders, { tracing: ['otel'] });
  assert.equal(r.meshId, 'mesh-a');
  assert.equal(r.tracingSampling, 12.5);
  assert.equal(r.tracingMaxPathTagLength, 99);
  assert.ok(r.extensionProviders.some((p) => p['name'] === 'otel' && p['opentelemetry'] !== undefined), 'merged with Istio’s default providers');
  // Istio's defaults: 1% sampling (also for 0 and >100), mesh id = trust domain.
  const d = resolveMesh(parseMeshConfig('trustDomain: example.org\ndefaultConfig: { tracing: { sampling: 0 } }', 'm.yaml').mesh);
  assert.equal(d.tracingSampling, 1);
  assert.equal(d.meshId, 'example.org');
  assert.throws(() => parseMeshConfig('defaultConfig: { tracing: { sampling: 150 } }', 'm.yaml'), /m\.yaml: defaultConfig\.tracing\.sampling/);
  assert.throws(() => parseMeshConfig('defaultProviders: { tracing: otel }', 'm.yaml'), /defaultProviders\.tracing/);
  assert.throws(() => parseMeshConfig('enableTracing: maybe', 'm.yaml'), /enableTracing/);
});
