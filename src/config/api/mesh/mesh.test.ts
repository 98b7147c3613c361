import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { defaultMeshConfig, parseMeshConfig } from './index.ts';

test('defaults are Istio\'s', () => {
  const m = defaultMeshConfig();
  assert.equal(m.trustDomain, 'cluster.local');
  assert.equal(m.rootNamespace, 'istio-system');
  assert.equal(m.enableAutoMtls, true);
  assert.equal(m.outboundTrafficPolicy.mode, 'ALLOW_ANY');
  assert.equal(m.accessLogFile, '');
  assert.equal(m.accessLogEncoding, 'TEXT');
  assert.equal(m.defaultConfig.discoveryAddress, 'istiod.istio-system.svc:15012');
  assert.equal(m.defaultConfig.drainDuration, '45s');
  assert.equal(m.defaultConfig.terminationDrainDuration, '5s');
  assert.equal(m.defaultConfig.statusPort, 15020);
  assert.equal(m.defaultConfig.proxyAdminPort, 15000);
  assert.deepEqual(m.extensionProviders.map((p) => p.name), ['prometheus', 'stackdriver', 'envoy']);
  const empty = parseMeshConfig('', 'mesh.yaml');
  assert.ok(empty.ok);
  assert.deepEqual(empty.value.mesh, m);
});

test('a mesh config merges onto the defaults as Istio merges it', () => {
  const text = `
trustDomain: example.org
trustDomainAliases: [old.example.org]
outboundTrafficPolicy: {mode: REGISTRY_ONLY}
accessLogFile: /dev/stdout
defaultConfig:
  holdApplicationUntilProxyStarts: true
  proxyMetadata: {ISTIO_META_DNS_CAPTURE: "true"}
extensionProviders:
- name: envoy
  envoyFileAccessLog: {path: /var/log/access.log}
- name: ext-authz
  envoyExtAuthzHttp: {service: ext-authz.foo.svc.cluster.local, port: 8000}
defaultProviders:
  accessLogging: [envoy]
`;
  const r = parseMeshConfig(text, 'mesh.yaml');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.error));
  const m = r.value.mesh;
  assert.equal(m.trustDomain, 'example.org');
  assert.deepEqual(m.trustDomainAliases, ['old.example.org']);
  assert.equal(m.outboundTrafficPolicy.mode, 'REGISTRY_ONLY');
  assert.equal(m.defaultConfig.holdApplicationUntilProxyStarts, true);
  assert.equal(m.defaultConfig.discoveryAddress, 'istiod.istio-system.svc:15012', 'proxy config is merged, not replaced');
  assert.deepEqual(m.defaultConfig.proxyMetadata, { ISTIO_META_DNS_CAPTURE: 'true' });
  assert.deepEqual(m.extensionProviders.map((p) => p.name), ['prometheus', 'stackdriver', 'envoy', 'ext-authz']);
  assert.deepEqual(m.extensionProviders[2], { name: 'envoy', envoyFileAccessLog: { path: '/var/log/access.log' } });
  assert.deepEqual(m.defaultProviders, { accessLogging: ['envoy'] });
  assert.deepEqual(r.value.warnings, []);
});

test('the istio ConfigMap form, unknown fields as warnings, errors with paths', () => {
  const cm = parseMeshConfig('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio}\ndata:\n  mesh: |\n    rootNamespace: mesh-root\n', 'cm.yaml');
  assert.ok(cm.ok);
  assert.equal(cm.value.mesh.rootNamespace, 'mesh-root');
  const unknown = parseMeshConfig('enableAutoMtlz: true\ndefaultConfig: {imageType: x}\n', 'm.yaml');
  assert.ok(unknown.ok);
  assert.deepEqual(unknown.value.warnings.map((w) => w.path), ['enableAutoMtlz', 'defaultConfig.imageType']);
  const bad = parseMeshConfig('proxyListenPort: 70000\nenableAutoMtls: "yes"\ndefaultConfig: {drainDuration: 45, discoveryAddress: istiod}\noutboundTrafficPolicy: {mode: DENY}\n', 'm.yaml');
  assert.ok(!bad.ok);
  assert.deepEqual(bad.error.map((e) => e.path), ['enableAutoMtls', 'defaultConfig.drainDuration', 'outboundTrafficPolicy.mode']);
  const sem = parseMeshConfig('proxyListenPort: 70000\ndefaultConfig: {discoveryAddress: istiod}\ntrustDomain: "a/b"\nextensionProviders: [{name: x, zipkin: {}}, {name: x, zipkin: {}}]\n', 'm.yaml');
  assert.ok(!sem.ok);
  assert.deepEqual(sem.error.map((e) => e.path), ['proxyListenPort', 'defaultConfig.discoveryAddress', 'trustDomain', 'extensionProviders[1].name']);
  const syntax = parseMeshConfig('a: [1,\n', 'm.yaml');
  assert.ok(!syntax.ok);
  assert.match(syntax.error[0]?.message ?? '', /^m.yaml: YAML syntax error: .*line/);
});

test('the analyzer test mesh configs parse', () => {
  for (const f of ['common/meshconfig.yaml', 'mesh-with-automtls.yaml', 'telemetry-lightstep-meshconfig.yaml', 'serviceentry-address-allocated-mesh-cfg.yaml']) {
    let text: string;
    try {
      text = readFileSync(new URL(`../../../../../shared/istio-samples/analyzer-testdata/${f}`, import.meta.url), 'utf8');
    } catch {
      continue; // samples absent outside the workspace
    }
    const r = parseMeshConfig(text, f);
    assert.ok(r.ok, `${f}: ${JSON.stringify(!r.ok && r.error)}`);
  }
});
