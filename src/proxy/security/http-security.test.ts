// The HCM security chain built from a translated listener's http_filters: order, sync fast path, outcomes and stats.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { Resource } from '../../config/api/resource.ts';
import { buildWorkloadSecurity } from '../../discovery/translate/security/index.ts';
import { decodeAny, encodeAny } from '../../xds/protos.ts';
import { StatStore } from '../stats/stat-store.ts';
import { buildHttpSecurity, buildNetworkRbac } from './http-security.ts';

type Json = Record<string, unknown>;
const wire = (configs: Resource[]) => {
  const sec = buildWorkloadSecurity({ workload: { namespace: 'foo', labels: {} }, configs, rootNamespace: 'istio-system', trustDomain: 'cluster.local' });
  const dec = (fs: Json[]) => fs.map((f) => ({ name: f['name'], typed_config: decodeAny(encodeAny(String((f['typed_config'] as Json)['@type']), f['typed_config'] as Json)) }));
  return { http: dec(sec.httpFilters), tcp: dec(sec.tcpFilters) };
};
const res = (kind: string, name: string, spec: Json): Resource => ({ apiVersion: 'security.istio.io/v1', kind, metadata: { name, namespace: 'foo' }, spec });
const base = { method: 'GET', path: '/', host: 'httpbin:8000', headers: [] as string[], sourceIp: '127.0.0.1', destinationPort: 8000 };

test('RBAC-only chains answer synchronously; deny → 403 RBAC: access denied with the matched policy', () => {
  const store = new StatStore();
  const sec = buildHttpSecurity(wire([res('AuthorizationPolicy', 'deny-admin', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin*'] } }] }] }), res('AuthorizationPolicy', 'audit', { action: 'AUDIT', rules: [{}] })]).http, {}, { store, statPrefix: 'inbound_0.0.0.0_8000' })!;
  assert.equal(sec.async, false);
  const ok = sec.run(base);
  assert.ok(!(ok instanceof Promise));
  assert.deepEqual(ok, { kind: 'continue', headers: [], audited: 'ns[foo]-policy[audit]-rule[0]' });
  const denied = sec.run({ ...base, path: '/admin/users' });
  assert.deepEqual(denied, { kind: 'respond', status: 403, body: 'RBAC: access denied', headers: [], details: 'rbac_access_denied_matched_policy[ns[foo]-policy[deny-admin]-rule[0]]', flag: 'RBAC' });
  const stats = new Map(store.entries());
  assert.equal(stats.get('http.inbound_0.0.0.0_8000.rbac.denied'), 1);
  // As in Envoy each RBAC filter counts: AUDIT allows both requests, DENY allows the first.
  assert.equal(stats.get('http.inbound_0.0.0.0_8000.rbac.allowed'), 3);
  assert.equal(buildHttpSecurity([{ name: 'envoy.filters.http.router', typed_config: {} }]), undefined);
});

test('JWT then RBAC: 401 for a bad token, 403 without one, continue with a good one', async () => {
  const k = await generateKeyPair('ES256');
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(k.publicKey)), kid: 'a' }] });
  const store = new StatStore();
  const sec = buildHttpSecurity(wire([
    res('RequestAuthentication', 'jwt', { jwtRules: [{ issuer: 'iss', jwks }] }),
    res('AuthorizationPolicy', 'need-jwt', { rules: [{ from: [{ source: { requestPrincipals: ['iss/*'] } }] }] }),
  ]).http, {}, { store, statPrefix: 'inbound_0.0.0.0_8000' })!;
  assert.equal(sec.async, true);
  const t = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'ES256', kid: 'a' }).setIssuer('iss').setExpirationTime('1h').sign(k.privateKey);
  const good = await sec.run({ ...base, headers: ['authorization', `Bearer ${t}`] });
  assert.equal(good.kind, 'continue');
  assert.equal(good.kind === 'continue' && good.jwt?.principal, 'iss/alice');
  const none = await sec.run(base);
  assert.deepEqual(none.kind === 'respond' && [none.status, none.body], [403, 'RBAC: access denied']);
  const bad = await sec.run({ ...base, headers: ['authorization', `Bearer ${t.slice(0, -6)}AAAAAA`] });
  assert.deepEqual(bad.kind === 'respond' && [bad.status, bad.body], [401, 'Jwt verification fails']);
  const stats = new Map(store.entries());
  assert.deepEqual(['jwt_authn.allowed', 'jwt_authn.denied', 'rbac.allowed', 'rbac.denied'].map((n) => stats.get(`http.inbound_0.0.0.0_8000.${n}`)), [2, 1, 1, 1]);
});

test('network RBAC decides per connection', () => {
  const { tcp } = wire([res('AuthorizationPolicy', 'only-ns', { rules: [{ from: [{ source: { namespaces: ['bar'] } }] }] })]);
  const store = new StatStore();
  const rbac = buildNetworkRbac(tcp[0]!.typed_config, store);
  assert.equal(rbac.run({ sourceIp: '10.0.0.1', destinationPort: 9000, peerPrincipal: 'spiffe://cluster.local/ns/bar/sa/x' }).allowed, true);
  assert.equal(rbac.run({ sourceIp: '10.0.0.1', destinationPort: 9000 }).allowed, false);
  assert.deepEqual([rbac.counters.allowed.value, rbac.counters.denied.value], [1, 1]);
  assert.deepEqual(store.entries().filter(([, v]) => v > 0), [['tcp.rbac.allowed', 1], ['tcp.rbac.denied', 1]]);
});

test('remote IP from x-forwarded-for with trusted hops (remoteIpBlocks at a gateway behind a load balancer)', async () => {
  const { originalClientIp } = await import('./http-security.ts');
  assert.equal(originalClientIp(['x-forwarded-for', '203.0.113.7, 10.0.0.2'], 1), '10.0.0.2');
  assert.equal(originalClientIp(['x-forwarded-for', '203.0.113.7, 10.0.0.2'], 2), '203.0.113.7');
  assert.equal(originalClientIp(['x-forwarded-for', '203.0.113.7', 'x-forwarded-for', '10.0.0.2'], 2), '203.0.113.7');
  assert.equal(originalClientIp(['x-forwarded-for', '10.0.0.2'], 2), undefined);
  assert.equal(originalClientIp(['x-forwarded-for', '10.0.0.2'], 0), undefined);
  assert.equal(originalClientIp([], 1), undefined);
});
