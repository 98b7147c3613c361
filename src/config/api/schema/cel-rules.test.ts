// One failing object per distinct CEL rule in Istio's CRDs (by message), each checked for the path and the rule's
// message, plus the same object fixed to show the rule passes. A coverage test keeps the table complete when the
// CRDs are regenerated with new rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { validateStructure } from './structural.ts';
import type { CrdData, SchemaNode } from './types.ts';

interface Case {
  /** The rule's message, as in the CRD. */
  rule: string;
  kind: string;
  apiVersion: string;
  spec: unknown;
  path: string;
  /** A variant of `spec` the rule accepts. */
  fixed?: unknown;
}

const NET = 'networking.istio.io/v1';
const SEC = 'security.istio.io/v1';
const TEL = 'telemetry.istio.io/v1';
const EXT = 'extensions.istio.io/v1alpha1';
const gwRef = { kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'gw' };
const server = (tls: object): object => ({ servers: [{ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['*'], tls: { mode: 'SIMPLE', ...tls } }] });
const cert = { privateKey: '/k.pem', serverCertificate: '/c.pem' };

const CASES: Case[] = [
  { rule: 'only one of targetRefs or selector can be set', kind: 'Telemetry', apiVersion: TEL, spec: { selector: { matchLabels: { app: 'a' } }, targetRefs: [gwRef] }, path: 'spec', fixed: { targetRefs: [gwRef] } },
  { rule: 'exactly one of wasm or lua must be set', kind: 'TrafficExtension', apiVersion: EXT, spec: {}, path: 'spec', fixed: { lua: { inlineCode: 'function envoy_on_request(h) end' } } },
  { rule: 'wildcard not allowed in label key match', kind: 'DestinationRule', apiVersion: NET, spec: { host: 'a', workloadSelector: { matchLabels: { 'a*': 'b' } } }, path: 'spec.workloadSelector.matchLabels', fixed: { host: 'a', workloadSelector: { matchLabels: { a: 'b' } } } },
  { rule: 'key must not be empty', kind: 'DestinationRule', apiVersion: NET, spec: { host: 'a', workloadSelector: { matchLabels: { '': 'b' } } }, path: 'spec.workloadSelector.matchLabels' },
  { rule: 'wildcard not allowed in label value match', kind: 'DestinationRule', apiVersion: NET, spec: { host: 'a', workloadSelector: { matchLabels: { app: 'b*' } } }, path: 'spec.workloadSelector.matchLabels[app]' },
  { rule: 'cross namespace referencing is not currently supported', kind: 'WasmPlugin', apiVersion: EXT, spec: { url: 'oci://r/p', targetRef: { ...gwRef, namespace: 'other' } }, path: 'spec.targetRef.namespace', fixed: { url: 'oci://r/p', targetRef: gwRef } },
  { rule: 'url must have schema one of [http, https, file, oci]', kind: 'WasmPlugin', apiVersion: EXT, spec: { url: 'ftp://r/p' }, path: 'spec.url', fixed: { url: 'ghcr.io/istio/plugin:1.0' } },
  { rule: 'value may only be set when valueFrom is INLINE', kind: 'WasmPlugin', apiVersion: EXT, spec: { url: 'oci://r/p', vmConfig: { env: [{ name: 'A', valueFrom: 'HOST', value: 'x' }] } }, path: 'spec.vmConfig.env[0]', fixed: { url: 'oci://r/p', vmConfig: { env: [{ name: 'A', valueFrom: 'INLINE', value: 'x' }] } } },
  { rule: 'must be a valid duration greater than 1ms', kind: 'VirtualService', apiVersion: NET, spec: { http: [{ timeout: '500us' }] }, path: 'spec.http[0].timeout', fixed: { http: [{ timeout: '1.5s' }] } },
  { rule: 'only one of targetRefs or workloadSelector can be set', kind: 'EnvoyFilter', apiVersion: 'networking.istio.io/v1alpha3', spec: { workloadSelector: { labels: { app: 'a' } }, targetRefs: [gwRef] }, path: 'spec', fixed: { targetRefs: [gwRef] } },
  { rule: 'only support waypointMatch when context is WAYPOINT', kind: 'EnvoyFilter', apiVersion: 'networking.istio.io/v1alpha3', spec: { configPatches: [{ applyTo: 'HTTP_FILTER', match: { context: 'SIDECAR_INBOUND', waypoint: {} } }] }, path: 'spec.configPatches[0].match', fixed: { configPatches: [{ applyTo: 'HTTP_FILTER', match: { context: 'WAYPOINT', waypoint: {} } }] } },
  { rule: 'port must be between 1-65535', kind: 'ServiceEntry', apiVersion: NET, spec: { hosts: ['a.example'], ports: [{ number: 0, name: 'http' }] }, path: 'spec.ports[0].number', fixed: { hosts: ['a.example'], ports: [{ number: 65535, name: 'http' }] } },
  { rule: 'port must be between 1-65535', kind: 'ServiceEntry', apiVersion: NET, spec: { hosts: ['a.example'], resolution: 'STATIC', endpoints: [{ address: '10.0.0.1', ports: { http: 70000 } }] }, path: 'spec.endpoints[0].ports[http]' },
  { rule: 'port must be between 1-65535', kind: 'PeerAuthentication', apiVersion: SEC, spec: { selector: { matchLabels: { app: 'a' } }, portLevelMtls: { '0': { mode: 'DISABLE' } } }, path: 'spec.portLevelMtls', fixed: { selector: { matchLabels: { app: 'a' } }, portLevelMtls: { '8080': { mode: 'DISABLE' } } } },
  { rule: 'wildcard is not supported in selector', kind: 'Sidecar', apiVersion: NET, spec: { workloadSelector: { labels: { app: '*' } } }, path: 'spec.workloadSelector.labels[app]', fixed: { workloadSelector: { labels: { app: 'reviews' } } } },
  { rule: 'only one of credentialNames or tlsCertificates can be set', kind: 'Gateway', apiVersion: NET, spec: server({ credentialNames: ['a'], tlsCertificates: [cert] }), path: 'spec.servers[0].tls', fixed: server({ tlsCertificates: [cert] }) },
  { rule: 'only one of credentialName or credentialNames can be set', kind: 'Gateway', apiVersion: NET, spec: server({ credentialName: 'a', credentialNames: ['b'] }), path: 'spec.servers[0].tls', fixed: server({ credentialName: 'a' }) },
  // Istio's rule under this message tests credentialNames + tlsCertificates (not credentialName): we follow the rule.
  { rule: 'only one of credentialName or tlsCertificates can be set', kind: 'Gateway', apiVersion: NET, spec: server({ credentialNames: ['a'], tlsCertificates: [cert] }), path: 'spec.servers[0].tls', fixed: server({ credentialName: 'a', tlsCertificates: [cert] }) },
  { rule: 'only one of WorkloadSelector or Endpoints can be set', kind: 'ServiceEntry', apiVersion: NET, spec: { hosts: ['a.example'], resolution: 'STATIC', workloadSelector: { labels: { app: 'a' } }, endpoints: [{ address: '10.0.0.1' }] }, path: 'spec' },
  { rule: 'CIDR addresses are allowed only for NONE/STATIC resolution types', kind: 'ServiceEntry', apiVersion: NET, spec: { hosts: ['a.example'], addresses: ['10.0.0.0/8'], resolution: 'DNS' }, path: 'spec', fixed: { hosts: ['a.example'], addresses: ['10.0.0.0/8'], resolution: 'STATIC' } },
  { rule: 'NONE mode cannot set endpoints', kind: 'ServiceEntry', apiVersion: NET, spec: { hosts: ['a.example'], endpoints: [{ address: '10.0.0.1' }] }, path: 'spec', fixed: { hosts: ['a.example'], resolution: 'STATIC', endpoints: [{ address: '10.0.0.1' }] } },
  { rule: 'DNS_ROUND_ROBIN mode cannot have multiple endpoints', kind: 'ServiceEntry', apiVersion: NET, spec: { hosts: ['a.example'], resolution: 'DNS_ROUND_ROBIN', endpoints: [{ address: 'a.example' }, { address: 'b.example' }] }, path: 'spec', fixed: { hosts: ['a.example'], resolution: 'DNS_ROUND_ROBIN', endpoints: [{ address: 'a.example' }] } },
  { rule: 'Address is required', kind: 'WorkloadEntry', apiVersion: NET, spec: {}, path: 'spec', fixed: { network: 'net1' } },
  { rule: 'UDS may not include ports', kind: 'WorkloadEntry', apiVersion: NET, spec: { address: 'unix:///var/run/app.sock', ports: { http: 80 } }, path: 'spec', fixed: { address: 'unix:///var/run/app.sock' } },
  { rule: 'UDS must be an absolute path or abstract socket', kind: 'WorkloadEntry', apiVersion: NET, spec: { address: 'unix://app.sock' }, path: 'spec.address', fixed: { address: 'unix://@app' } },
  { rule: 'UDS may not be a dir', kind: 'WorkloadEntry', apiVersion: NET, spec: { address: 'unix:///var/run/' }, path: 'spec.address' },
  { rule: 'port name must be valid', kind: 'WorkloadEntry', apiVersion: NET, spec: { address: '10.0.0.1', ports: { '-http': 80 } }, path: 'spec.ports', fixed: { address: '10.0.0.1', ports: { 'http-web': 80 } } },
  { rule: 'hostname cannot be wildcard', kind: 'ServiceEntry', apiVersion: NET, spec: { hosts: ['*'] }, path: 'spec.hosts[0]', fixed: { hosts: ['*.example.com'] } },
  { rule: 'port number cannot be duplicated', kind: 'ServiceEntry', apiVersion: NET, spec: { hosts: ['a.example'], ports: [{ number: 80, name: 'a' }, { number: 80, name: 'b' }] }, path: 'spec.ports', fixed: { hosts: ['a.example'], ports: [{ number: 80, name: 'a' }, { number: 81, name: 'b' }] } },
  { rule: 'scheme must be one of [HTTP, HTTPS]', kind: 'WorkloadGroup', apiVersion: NET, spec: { template: {}, probe: { httpGet: { port: 80, scheme: 'FTP' } } }, path: 'spec.probe.httpGet.scheme', fixed: { template: {}, probe: { httpGet: { port: 80, scheme: 'HTTPS' } } } },
  { rule: 'Cannot set serviceAccounts with namespaces or principals', kind: 'AuthorizationPolicy', apiVersion: SEC, spec: { rules: [{ from: [{ source: { serviceAccounts: ['ns/sa'], namespaces: ['ns'] } }] }] }, path: 'spec.rules[0].from[0].source', fixed: { rules: [{ from: [{ source: { serviceAccounts: ['ns/sa'] } }] }] } },
  { rule: 'portLevelMtls requires selector', kind: 'PeerAuthentication', apiVersion: SEC, spec: { portLevelMtls: { '8080': { mode: 'DISABLE' } } }, path: 'spec' },
  { rule: 'only one of jwks or jwksUri can be set', kind: 'RequestAuthentication', apiVersion: SEC, spec: { jwtRules: [{ issuer: 'i', jwks: '{}', jwksUri: 'https://i/jwks' }] }, path: 'spec.jwtRules[0]', fixed: { jwtRules: [{ issuer: 'i', jwksUri: 'https://i/jwks' }] } },
  { rule: 'url must have scheme http:// or https://', kind: 'RequestAuthentication', apiVersion: SEC, spec: { jwtRules: [{ issuer: 'i', jwksUri: 'ftp://i/jwks' }] }, path: 'spec.jwtRules[0].jwksUri' },
  { rule: 'value must be set when operation is UPSERT', kind: 'Telemetry', apiVersion: TEL, spec: { metrics: [{ overrides: [{ tagOverrides: { a: { operation: 'UPSERT', value: '' } } }] }] }, path: 'spec.metrics[0].overrides[0].tagOverrides[a]', fixed: { metrics: [{ overrides: [{ tagOverrides: { a: { operation: 'UPSERT', value: 'x' } } }] }] } },
  { rule: 'value must not be set when operation is REMOVE', kind: 'Telemetry', apiVersion: TEL, spec: { metrics: [{ overrides: [{ tagOverrides: { a: { operation: 'REMOVE', value: 'x' } } }] }] }, path: 'spec.metrics[0].overrides[0].tagOverrides[a]', fixed: { metrics: [{ overrides: [{ tagOverrides: { a: { operation: 'REMOVE' } } }] }] } },
];

function run(c: { kind: string; apiVersion: string }, spec: unknown): { path: string; message: string }[] {
  const [group = '', version = ''] = c.apiVersion.split('/');
  const obj = { apiVersion: c.apiVersion, kind: c.kind, metadata: { name: 'x', namespace: 'default' }, spec };
  return validateStructure(obj, { group, version, kind: c.kind }).errors;
}

for (const c of CASES) {
  test(`CEL rule "${c.rule}" (${c.kind} ${c.path})`, () => {
    const errors = run(c, c.spec);
    assert.ok(
      errors.some((e) => e.path === c.path && e.message === `Invalid value: ${c.rule}`),
      `expected ${c.path}: Invalid value: ${c.rule}; got ${JSON.stringify(errors)}`,
    );
    if (c.fixed !== undefined) assert.deepEqual(run(c, c.fixed), []);
  });
}

test('every distinct CEL rule message in the CRDs has a case above', () => {
  const data = JSON.parse(readFileSync(new URL('./crds.gen.json', import.meta.url), 'utf8')) as CrdData;
  const messages = new Set<string>();
  const walk = (s: SchemaNode): void => {
    for (const r of s['x-kubernetes-validations'] ?? []) messages.add(r.message ?? r.rule);
    for (const child of Object.values(s.properties ?? {})) walk(child);
    if (s.items) walk(s.items);
    if (typeof s.additionalProperties === 'object') walk(s.additionalProperties);
  };
  data.schemas.forEach(walk);
  const covered = new Set(CASES.map((c) => c.rule));
  assert.deepEqual([...messages].filter((m) => !covered.has(m)), []);
});

test('a rule that cannot be evaluated reports the evaluation error and the rule message', () => {
  const errors = run({ kind: 'VirtualService', apiVersion: NET }, { http: [{ timeout: '10 seconds' }] });
  assert.equal(errors.length, 1);
  assert.equal(errors[0]?.path, 'spec.http[0].timeout');
  assert.match(errors[0]?.message ?? '', /invalid duration "10 seconds".* evaluating rule: must be a valid duration greater than 1ms/);
  // Go's ParseDuration rules, not JavaScript's: a unit is required, "0" alone is fine but then below 1ms.
  assert.match(run({ kind: 'VirtualService', apiVersion: NET }, { http: [{ timeout: '10' }] })[0]?.message ?? '', /missing unit/);
  assert.equal(run({ kind: 'VirtualService', apiVersion: NET }, { http: [{ timeout: '0' }] })[0]?.message, 'Invalid value: must be a valid duration greater than 1ms');
  assert.deepEqual(run({ kind: 'VirtualService', apiVersion: NET }, { http: [{ timeout: '1h2m3.5s' }] }), []);
});

test('accessing an absent field inside a rule is an evaluation error, as in the API server', () => {
  const errors = run({ kind: 'Telemetry', apiVersion: TEL }, { metrics: [{ overrides: [{ tagOverrides: { a: { operation: 'UPSERT' } } }] }] });
  assert.equal(errors.length, 1);
  assert.match(errors[0]?.message ?? '', /evaluating rule: value must be set when operation is UPSERT/);
});
