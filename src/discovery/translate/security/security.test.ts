// Security translation: every AuthorizationPolicy sample of Istio's builder tests is accepted, translated, encodes with
// the real Envoy protos and matches its golden file (WEFT_UPDATE_GOLDEN=1 rewrites); plus the semantics goldens
// cannot show at a glance: filter order, TCP narrowing, JWT requirements, PeerAuthentication precedence.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { samplePath } from '../../../../test/samples.ts';
import { readEnv } from '../../../core/env.ts';
import type { Resource } from '../../../config/api/resource.ts';
import { validateResource } from '../../../config/api/validate.ts';
import { decodeAny, encodeAny } from '../../../xds/protos.ts';
import type { Json } from '../common.ts';
import { buildWorkloadSecurity, type ExtensionProvider } from './index.ts';

const here = dirname(fileURLToPath(import.meta.url));
const workload = { namespace: 'foo', labels: { app: 'httpbin', version: 'v1' } };
const providers: ExtensionProvider[] = [
  { name: 'default', envoyExtAuthzHttp: { service: 'foo/ext-authz.foo.svc.cluster.local', port: 8000, includeRequestHeadersInCheck: ['x-ext-authz'], headersToUpstreamOnAllow: ['x-ext-authz-check-result'] } },
];

function load(file: string): Resource[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Resource | null).filter((d): d is Resource => d !== null);
}

/** Encode through the real protos and decode again: what a proxy receives. */
function wire(filters: Json[]): unknown[] {
  return filters.map((f) => ({ name: f['name'], typed_config: decodeAny(encodeAny(String((f['typed_config'] as Json)['@type']), f['typed_config'] as Json)) }));
}

function golden(name: string, value: unknown): void {
  const file = join(here, 'testdata', name);
  const text = `${JSON.stringify(value, null, 2)}\n`;
  if (readEnv().updateGolden || !existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    if (!readEnv().updateGolden) assert.fail(`golden file ${name} did not exist; written now — review it and rerun`);
    return;
  }
  assert.equal(text, readFileSync(file, 'utf8'), `golden ${name} differs; rerun with WEFT_UPDATE_GOLDEN=1 and review the diff`);
}

for (const dir of ['http', 'tcp']) {
  const files = readdirSync(samplePath(`authz-policies/${dir}`)).filter((f) => f.endsWith('.yaml')).sort();
  test(`authz-policies/${dir}: every sample is accepted, translated, encodes, and matches its golden`, () => {
    assert.ok(files.length > 0);
    for (const f of files) {
      const docs = load(samplePath(`authz-policies/${dir}/${f}`));
      for (const d of docs) {
        const v = validateResource(d, { file: f, document: 0 });
        assert.deepEqual(v.errors, [], `${f}: ${JSON.stringify(v.errors)}`);
      }
      const sec = buildWorkloadSecurity({ workload, configs: docs, rootNamespace: 'istio-system', trustDomain: 'cluster.local', extensionProviders: providers });
      assert.equal(sec.authorizationPolicies.length, docs.length, `${f}: every policy selects the httpbin v1 workload`);
      golden(`${dir}/${f.replace(/-in\.yaml$/, '.json')}`, { http: wire(sec.httpFilters), tcp: wire(sec.tcpFilters), notes: sec.notes });
    }
  });
}

const ap = (name: string, spec: Json, ns = 'foo', annotations?: Record<string, string>): Resource => ({
  apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name, namespace: ns, ...(annotations ? { annotations } : {}) }, spec,
});
const build = (configs: Resource[], extra: Partial<Parameters<typeof buildWorkloadSecurity>[0]> = {}) =>
  buildWorkloadSecurity({ workload, configs, rootNamespace: 'istio-system', trustDomain: 'cluster.local', extensionProviders: providers, ...extra });
const rbacActions = (filters: Json[]): string[] =>
  filters.map((f) => {
    const tc = f['typed_config'] as Json;
    if (f['name'] !== 'envoy.filters.http.rbac' && f['name'] !== 'envoy.filters.network.rbac') return String(f['name']);
    const rules = tc['rules'] as Json | undefined;
    return rules ? String(rules['action'] ?? 'ALLOW') : tc['shadow_rules'] ? 'SHADOW' : 'NONE';
  });

test('filter order is CUSTOM, AUDIT, DENY, ALLOW; no ALLOW policy means no ALLOW filter', () => {
  const configs = [
    ap('allow', { rules: [{ to: [{ operation: { paths: ['/ok'] } }] }] }),
    ap('deny', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin'] } }] }] }),
    ap('audit', { action: 'AUDIT', rules: [{}] }),
    ap('custom', { action: 'CUSTOM', provider: { name: 'default' }, rules: [{ to: [{ operation: { paths: ['/ext'] } }] }] }),
  ];
  assert.deepEqual(rbacActions(build(configs).httpFilters), ['SHADOW', 'envoy.filters.http.ext_authz', 'LOG', 'DENY', 'ALLOW']);
  assert.deepEqual(rbacActions(build(configs.slice(1, 2)).httpFilters), ['DENY']);
  assert.deepEqual(build([]).httpFilters, []);
});

test('spec: {} denies everything: an ALLOW filter whose only policy matches nothing', () => {
  const f = build([ap('deny-all', {})]).httpFilters;
  assert.equal(f.length, 1);
  const policies = ((f[0]!['typed_config'] as Json)['rules'] as Json)['policies'] as Record<string, Json>;
  assert.deepEqual(Object.keys(policies), ['ns[foo]-policy[deny-all]-rule[0]']);
  assert.deepEqual(policies['ns[foo]-policy[deny-all]-rule[0]'], { permissions: [{ not_rule: { any: true } }], principals: [{ not_id: { any: true } }] });
});

test('selection: namespace, selector, root namespace, other namespaces and targetRefs', () => {
  const configs = [
    ap('ns-wide', { rules: [{}] }),
    ap('selected', { selector: { matchLabels: { app: 'httpbin' } }, rules: [{}] }),
    ap('other-app', { selector: { matchLabels: { app: 'other' } }, rules: [{}] }),
    ap('mesh', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/x'] } }] }] }, 'istio-system'),
    ap('elsewhere', { rules: [{}] }, 'bar'),
    ap('waypoint', { targetRefs: [{ kind: 'Service', group: '', name: 'httpbin' }], rules: [{}] }),
  ];
  assert.deepEqual(build(configs).authorizationPolicies, ['foo/ns-wide', 'foo/selected', 'istio-system/mesh']);
});

test('TCP: an ALLOW rule with HTTP fields is dropped; a DENY rule loses them (denies more)', () => {
  const sec = build([
    ap('a', { rules: [{ to: [{ operation: { methods: ['GET'] } }] }, { from: [{ source: { namespaces: ['ns1'] } }] }] }),
    ap('d', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin'], ports: ['9000'] } }] }] }),
  ]);
  const [deny, allow] = sec.tcpFilters.map((f) => ((f['typed_config'] as Json)['rules'] as Json)['policies'] as Record<string, Json>);
  assert.deepEqual(Object.keys(allow!), ['ns[foo]-policy[a]-rule[1]']);
  assert.deepEqual(deny!['ns[foo]-policy[d]-rule[0]']!['permissions'], [{ and_rules: { rules: [{ or_rules: { rules: [{ destination_port: 9000 }] } }] } }]);
});

test('dry-run policies go to shadow_rules', () => {
  const f = build([ap('dry', { rules: [{}] }, 'foo', { 'istio.io/dry-run': 'true' })]).httpFilters[0]!['typed_config'] as Json;
  assert.equal(f['rules'], undefined);
  assert.ok((f['shadow_rules'] as Json)['policies']);
});

test('CUSTOM with an unknown provider denies the requests it names', () => {
  const sec = build([ap('c', { action: 'CUSTOM', provider: { name: 'missing' }, rules: [{ to: [{ operation: { paths: ['/p'] } }] }] })]);
  assert.deepEqual(rbacActions(sec.httpFilters), ['DENY']);
  assert.match(sec.notes[0]?.message ?? '', /no extension provider named missing/);
});

const ra = (name: string, spec: Json, ns = 'foo'): Resource => ({ apiVersion: 'security.istio.io/v1', kind: 'RequestAuthentication', metadata: { name, namespace: ns }, spec });

test('RequestAuthentication → jwt_authn: providers per rule, missing token allowed, first in the chain', () => {
  const jwks = '{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}';
  const sec = build([
    ra('jwt', { selector: { matchLabels: { app: 'httpbin' } }, jwtRules: [
      { issuer: 'testing@secure.istio.io', jwks, fromHeaders: [{ name: 'x-jwt', prefix: 'Bearer ' }], fromParams: ['token'], fromCookies: ['session'], outputPayloadToHeader: 'x-payload', outputClaimToHeaders: [{ header: 'x-sub', claim: 'sub' }], forwardOriginalToken: true },
      { issuer: 'https://issuer.example', jwksUri: 'https://issuer.example:8443/jwks.json', audiences: ['a'] },
    ] }),
    ap('allow', { rules: [{ from: [{ source: { requestPrincipals: ['*'] } }] }] }),
  ]);
  assert.deepEqual(sec.httpFilters.map((f) => f['name']), ['envoy.filters.http.jwt_authn', 'envoy.filters.http.rbac']);
  const [decoded] = wire(sec.httpFilters.slice(0, 1)) as Array<{ typed_config: Json }>;
  golden('jwt-authn.json', decoded);
  const cfg = decoded!.typed_config;
  const p0 = (cfg['providers'] as Record<string, Json>)['origins-0']!;
  assert.equal(p0['forward'], true);
  assert.equal(p0['payload_in_metadata'], 'payload');
  assert.deepEqual(p0['claim_to_headers'], [{ header_name: 'x-sub', claim_name: 'sub' }]);
  const p1 = (cfg['providers'] as Record<string, Json>)['origins-1']!;
  assert.equal(((p1['remote_jwks'] as Json)['http_uri'] as Json)['cluster'], 'outbound|8443||issuer.example');
  assert.equal(build([ra('empty', {})]).httpFilters.length, 0);
});

const pa = (name: string, spec: Json, ns = 'foo'): Resource => ({ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name, namespace: ns }, spec });

test('PeerAuthentication precedence: workload > namespace > mesh; UNSET inherits; port-level overrides', () => {
  assert.equal(build([]).mtls.modeFor(80), 'PERMISSIVE');
  const mesh = pa('default', { mtls: { mode: 'STRICT' } }, 'istio-system');
  assert.equal(build([mesh]).mtls.modeFor(80), 'STRICT');
  const nsPa = pa('ns', { mtls: { mode: 'PERMISSIVE' } });
  assert.equal(build([mesh, nsPa]).mtls.modeFor(80), 'PERMISSIVE');
  const wl = pa('wl', { selector: { matchLabels: { app: 'httpbin' } }, mtls: { mode: 'UNSET' }, portLevelMtls: { '8080': { mode: 'DISABLE' }, '9090': { mode: 'UNSET' } } });
  const m = build([mesh, nsPa, wl]).mtls;
  assert.equal(m.modeFor(80), 'PERMISSIVE', 'UNSET inherits the namespace mode');
  assert.equal(m.modeFor(8080), 'DISABLE');
  assert.equal(m.modeFor(9090), 'PERMISSIVE');
  assert.deepEqual(m.from, ['foo/wl', 'foo/ns', 'istio-system/default']);
  const other = pa('other', { selector: { matchLabels: { app: 'other' } }, mtls: { mode: 'DISABLE' } });
  assert.equal(build([mesh, other]).mtls.modeFor(80), 'STRICT');
  const rootSelector = pa('root-sel', { selector: { matchLabels: { app: 'httpbin' } }, mtls: { mode: 'DISABLE' } }, 'istio-system');
  assert.equal(build([mesh, rootSelector]).mtls.modeFor(80), 'STRICT', 'a selector policy in the root namespace only selects root-namespace workloads');
});

test('trust-domain aliases widen principals', () => {
  const sec = build([ap('a', { rules: [{ from: [{ source: { principals: ['cluster.local/ns/foo/sa/sleep'] } }] }] })], { trustDomain: 'td1', trustDomainAliases: ['cluster.local'] });
  const text = JSON.stringify(sec.httpFilters);
  assert.ok(text.includes('spiffe://td1/ns/foo/sa/sleep') && text.includes('spiffe://cluster.local/ns/foo/sa/sleep'));
});

test('claim-based routing: @request.auth.claims keys become jwt_authn metadata matchers the proxy can evaluate', async () => {
  const { routeClaimMatcher, routingClaim } = await import('./claim-routing.ts');
  const { compileRouteMetadataMatcher } = await import('../../../proxy/filters/rbac/values.ts');
  const { Errors } = await import('../../../proxy/config/raw.ts');
  assert.deepEqual(routingClaim('@request.auth.claims.group'), ['group']);
  assert.deepEqual(routingClaim('@request.auth.claims.a.b'), ['a', 'b']);
  assert.deepEqual(routingClaim('@request.auth.claims[a][b.c]'), ['a', 'b.c']);
  for (const bad of ['@request.auth.claims', '@request.auth.claims.', '@request.auth.claims-x', 'request.auth.claims.a', 'end-user']) assert.equal(routingClaim(bad), undefined, bad);
  const m = routeClaimMatcher('@request.auth.claims.groups', { exact: 'group1' })!;
  assert.deepEqual(m, { filter: 'envoy.filters.http.jwt_authn', path: [{ key: 'payload' }, { key: 'groups' }], value: { or_match: { value_matchers: [{ list_match: { one_of: { string_match: { exact: 'group1' } } } }, { string_match: { exact: 'group1' } }] } } });
  // The route proto accepts it as a dynamic_metadata matcher.
  const route = { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/', dynamic_metadata: [m, routeClaimMatcher('@request.auth.claims.admin', { exact: 'true' }, true)] }, route: { cluster: 'c' } }] }] };
  const decoded = decodeAny(encodeAny('type.googleapis.com/envoy.config.route.v3.RouteConfiguration', route));
  const dm = (((decoded['virtual_hosts'] as Json[])[0]!['routes'] as Json[])[0]!['match'] as Json)['dynamic_metadata'] as Json[];
  const errors = new Errors();
  const [groups, notAdmin] = dm.map((x, i) => compileRouteMetadataMatcher(x, `dm[${i}]`, errors)!);
  const jwt = (claims: Json) => ({ principal: 'i/s', claims, audiences: [], presenter: '' });
  assert.equal(groups!(jwt({ groups: ['group2', 'group1'] })), true);
  assert.equal(groups!(jwt({ groups: 'group1' })), true);
  assert.equal(groups!(jwt({ groups: ['group2'] })), false);
  assert.equal(groups!(undefined), false);
  assert.equal(notAdmin!(jwt({ admin: 'true' })), false);
  assert.equal(notAdmin!(jwt({})), true);
});

test('pathNormalization → HCM fields, and the proxy reads them back as the same mode', async () => {
  const { hcmPathNormalization } = await import('./index.ts');
  const { normalizationOfHcm } = await import('../../../proxy/security/path-normalize.ts');
  for (const mode of ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'] as const) {
    const hcm = { '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', stat_prefix: 's', rds: { route_config_name: 'r', config_source: { ads: {} } }, ...hcmPathNormalization(mode) };
    const decoded = decodeAny(encodeAny(hcm['@type'], hcm));
    assert.equal(normalizationOfHcm(decoded), mode);
  }
});

test('every other security sample in istio-samples translates and encodes for every workload its policies select', () => {
  const files = ['integration-tests/pilot/authz-a.yaml', 'integration-tests/pilot/a.yaml', 'pilot-testdata-config/peer-authn-strict.yaml', 'pilot-testdata-config/authn.yaml', 'analyzer-testdata/authorizationpolicies.yaml', 'analyzer-testdata/blocked-cidrs-configured.yaml', 'analyzer-testdata/condition-analyzer.yaml', 'analyzer-testdata/k8sgateway-selector.yaml', 'analyzer-testdata/blocked-cidrs-missing.yaml'];
  let policies = 0;
  for (const f of files) {
    const docs = load(samplePath(f));
    const security = docs.filter((d) => ['AuthorizationPolicy', 'RequestAuthentication', 'PeerAuthentication'].includes(d.kind));
    assert.ok(security.length > 0, f);
    for (const d of security) {
      policies++;
      const sel = ((d.spec ?? {}) as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels ?? {};
      const sec = buildWorkloadSecurity({ workload: { namespace: d.metadata.namespace ?? 'default', labels: sel }, configs: docs, rootNamespace: 'istio-system', trustDomain: 'cluster.local', extensionProviders: providers });
      assert.doesNotThrow(() => wire([...sec.httpFilters, ...sec.tcpFilters]), `${f}: ${d.metadata.name}`);
      assert.ok(['STRICT', 'PERMISSIVE', 'DISABLE'].includes(sec.mtls.modeFor(8080)));
    }
  }
  assert.ok(policies >= 20, `${policies} policies`);
});

test('auto-mTLS inference for a destination service: namespace, then mesh; unknown with workload policies', async () => {
  const { inferServiceMtlsMode } = await import('./peer-authn.ts');
  const mesh = pa('default', { mtls: { mode: 'STRICT' } }, 'istio-system');
  assert.equal(inferServiceMtlsMode([], 'foo', 'istio-system'), 'PERMISSIVE');
  assert.equal(inferServiceMtlsMode([mesh], 'foo', 'istio-system'), 'STRICT');
  assert.equal(inferServiceMtlsMode([mesh, pa('ns', { mtls: { mode: 'DISABLE' } })], 'foo', 'istio-system'), 'DISABLE');
  assert.equal(inferServiceMtlsMode([mesh, pa('wl', { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'DISABLE' } })], 'foo', 'istio-system'), undefined);
  assert.equal(inferServiceMtlsMode([mesh, pa('ns', { mtls: { mode: 'DISABLE' } }, 'bar')], 'foo', 'istio-system'), 'STRICT');
});
