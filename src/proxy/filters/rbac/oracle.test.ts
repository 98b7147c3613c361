// Differential property test: random AuthorizationPolicies and random requests, decided twice — by the control plane's
// translation + the proxy's RBAC engine (through the real protos), and by a direct reading of Istio's documented
// semantics written here — and the two must agree. Also: every random policy set translates, encodes and compiles.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Resource } from '../../../config/api/resource.ts';
import type { AuthorizationPolicySpec, Rule } from '../../../config/api/security/authorization-policy.ts';
import { buildWorkloadSecurity } from '../../../discovery/translate/security/index.ts';
import { decodeAny, encodeAny } from '../../../xds/protos.ts';
import type { AuthzRequest } from './request.ts';
import { rbacFilterFromTypedConfig } from './rbac-filter.ts';

type Json = Record<string, unknown>;

// Small vocabularies so that random requests hit random rules often.
const paths = ['/', '/admin', '/admin/users', '/api/v1', '/api/v2/items', '/public'];
const pathPatterns = ['/admin', '/admin/*', '/api/*', '*/items', '*', '/public'];
const methods = ['GET', 'POST', 'DELETE'];
const ports = [8000, 9000];
const peers = ['cluster.local/ns/foo/sa/a', 'cluster.local/ns/bar/sa/b', 'cluster.local/ns/bar/sa/c'];
const principalPatterns = ['cluster.local/ns/foo/sa/a', 'cluster.local/ns/bar/*', '*/sa/c', '*'];
const namespacePatterns = ['foo', 'bar', 'b*', '*'];
const ips = ['10.0.0.1', '10.1.2.3', '192.168.0.9'];
const ipBlocks = ['10.0.0.0/16', '192.168.0.0/24', '10.1.2.3'];
const jwtPrincipals = ['https://iss/alice', 'https://iss/bob', 'https://other/alice'];
const requestPrincipalPatterns = ['https://iss/alice', 'https://iss/*', '*/alice', '*'];
const tenants = ['t1', 't2'];

const some = <T>(xs: readonly T[]) => fc.uniqueArray(fc.constantFrom(...xs), { minLength: 1, maxLength: 2 });
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

const source = fc.record({
  principals: maybe(some(principalPatterns)), notPrincipals: maybe(some(principalPatterns)),
  namespaces: maybe(some(namespacePatterns)), notNamespaces: maybe(some(namespacePatterns)),
  ipBlocks: maybe(some(ipBlocks)), notIpBlocks: maybe(some(ipBlocks)),
  requestPrincipals: maybe(some(requestPrincipalPatterns)), notRequestPrincipals: maybe(some(requestPrincipalPatterns)),
}, { requiredKeys: [] }).filter((s) => Object.values(s).some((v) => v !== undefined));
const operation = fc.record({
  paths: maybe(some(pathPatterns)), notPaths: maybe(some(pathPatterns)),
  methods: maybe(some(methods)), notMethods: maybe(some(methods)),
  ports: maybe(some(ports.map(String))), notPorts: maybe(some(ports.map(String))),
}, { requiredKeys: [] }).filter((o) => Object.values(o).some((v) => v !== undefined));
const condition = fc.oneof(
  fc.record({ key: fc.constant('request.headers[x-tenant]'), values: some(tenants) }),
  fc.record({ key: fc.constant('request.headers[x-tenant]'), notValues: some(tenants) }),
  fc.record({ key: fc.constant('source.ip'), values: some(ipBlocks) }),
  fc.record({ key: fc.constant('destination.port'), notValues: some(ports.map(String)) }),
);
const rule: fc.Arbitrary<Rule> = fc.record({
  from: maybe(fc.array(fc.record({ source }), { minLength: 1, maxLength: 2 })),
  to: maybe(fc.array(fc.record({ operation }), { minLength: 1, maxLength: 2 })),
  when: maybe(fc.array(condition, { minLength: 1, maxLength: 2 })),
}, { requiredKeys: [] }) as fc.Arbitrary<Rule>;
const policy: fc.Arbitrary<AuthorizationPolicySpec> = fc.record({
  action: fc.constantFrom('ALLOW' as const, 'DENY' as const, 'AUDIT' as const),
  rules: fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 6, arbitrary: fc.array(rule, { minLength: 1, maxLength: 3 }) }),
}, { requiredKeys: ['action'] }).filter((p) => p.action === 'ALLOW' || p.rules !== undefined);

const request = fc.record({
  path: fc.constantFrom(...paths), method: fc.constantFrom(...methods), port: fc.constantFrom(...ports),
  peer: maybe(fc.constantFrom(...peers)), ip: fc.constantFrom(...ips), jwt: maybe(fc.constantFrom(...jwtPrincipals)), tenant: maybe(fc.constantFrom(...tenants)),
});
type Req = { path: string; method: string; port: number; peer: string | undefined; ip: string; jwt: string | undefined; tenant: string | undefined };

// ---- Istio's semantics, read directly from its documentation ----
const wild = (pattern: string, v: string): boolean =>
  pattern === '*' ? v !== '' : pattern.startsWith('*') ? v.endsWith(pattern.slice(1)) : pattern.endsWith('*') ? v.startsWith(pattern.slice(0, -1)) : v === pattern;
function inCidr(block: string, ip: string): boolean {
  const [base, len] = block.includes('/') ? [block.split('/')[0]!, Number(block.split('/')[1])] : [block, 32];
  const n = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const mask = len === 0 ? 0 : (2 ** 32 - 2 ** (32 - len));
  return (n(base) & mask) >>> 0 === (n(ip) & mask) >>> 0;
}
/** A field with values / notValues: absent → true; values → any matches; notValues → none matches. */
function field(values: string[] | undefined, notValues: string[] | undefined, test: (pattern: string) => boolean): boolean {
  if (values && !values.some(test)) return false;
  if (notValues && notValues.some(test)) return false;
  return true;
}
function sourceMatches(s: Json, r: Req): boolean {
  const get = (k: string) => s[k] as string[] | undefined;
  const ns = r.peer?.split('/')[2];
  return (
    field(get('principals'), get('notPrincipals'), (p) => r.peer !== undefined && wild(p, r.peer)) &&
    field(get('namespaces'), get('notNamespaces'), (p) => ns !== undefined && wild(p, ns)) &&
    field(get('ipBlocks'), get('notIpBlocks'), (b) => inCidr(b, r.ip)) &&
    field(get('requestPrincipals'), get('notRequestPrincipals'), (p) => r.jwt !== undefined && wild(p, r.jwt))
  );
}
function operationMatches(o: Json, r: Req): boolean {
  const get = (k: string) => o[k] as string[] | undefined;
  return (
    field(get('paths'), get('notPaths'), (p) => wild(p, r.path)) &&
    field(get('methods'), get('notMethods'), (m) => m === r.method) &&
    field(get('ports'), get('notPorts'), (p) => Number(p) === r.port)
  );
}
function conditionMatches(c: Json, r: Req): boolean {
  const values = c['values'] as string[] | undefined;
  const notValues = c['notValues'] as string[] | undefined;
  switch (c['key']) {
    case 'request.headers[x-tenant]': return field(values, notValues, (v) => r.tenant !== undefined && wild(v, r.tenant));
    case 'source.ip': return field(values, notValues, (b) => inCidr(b, r.ip));
    case 'destination.port': return field(values, notValues, (p) => Number(p) === r.port);
  }
  throw new Error(`oracle: unknown key ${String(c['key'])}`);
}
function ruleMatches(rule: Rule, r: Req): boolean {
  const from = !rule.from || rule.from.some((f) => sourceMatches(f.source as Json, r));
  const to = !rule.to || rule.to.some((t) => operationMatches(t.operation as Json, r));
  const when = (rule.when ?? []).every((c) => conditionMatches(c as unknown as Json, r));
  return from && to && when;
}
function oracle(policies: AuthorizationPolicySpec[], r: Req): boolean {
  if (policies.some((p) => p.action === 'DENY' && (p.rules ?? []).some((rule) => ruleMatches(rule, r)))) return false;
  const allows = policies.filter((p) => p.action === 'ALLOW');
  if (allows.length === 0) return true;
  return allows.some((p) => (p.rules ?? []).some((rule) => ruleMatches(rule, r)));
}

// ---- Weft: translation → protos → engine ----
function engine(policies: AuthorizationPolicySpec[]): (r: Req) => boolean {
  const configs: Resource[] = policies.map((spec, i) => ({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: `p${i}`, namespace: 'foo' }, spec: spec as Json }));
  const sec = buildWorkloadSecurity({ workload: { namespace: 'foo', labels: {} }, configs, rootNamespace: 'istio-system', trustDomain: 'cluster.local' });
  const filters = sec.httpFilters.map((f) => {
    const tc = f['typed_config'] as Json;
    return rbacFilterFromTypedConfig(decodeAny(encodeAny(String(tc['@type']), tc)));
  });
  return (r) => {
    const req: AuthzRequest = {
      method: r.method, path: r.path, host: 'httpbin.foo', headers: r.tenant ? ['x-tenant', r.tenant] : [], sourceIp: r.ip, destinationPort: r.port,
      ...(r.peer ? { peerPrincipal: `spiffe://${r.peer}` } : {}),
      ...(r.jwt ? { jwt: { principal: r.jwt, claims: { iss: r.jwt.slice(0, r.jwt.lastIndexOf('/')), sub: r.jwt.slice(r.jwt.lastIndexOf('/') + 1) }, audiences: [], presenter: '' } } : {}),
    };
    return filters.every((f) => f(req).allowed);
  };
}

test('property: translation + engine decide exactly as Istio documents (random policies × random requests)', () => {
  fc.assert(
    fc.property(fc.array(policy, { minLength: 1, maxLength: 3 }), fc.array(request, { minLength: 1, maxLength: 12 }), (policies, requests) => {
      const decide = engine(policies);
      for (const r of requests) assert.equal(decide(r), oracle(policies, r), `request ${JSON.stringify(r)} under ${JSON.stringify(policies)}`);
    }),
    { numRuns: 150 },
  );
});
