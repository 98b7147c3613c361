import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allKinds, classifyKind, findKind, resolveKindName } from './kinds.ts';
import { crdKinds } from './schema/structural.ts';
import fc from 'fast-check';
import { loadText } from './load.ts';
import { validateResource } from './validate.ts';

const origin = { file: 'x.yaml', document: 0, line: 1 };
const errs = (raw: unknown): string[] => validateResource(raw, origin).errors.map((e) => `${e.path}: ${e.message}`);
const ap = (spec: unknown, meta: Record<string, unknown> = {}): unknown => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'p', ...meta },
  spec,
});

test('envelope: apiVersion, kind, metadata and metadata.name are required', () => {
  assert.deepEqual(errs({ spec: {} }).map((e) => e.split(':')[0]), ['apiVersion', 'kind', 'metadata']);
  assert.deepEqual(errs({ apiVersion: 'v1', kind: 'Namespace', metadata: {} }), ['metadata.name: required: set metadata.name']);
  assert.match(errs({ apiVersion: 'v1', kind: 'Namespace', metadata: 'x' })[0] ?? '', /^metadata: must be an object/);
  assert.match(errs(ap({}, { name: 'Bad_Name' }))[0] ?? '', /^metadata.name: "Bad_Name" is not a valid name/);
  assert.match(errs(ap({}, { namespace: 'Shop' }))[0] ?? '', /^metadata.namespace: "Shop" is not a valid namespace/);
  assert.match(errs(ap({}, { labels: { version: 1 } }))[0] ?? '', /^metadata.labels\[version\]: value must be a string/);
  assert.match(errs(ap({}, { labels: { 'bad key!': 'x' } }))[0] ?? '', /^metadata.labels\[bad key!\]: label key/);
});

test('a known kind at an unserved version is an error that lists the served versions', () => {
  const r = validateResource({ apiVersion: 'security.istio.io/v1alpha3', kind: 'AuthorizationPolicy', metadata: { name: 'p' }, spec: {} }, origin);
  assert.equal(r.valid, false);
  assert.deepEqual(r.errors, [{ path: 'apiVersion', message: 'AuthorizationPolicy is not served at security.istio.io/v1alpha3; use one of security.istio.io/v1, security.istio.io/v1beta1' }]);
  assert.match(errs({ apiVersion: 'apps/v1beta1', kind: 'Deployment', metadata: { name: 'd' }, spec: {} })[0] ?? '', /use one of apps\/v1$/);
});

test('an unknown kind in an Istio group is an error; kinds of other groups are skipped with a warning', () => {
  assert.match(errs({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualServce', metadata: { name: 'x' } })[0] ?? '', /^kind: networking.istio.io has no kind "VirtualServce"; known kinds in this group: VirtualService/);
  for (const [apiVersion, kind] of [['gateway.networking.k8s.io/v1', 'Gateway'], ['cert-manager.io/v1', 'Certificate'], ['v1', 'Secret'], ['config.istio.io/v1alpha2', 'QuotaSpec']]) {
    const r = validateResource({ apiVersion, kind, metadata: { name: 'Whatever_Name' }, anything: 1 }, origin);
    assert.equal(r.valid, true, kind);
    assert.equal(r.support, 'skipped');
    assert.deepEqual(r.warnings, [{ path: '', message: `${kind} (${apiVersion}) is not a kind Weft acts on; skipped without validation` }]);
    assert.equal(r.key.namespace, '', 'a foreign kind has no defaulted namespace');
  }
});

test('Istio kinds Weft does not act on are validated structurally and accepted with a warning', () => {
  const ok = validateResource({ apiVersion: 'networking.istio.io/v1alpha3', kind: 'EnvoyFilter', metadata: { name: 'f' }, spec: { configPatches: [] } }, origin);
  assert.equal(ok.valid, true);
  assert.equal(ok.support, 'ignored');
  assert.match(ok.warnings[0]?.message ?? '', /Weft does not act on EnvoyFilter/);
  const bad = validateResource({ apiVersion: 'networking.istio.io/v1alpha3', kind: 'EnvoyFilter', metadata: { name: 'f' }, spec: { filters: [] } }, origin);
  assert.equal(bad.valid, false);
  assert.equal(bad.errors[0]?.path, 'spec.filters');
});

test('the semantic layer runs only after the structural layer passed', () => {
  // Structure fails (unknown field): the webhook rule (DENY without rules) is not reported.
  assert.deepEqual(errs(ap({ action: 'DENY', bogus: 1 })).map((e) => e.split(':')[0]), ['spec.bogus']);
  // Structure passes: the webhook rule is reported.
  assert.deepEqual(errs(ap({ action: 'DENY' })).map((e) => e.split(':')[0]), ['spec.rules']);
  // `spec: {}` (allow nothing) is valid.
  assert.deepEqual(errs(ap({})), []);
});

test('istio.io/dry-run is only for ALLOW and DENY AuthorizationPolicies, with a boolean value', () => {
  const ann = (v: string): Record<string, unknown> => ({ annotations: { 'istio.io/dry-run': v } });
  assert.deepEqual(errs(ap({ action: 'DENY', rules: [{}] }, ann('true'))), []);
  assert.match(errs(ap({}, ann('maybe')))[0] ?? '', /^metadata.annotations\[istio.io\/dry-run\]: .* must be "true" or "false"/);
  assert.match(errs(ap({ action: 'AUDIT', rules: [{}] }, ann('true')))[0] ?? '', /only supports action ALLOW or DENY/);
  const pa = { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'p', annotations: { 'istio.io/dry-run': 'true' } }, spec: {} };
  assert.match(errs(pa)[0] ?? '', /PeerAuthentication does not support the istio.io\/dry-run annotation/);
  assert.match(errs(ap({}, { annotations: { 'internal.istio.io/parents': 'x' } }))[0] ?? '', /reserved for Istio's own use/);
});

test('loadText and validateResource never throw, whatever the input', () => {
  fc.assert(
    fc.property(fc.anything(), (raw) => {
      const r = validateResource(raw, origin);
      assert.equal(r.valid, r.errors.length === 0);
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.string(), (text) => {
      for (const r of loadText(text, 'f.yaml')) assert.equal(r.valid, r.errors.length === 0);
    }),
    { numRuns: 300 },
  );
  const envelope = fc.record({
    apiVersion: fc.constantFrom('networking.istio.io/v1', 'security.istio.io/v1', 'telemetry.istio.io/v1', 'v1', 'apps/v1', 'discovery.k8s.io/v1'),
    kind: fc.constantFrom('VirtualService', 'DestinationRule', 'AuthorizationPolicy', 'PeerAuthentication', 'RequestAuthentication', 'Telemetry', 'Service', 'Pod', 'Deployment', 'EndpointSlice'),
    metadata: fc.record({ name: fc.constantFrom('a', 'b-1') }),
    spec: fc.anything(),
  });
  fc.assert(
    fc.property(envelope, (raw) => {
      validateResource(raw, origin);
    }),
    { numRuns: 500 },
  );
});

test('Kubernetes kinds: cluster-scoped keys, spec-less kinds keep their fields in spec, status kept', () => {
  const ns = validateResource({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', namespace: 'ignored' } }, origin);
  assert.deepEqual(ns.key, { kind: 'Namespace', namespace: '', name: 'shop' });
  const es = validateResource({
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'r-1', namespace: 'shop' },
    addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'] }], ports: [{ name: 'http', port: 9080 }],
  }, origin);
  assert.equal(es.valid, true, JSON.stringify(es.errors));
  assert.deepEqual(es.resource.spec, { addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'] }], ports: [{ name: 'http', port: 9080 }] });
  const pod = validateResource({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'app' }] }, status: { podIP: '10.1.1.1' } }, origin);
  assert.deepEqual(pod.resource.status, { podIP: '10.1.1.1' });
});

test('the registry covers every CRD kind with its served versions, and resolves names for weft get', () => {
  for (const crd of crdKinds()) {
    const k = findKind(crd.group, crd.kind);
    assert.ok(k, `CRD kind ${crd.group}/${crd.kind} missing from kinds.ts`);
    assert.deepEqual(k.versions, crd.versions);
    assert.equal(k.plural, crd.plural);
  }
  assert.deepEqual(findKind('networking.istio.io', 'VirtualService')?.versions, ['v1', 'v1alpha3', 'v1beta1']);
  for (const [name, kind] of [['vs', 'VirtualService'], ['DR', 'DestinationRule'], ['gateways', 'Gateway'], ['se', 'ServiceEntry'], ['we', 'WorkloadEntry'], ['wg', 'WorkloadGroup'], ['pa', 'PeerAuthentication'], ['ap', 'AuthorizationPolicy'], ['ra', 'RequestAuthentication'], ['telemetry', 'Telemetry'], ['svc', 'Service'], ['ns', 'Namespace'], ['sidecar', 'Sidecar'], ['endpointslices.discovery.k8s.io', 'EndpointSlice']] as const) {
    assert.equal(resolveKindName(name)?.kind, kind, name);
  }
  assert.equal(resolveKindName('httproute'), undefined);
  assert.equal(classifyKind({ group: 'gateway.networking.k8s.io', version: 'v1', kind: 'Gateway' }).type, 'foreign');
  assert.ok(allKinds().filter((k) => k.support === 'mesh').every((k) => k.group === '' || k.group.endsWith('.istio.io') || k.group === 'apps' || k.group === 'discovery.k8s.io'));
});
