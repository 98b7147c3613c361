// The structural layer's mechanisms one by one (unknown fields, types, enum, pattern, bounds, formats, oneOf,
// list types, nullable, preserve-unknown-fields, metadata), the kind catalogue, and a property test that no JSON
// value makes validateStructure throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileNode } from './compile.ts';
import type { FieldError } from '../../../core/result.ts';
import { crdKinds, dropNulls, validateStructure } from './structural.ts';

const NET = { group: 'networking.istio.io', version: 'v1' };
const vsGvk = { ...NET, kind: 'VirtualService' };
const drGvk = { ...NET, kind: 'DestinationRule' };

const vs = (spec: unknown, metadata: unknown = { name: 'reviews', namespace: 'default' }): Record<string, unknown> => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata,
  spec,
});
const dr = (spec: unknown): Record<string, unknown> => ({ ...vs(spec), kind: 'DestinationRule' });
const errorsOf = (obj: unknown, gvk = vsGvk): FieldError[] => validateStructure(obj, gvk).errors;
const route = (extra: object = {}): object => ({ destination: { host: 'reviews', subset: 'v1' }, ...extra });

test('a valid VirtualService has no errors', () => {
  assert.deepEqual(errorsOf(vs({ hosts: ['reviews'], http: [{ match: [{ uri: { prefix: '/' } }], route: [route({ weight: 100 })], timeout: '5s' }] })), []);
});

test('unknown fields are rejected at their path, at any depth', () => {
  assert.deepEqual(errorsOf(vs({ hosts: ['a'], htpp: [] })), [{ path: 'spec.htpp', message: 'unknown field "htpp" (did you mean "http"?)' }]);
  assert.deepEqual(errorsOf(vs({ http: [{ route: [route({ wieght: 1 })] }] })), [{ path: 'spec.http[0].route[0].wieght', message: 'unknown field "wieght" (did you mean "weight"?)' }]);
  assert.deepEqual(errorsOf({ ...vs({}), extra: 1 }), [{ path: 'extra', message: 'unknown field "extra"' }]);
  // A suggestion only for a close match: a case difference, one edit in a short name, two in a longer one.
  assert.deepEqual(errorsOf(vs({ Hosts: ['a'] })).map((e) => e.message), ['unknown field "Hosts" (did you mean "hosts"?)']);
  assert.deepEqual(errorsOf(vs({ hosts: ['a'], http: [{ retries: { attempts: 1, perTryTimout: '1s' } }] })).map((e) => e.message), ['unknown field "perTryTimout" (did you mean "perTryTimeout"?)']);
  assert.deepEqual(errorsOf(dr({ host: 'a', hosts: ['a'] }), drGvk).map((e) => e.message), ['unknown field "hosts" (did you mean "host"?)']);
  assert.deepEqual(errorsOf(vs({ hosts: ['a'], xyz: 1 })).map((e) => e.message), ['unknown field "xyz"']);
});

test('wrong types are reported with the expected and found JSON types', () => {
  assert.deepEqual(errorsOf(vs({ hosts: 'reviews' })), [{ path: 'spec.hosts', message: 'must be of type array: "string" (write a list: one "- item" line per entry, or [a, b])' }]);
  assert.deepEqual(errorsOf(vs({ http: [{ route: [route({ weight: '50' })] }] })), [{ path: 'spec.http[0].route[0].weight', message: 'must be of type integer: "string" (write the number without quotes: 50)' }]);
  assert.deepEqual(errorsOf(vs({ http: [{ route: [route({ weight: 1.5 })] }] })), [{ path: 'spec.http[0].route[0].weight', message: 'must be of type integer: "number" (use a whole number)' }]);
  assert.deepEqual(errorsOf(vs({ http: [{ match: [{ ignoreUriCase: 'yes' }] }] })), [{ path: 'spec.http[0].match[0].ignoreUriCase', message: 'must be of type boolean: "string" (write true or false)' }]);
  assert.deepEqual(errorsOf(vs({ http: [null] })), [{ path: 'spec.http[0]', message: 'must be of type object: "null" (the value is empty: give it one, or remove the field)' }]);
  assert.deepEqual(errorsOf([1, 2]), [{ path: '', message: 'must be of type object: "array" (write fields (key: value), not a list)' }]);
});

test('type errors say what to write instead: unquoted numbers and booleans, durations with a unit, lists', () => {
  const at = (spec: Record<string, unknown>): string[] => errorsOf(vs(spec)).map((e) => `${e.path}: ${e.message}`);
  assert.deepEqual(at({ http: [{ route: [route({ weight: 'half' })] }] }), ['spec.http[0].route[0].weight: must be of type integer: "string" (write a whole number)']);
  assert.deepEqual(at({ http: [{ match: [{ ignoreUriCase: 'true' }] }] }), ['spec.http[0].match[0].ignoreUriCase: must be of type boolean: "string" (write true without quotes)']);
  assert.deepEqual(at({ http: [{ timeout: 10 }] }), ['spec.http[0].timeout: must be of type string: "integer" (a duration is a string with a unit, e.g. "10s" or "10ms")']);
  assert.deepEqual(at({ hosts: [true] }), ['spec.hosts[0]: must be of type string: "boolean" (quote it: "true")']);
  assert.deepEqual(at({ http: [{ route: { destination: { host: 'a' } } }] }), ['spec.http[0].route: must be of type array: "object" (write a list: one "- item" line per entry, or [a, b])']);
  assert.deepEqual(at({ http: [{ fault: 'abort' }] }), ['spec.http[0].fault: must be of type object: "string" (write fields (key: value) under it, not a single value)']);
});

test('undefined properties (objects built in code) count as absent; non-finite numbers are refused', () => {
  assert.deepEqual(errorsOf(vs({ hosts: ['a'], gateways: undefined })), []);
  assert.deepEqual(errorsOf(dr({ host: undefined }), drGvk), [{ path: 'spec.host', message: 'Required value' }]);
  assert.deepEqual(errorsOf(vs({ http: [{ route: [route({ weight: Infinity })] }] })), [{ path: 'spec.http[0].route[0].weight', message: 'must be of type integer: "Infinity" (use a whole number)' }]);
});

test('int32 fields reject values outside the 32-bit range', () => {
  const [e] = errorsOf(vs({ http: [{ route: [route({ weight: 2 ** 31 })] }] }));
  assert.equal(e?.path, 'spec.http[0].route[0].weight');
  assert.match(e?.message ?? '', /must be a 32-bit integer/);
  assert.deepEqual(errorsOf(vs({ http: [{ route: [route({ weight: 2 ** 31 - 1 })] }] })), []);
});

test('enum values are checked and the supported values listed', () => {
  assert.deepEqual(errorsOf(dr({ host: 'reviews', trafficPolicy: { tls: { mode: 'STRICT' } } }), drGvk), [
    { path: 'spec.trafficPolicy.tls.mode', message: 'Unsupported value: "STRICT": supported values: "DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"' },
  ]);
});

test('required fields are reported at the missing field', () => {
  assert.deepEqual(errorsOf(dr({ subsets: [{ name: 'v1' }] }), drGvk), [{ path: 'spec.host', message: 'Required value' }]);
  assert.deepEqual(errorsOf(dr({ host: 'r', subsets: [{ labels: { version: 'v1' } }] }), drGvk), [{ path: 'spec.subsets[0].name', message: 'Required value' }]);
});

test('numeric bounds: minimum and maximum', () => {
  const codes = (c: number): unknown => dr({ host: 'r', trafficPolicy: { outlierDetection: { outlierDetectionHttpErrorCodes: [c] } } });
  assert.deepEqual(errorsOf(codes(99), drGvk), [
    { path: 'spec.trafficPolicy.outlierDetection.outlierDetectionHttpErrorCodes[0]', message: 'Invalid value: 99: should be greater than or equal to 100' },
  ]);
  assert.deepEqual(errorsOf(codes(600), drGvk), [
    { path: 'spec.trafficPolicy.outlierDetection.outlierDetectionHttpErrorCodes[0]', message: 'Invalid value: 600: should be less than or equal to 599' },
  ]);
  assert.deepEqual(errorsOf(codes(503), drGvk), []);
});

test('length and count bounds: maxLength, maxItems, minItems, maxProperties, minLength', () => {
  const long = 'x'.repeat(64);
  assert.deepEqual(errorsOf(dr({ host: 'r', workloadSelector: { matchLabels: { app: long } } }), drGvk), [
    { path: 'spec.workloadSelector.matchLabels[app]', message: 'Too long: may not be longer than 63 characters' },
  ]);
  const gw = (tls: object): unknown => ({
    apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'gw' },
    spec: { servers: [{ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['*'], tls }] },
  });
  const gwGvk = { ...NET, kind: 'Gateway' };
  assert.deepEqual(errorsOf(gw({ mode: 'SIMPLE', credentialNames: ['a', 'b', 'c'] }), gwGvk), [
    { path: 'spec.servers[0].tls.credentialNames', message: 'Too many: 3: must have at most 2 items' },
  ]);
  assert.deepEqual(errorsOf(gw({ mode: 'SIMPLE', credentialNames: [] }), gwGvk), [
    { path: 'spec.servers[0].tls.credentialNames', message: 'Invalid value: 0 items: should have at least 1 items' },
  ]);
  const wg = (spec: unknown): unknown => ({ apiVersion: 'networking.istio.io/v1', kind: 'WorkloadGroup', metadata: { name: 'wg' }, spec });
  const wgGvk = { ...NET, kind: 'WorkloadGroup' };
  const labels = Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`k${i}`, 'v']));
  assert.deepEqual(errorsOf(wg({ metadata: { labels }, template: {} }), wgGvk), [
    { path: 'spec.metadata.labels', message: 'Too many: 257: must have at most 256 properties' },
  ]);
  assert.deepEqual(errorsOf(wg({ template: {}, probe: { exec: { command: [''] } } }), wgGvk), [
    { path: 'spec.probe.exec.command[0]', message: 'Invalid value: "": should be at least 1 characters long' },
  ]);
});

test('patterns are RE2 and reported with the pattern', () => {
  const wg = (name: string): unknown => ({
    apiVersion: 'networking.istio.io/v1', kind: 'WorkloadGroup', metadata: { name: 'wg' },
    spec: { template: {}, probe: { httpGet: { port: 80, httpHeaders: [{ name, value: 'v' }] } } },
  });
  const wgGvk = { ...NET, kind: 'WorkloadGroup' };
  assert.deepEqual(errorsOf(wg('x-custom header'), wgGvk), [
    { path: 'spec.probe.httpGet.httpHeaders[0].name', message: `Invalid value: "x-custom header": should match '^[-_A-Za-z0-9]+$'` },
  ]);
  assert.deepEqual(errorsOf(wg('x-custom_header'), wgGvk), []);
});

test('oneOf "at most one of" conflicts name the fields', () => {
  assert.deepEqual(errorsOf(vs({ http: [{ match: [{ uri: { exact: '/a', prefix: '/b' } }] }] })), [
    { path: 'spec.http[0].match[0].uri', message: 'Invalid value: only one of "exact", "prefix", "regex" may be set, found "exact", "prefix"' },
  ]);
  assert.deepEqual(errorsOf(vs({ http: [{ match: [{ uri: { regex: '^/a' } }] }] })), []);
  assert.deepEqual(errorsOf(vs({ http: [{ corsPolicy: { allowOrigins: [{ exact: 'a', prefix: 'b' }] } }] })), [
    { path: 'spec.http[0].corsPolicy.allowOrigins[0]', message: 'Invalid value: only one of "exact", "prefix", "regex" may be set, found "exact", "prefix"' },
  ]);
  assert.deepEqual(errorsOf(vs({ http: [{ fault: { abort: { httpStatus: 503, grpcStatus: 'UNAVAILABLE' } } }] })), [
    { path: 'spec.http[0].fault.abort', message: 'Invalid value: only one of "httpStatus", "grpcStatus", "http2Error" may be set, found "httpStatus", "grpcStatus"' },
  ]);
  const lb = (x: object): unknown => dr({ host: 'r', trafficPolicy: { loadBalancer: x } });
  assert.deepEqual(errorsOf(lb({ simple: 'RANDOM', consistentHash: { useSourceIp: true } }), drGvk), [
    { path: 'spec.trafficPolicy.loadBalancer', message: 'Invalid value: only one of "simple", "consistentHash", "backendUtilization" may be set, found "simple", "consistentHash"' },
  ]);
  // allOf of two such groups inside consistentHash.
  assert.equal(errorsOf(lb({ consistentHash: { useSourceIp: true, httpHeaderName: 'x', ringHash: {}, maglev: {} } }), drGvk).length, 2);
});

const DROPPED = 'null is not a value for this field; the API server drops it, as if the field were not set';

test('nullable fields accept null; null in other fields is dropped (with a warning), as the API server does', () => {
  assert.deepEqual(validateStructure(dr({ host: 'r', trafficPolicy: { loadBalancer: { localityLbSetting: { enabled: null } } } }), drGvk), { errors: [], warnings: [] });
  // `trafficPolicy:` with nothing after it in YAML: accepted, the field is simply not set.
  assert.deepEqual(validateStructure(dr({ host: 'r', trafficPolicy: null }), drGvk), { errors: [], warnings: [{ path: 'spec.trafficPolicy', message: DROPPED }] });
  // A dropped required field is missing.
  assert.deepEqual(validateStructure(dr({ host: null }), drGvk), { errors: [{ path: 'spec.host', message: 'Required value' }], warnings: [{ path: 'spec.host', message: DROPPED }] });
  // List items are not dropped: a null item is a type error.
  assert.deepEqual(errorsOf(vs({ hosts: [null] })), [{ path: 'spec.hosts[0]', message: 'must be of type string: "null" (the value is empty: give it one, or remove the field)' }]);
  // Map values are dropped like fields; CEL rules do not see dropped fields.
  assert.deepEqual(validateStructure(dr({ host: 'r', workloadSelector: { matchLabels: { app: null } } }), drGvk).errors, []);
  const se = { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'se' }, spec: { hosts: ['a.example'], endpoints: null } };
  assert.deepEqual(validateStructure(se, { ...NET, kind: 'ServiceEntry' }), { errors: [], warnings: [{ path: 'spec.endpoints', message: DROPPED }] });
  // An unknown field is unknown whatever its value.
  assert.deepEqual(errorsOf(vs({ websocketUpgrade: null })), [{ path: 'spec.websocketUpgrade', message: 'unknown field "websocketUpgrade"' }]);
});

test('preserve-unknown-fields subtrees accept anything; list-type map rejects duplicate keys', () => {
  const ef = {
    apiVersion: 'networking.istio.io/v1alpha3', kind: 'EnvoyFilter', metadata: { name: 'ef' },
    spec: { configPatches: [{ applyTo: 'CLUSTER', patch: { operation: 'MERGE', value: { anything: { goes: [1, 'two', null] } } } }] },
  };
  assert.deepEqual(errorsOf(ef, { group: 'networking.istio.io', version: 'v1alpha3', kind: 'EnvoyFilter' }), []);
  const se = {
    apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'se' },
    spec: { hosts: ['a.example'], ports: [{ number: 80, name: 'http' }, { number: 81, name: 'http' }] },
  };
  assert.deepEqual(errorsOf(se, { ...NET, kind: 'ServiceEntry' }), [{ path: 'spec.ports[1]', message: 'Duplicate value: {"name":"http"}' }]);
});

test('int-or-string and format byte (synthetic schema nodes)', () => {
  const check = compileNode({ type: 'object', properties: { port: { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] }, body: { type: 'string', format: 'byte' } } });
  const run = (v: unknown): FieldError[] => {
    const out = { errors: [] as FieldError[], warnings: [] as FieldError[] };
    check(v, 'spec', out);
    return out.errors;
  };
  assert.deepEqual(run({ port: 8080, body: 'aGVsbG8=' }), []);
  assert.deepEqual(run({ port: 'http' }), []);
  assert.deepEqual(run({ port: true }), [{ path: 'spec.port', message: 'must be an integer or a string: "boolean"' }]);
  assert.deepEqual(run({ body: 'not base64!' }), [{ path: 'spec.body', message: 'Invalid value: "not base64!": must be base64-encoded (format byte)' }]);
});

test('CEL rule options: messageExpression, fieldPath, reason; transition rules skipped (synthetic schema)', () => {
  const check = compileNode({
    type: 'object',
    properties: { min: { type: 'integer' }, max: { type: 'integer' }, labels: { type: 'object', additionalProperties: { type: 'string' } } },
    'x-kubernetes-validations': [
      { rule: 'self.min <= self.max', messageExpression: "'min ' + string(self.min) + ' exceeds max ' + string(self.max)", fieldPath: '.max' },
      { rule: "!('forbidden' in self.labels)", message: 'the forbidden label may not be set', fieldPath: ".labels['forbidden']", reason: 'FieldValueForbidden' },
      { rule: 'self.min == oldSelf.min', message: 'min is immutable' },
    ],
  });
  const run = (v: unknown): FieldError[] => {
    const out = { errors: [] as FieldError[], warnings: [] as FieldError[] };
    check(v, 'spec', out);
    return out.errors;
  };
  assert.deepEqual(run({ min: 1, max: 2, labels: {} }), []);
  assert.deepEqual(run({ min: 3, max: 2, labels: { forbidden: 'x' } }), [
    { path: 'spec.max', message: 'Invalid value: min 3 exceeds max 2' },
    { path: 'spec.labels[forbidden]', message: 'Forbidden: the forbidden label may not be set' },
  ]);
});

test('metadata: name required and a DNS-1123 subdomain, namespace a label, labels and annotations checked', () => {
  assert.deepEqual(errorsOf(vs({}, {})), [{ path: 'metadata.name', message: 'Required value: name or generateName is required' }]);
  const { metadata: _m, ...noMeta } = vs({});
  assert.deepEqual(errorsOf(noMeta), [{ path: 'metadata.name', message: 'Required value: name or generateName is required' }]);
  assert.match(errorsOf(vs({}, { name: 'Reviews' }))[0]?.message ?? '', /^Invalid value: "Reviews": must be a lowercase RFC 1123 subdomain/);
  assert.equal(errorsOf(vs({}, { name: 'a'.repeat(254) }))[0]?.message, `Invalid value: "${'a'.repeat(60)}...": must be no more than 253 characters`);
  assert.deepEqual(errorsOf(vs({}, { name: 'reviews.v1-a' })), []);
  assert.equal(errorsOf(vs({}, { name: 'r', namespace: 'my.ns' }))[0]?.path, 'metadata.namespace');
  assert.deepEqual(errorsOf(vs({}, { name: 'r', labels: { 'app.kubernetes.io/name': 'reviews', version: '' } })), []);
  assert.deepEqual(errorsOf(vs({}, { name: 'r', labels: { app: 'a b' } })).map((e) => e.path), ['metadata.labels[app]']);
  assert.deepEqual(errorsOf(vs({}, { name: 'r', labels: { '-app': 'a' } })).map((e) => e.path), ['metadata.labels']);
  assert.deepEqual(errorsOf(vs({}, { name: 'r', labels: { app: 1 } })), [{ path: 'metadata.labels[app]', message: 'must be of type string: "integer" (quote it: "1")' }]);
  assert.deepEqual(errorsOf(vs({}, { name: 'r', annotations: { 'x/y': 'any text is fine' } })), []);
  assert.deepEqual(errorsOf(vs({}, { name: 'r', nmae: 'x' })), [{ path: 'metadata.nmae', message: 'unknown field "nmae" (did you mean "name"?)' }]);
  // kubectl output carries creationTimestamp: null; that is fine.
  assert.deepEqual(errorsOf(vs({}, { name: 'r', creationTimestamp: null, generation: 2 })), []);
  // The metadata check can be left to the caller.
  assert.deepEqual(validateStructure(vs({}, { name: 'Reviews' }), vsGvk, { metadata: false }).errors, []);
});

test('dropNulls returns the object as the API server stores it, sharing unchanged parts', () => {
  const input = dr({ host: 'r', trafficPolicy: null, subsets: [{ name: 'v1', labels: { version: null, app: 'a' } }, { name: 'v2' }], exportTo: null });
  const out = dropNulls(input, drGvk) as { spec: { subsets: unknown[] } };
  assert.deepEqual(out, dr({ host: 'r', subsets: [{ name: 'v1', labels: { app: 'a' } }, { name: 'v2' }] }));
  assert.equal(out.spec.subsets[1], (input['spec'] as { subsets: unknown[] }).subsets[1]);
  assert.equal((input['spec'] as Record<string, unknown>)['trafficPolicy'], null, 'the input is not mutated');
  const clean = dr({ host: 'r', trafficPolicy: { loadBalancer: { localityLbSetting: { enabled: null } } } });
  assert.equal(dropNulls(clean, drGvk), clean, 'nothing to drop: the same object');
  assert.equal(dropNulls(clean, { ...NET, kind: 'Nope' }), clean);
});

test('CEL errors further down do not hide the rules above them; structural errors do', () => {
  const se = (spec: unknown): unknown => ({ apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'se' }, spec });
  const seGvk = { ...NET, kind: 'ServiceEntry' };
  assert.deepEqual(errorsOf(se({ hosts: ['*'], endpoints: [{ address: '10.0.0.1' }] }), seGvk), [
    { path: 'spec.hosts[0]', message: 'Invalid value: hostname cannot be wildcard' },
    { path: 'spec', message: 'Invalid value: NONE mode cannot set endpoints' },
  ]);
  assert.deepEqual(errorsOf(se({ hosts: [1], endpoints: [{ address: '10.0.0.1' }] }), seGvk), [
    { path: 'spec.hosts[0]', message: 'must be of type string: "integer" (quote it: "1")' },
  ]);
});

test('deeply nested free-form values neither overflow the stack nor fail a valid resource', () => {
  const deep: unknown = JSON.parse('['.repeat(20000) + ']'.repeat(20000));
  const te = { apiVersion: 'extensions.istio.io/v1alpha1', kind: 'TrafficExtension', metadata: { name: 'x' }, spec: { wasm: { url: 'oci://r/p', pluginConfig: { a: deep } } } };
  assert.deepEqual(validateStructure(te, { group: 'extensions.istio.io', version: 'v1alpha1', kind: 'TrafficExtension' }).errors, []);
});

test('status is not validated (the API server drops it on create)', () => {
  assert.deepEqual(errorsOf({ ...vs({}), status: { anything: true } }), []);
});

test('an unknown group, kind or version is an error at kind', () => {
  assert.deepEqual(validateStructure(vs({}), { ...NET, kind: 'VirtualServic' }).errors, [
    { path: 'kind', message: 'no matches for kind "VirtualServic" in version "networking.istio.io/v1"' },
  ]);
  assert.match(validateStructure(vs({}), { group: 'networking.istio.io', version: 'v2', kind: 'VirtualService' }).errors[0]?.message ?? '', /served versions: v1, v1alpha3, v1beta1/);
});

test('crdKinds lists every Istio CRD kind with its plural, scope and served versions (storage first)', () => {
  const kinds = crdKinds();
  assert.equal(kinds.length, 15);
  const vsKind = kinds.find((k) => k.kind === 'VirtualService');
  assert.deepEqual(vsKind, { group: 'networking.istio.io', kind: 'VirtualService', plural: 'virtualservices', scope: 'Namespaced', versions: ['v1', 'v1alpha3', 'v1beta1'] });
  assert.deepEqual(kinds.find((k) => k.kind === 'EnvoyFilter')?.versions, ['v1alpha3']);
  for (const k of kinds) for (const version of k.versions) assert.doesNotThrow(() => validateStructure({}, { group: k.group, version, kind: k.kind }));
});

test('validateStructure never throws on arbitrary JSON, for every kind and version', () => {
  const gvks = crdKinds().flatMap((k) => k.versions.map((version) => ({ group: k.group, version, kind: k.kind })));
  const doc = fc.record({ apiVersion: fc.string(), kind: fc.string(), metadata: fc.jsonValue(), spec: fc.jsonValue() }, { requiredKeys: [] });
  fc.assert(
    fc.property(fc.constantFrom(...gvks), fc.oneof(fc.jsonValue(), doc), (gvk, value) => {
      const r = validateStructure(value, gvk);
      assert.ok(Array.isArray(r.errors) && Array.isArray(r.warnings));
    }),
    { numRuns: 3000, seed: 20261121 },
  );
});
