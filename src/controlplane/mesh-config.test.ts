// `weft up --mesh-config`: the config API's MeshConfig parser (Istio's defaults and rules) narrowed to what the
// control plane reads; bad input names the file and the field path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadMeshConfigText } from './mesh-config.ts';
import { resolveMesh } from '../discovery/snapshot/mesh.ts';

test('MeshConfig security fields reach the resolved mesh: trust-domain aliases, extension providers, path normalisation', () => {
  const { mesh, warnings } = loadMeshConfigText(
    [
      'trustDomain: example.org',
      'trustDomainAliases: [old.example.org]',
      'pathNormalization: {normalization: MERGE_SLASHES}',
      'extensionProviders:',
      '- name: authz-http',
      '  envoyExtAuthzHttp: {service: ext-authz.local, port: 8000}',
    ].join('\n'),
    'mesh.yaml',
  );
  assert.deepEqual(warnings, []);
  const r = resolveMesh(mesh);
  assert.equal(r.trustDomain, 'example.org');
  assert.deepEqual(r.trustDomainAliases, ['old.example.org']);
  assert.equal(r.pathNormalization, 'MERGE_SLASHES');
  assert.ok(r.extensionProviders.some((p) => p['name'] === 'authz-http'));
  assert.deepEqual(r.extensionProviders.map((p) => p['name']), ['prometheus', 'stackdriver', 'envoy', 'authz-http'], "Istio's default providers stay");
  assert.equal(resolveMesh({}).pathNormalization, 'BASE');
});

test("Istio's defaults fill what the file leaves out; tracing settings and unknown fields", () => {
  const { mesh, warnings } = loadMeshConfigText(
    ['defaultProviders: {tracing: [otel]}', 'defaultConfig: {meshId: m1, tracing: {sampling: 25}}', 'outboundTrafficPolicy: {mode: REGISTRY_ONLY}', 'enableTracing: false', 'notAField: 1'].join('\n'),
    'mesh.yaml',
  );
  const r = resolveMesh(mesh);
  assert.equal(r.rootNamespace, 'istio-system');
  assert.equal(r.trustDomain, 'cluster.local');
  assert.equal(r.connectTimeoutMs, 10_000);
  assert.equal(r.outboundTrafficPolicy, 'REGISTRY_ONLY');
  assert.deepEqual(r.defaultProviders, { tracing: ['otel'] });
  assert.equal(r.meshId, 'm1');
  assert.equal(r.tracingSampling, 25);
  assert.equal(mesh.enableTracing, false);
  assert.deepEqual(warnings, ['mesh.yaml: notAField: unknown field "notAField": Weft ignores it (as Istio does); check the spelling']);
  assert.deepEqual(loadMeshConfigText('', 'empty.yaml').mesh.trustDomain, 'cluster.local');
});

test('bad MeshConfig fields name the file and the field', () => {
  assert.throws(() => loadMeshConfigText('pathNormalization: {normalization: SOMETIMES}', 'm.yaml'), /m\.yaml: pathNormalization\.normalization: must be one of/);
  assert.throws(() => loadMeshConfigText('extensionProviders: [{envoyExtAuthzHttp: {}}]', 'm.yaml'), /m\.yaml: extensionProviders\[0\]\.name: required/);
  assert.throws(() => loadMeshConfigText('trustDomainAliases: old.example.org', 'm.yaml'), /m\.yaml: trustDomainAliases: must be a list/);
  assert.throws(() => loadMeshConfigText('connectTimeout: soon', 'm.yaml'), /m\.yaml: connectTimeout: /);
  assert.throws(() => loadMeshConfigText('defaultConfig: {tracing: {sampling: 150}}', 'm.yaml'), /m\.yaml: defaultConfig\.tracing\.sampling: must be a percentage from 0 to 100/);
  assert.throws(() => loadMeshConfigText('outboundTrafficPolicy: {mode: SOMETIMES}', 'm.yaml'), /m\.yaml: outboundTrafficPolicy\.mode: must be one of REGISTRY_ONLY, ALLOW_ANY/);
  assert.throws(() => loadMeshConfigText('trustDomain: [a', 'm.yaml'), /m\.yaml: YAML syntax error/);
  try {
    loadMeshConfigText('enableAutoMtls: yes-please\nrootNamespace: 7', 'm.yaml');
    assert.fail('expected an error');
  } catch (e) {
    assert.match(String(e), /m\.yaml: enableAutoMtls: must be true or false[^]*\nm\.yaml: rootNamespace: must be a string/, 'every error, one per line');
  }
});

test('MeshConfig h2UpgradePolicy reaches the resolved mesh (default DO_NOT_UPGRADE); a bad value names the field', () => {
  assert.equal(resolveMesh(loadMeshConfigText('h2UpgradePolicy: UPGRADE', 'mesh.yaml').mesh).h2UpgradePolicy, 'UPGRADE');
  assert.equal(resolveMesh(loadMeshConfigText('trustDomain: a.org', 'mesh.yaml').mesh).h2UpgradePolicy, 'DO_NOT_UPGRADE');
  assert.throws(() => loadMeshConfigText('h2UpgradePolicy: SOMETIMES', 'mesh.yaml'), /mesh\.yaml: h2UpgradePolicy/);
});
