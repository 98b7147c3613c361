// The RBAC engine against the control plane's real translation: Istio policies → Envoy RBAC (encoded and decoded
// through the real protos, as the proxy receives it) → decisions. Path normalisation cannot be used to slip past a
// DENY; property tests: the matcher never throws on arbitrary requests, normalisation is idempotent.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Resource } from '../../../config/api/resource.ts';
import { buildWorkloadSecurity } from '../../../discovery/translate/security/index.ts';
import { decodeAny, encodeAny } from '../../../xds/protos.ts';
import { normalizePath, type PathNormalization } from '../../security/path-normalize.ts';
import type { AuthzRequest } from './request.ts';
import { RBAC_DENIED_BODY, rbacFilterFromTypedConfig, type RbacDecision } from './rbac-filter.ts';

type Json = Record<string, unknown>;
const ap = (name: string, spec: Json, ns = 'foo'): Resource => ({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name, namespace: ns }, spec });

/** Translate policies for foo/httpbin and build the proxy's filters from the wire form. */
function chain(policies: Resource[], tcp = false): (req: AuthzRequest) => RbacDecision {
  const sec = buildWorkloadSecurity({ workload: { namespace: 'foo', labels: { app: 'httpbin' } }, configs: policies, rootNamespace: 'istio-system', trustDomain: 'cluster.local' });
  const filters = (tcp ? sec.tcpFilters : sec.httpFilters).map((f) => {
    const tc = f['typed_config'] as Json;
    return rbacFilterFromTypedConfig(decodeAny(encodeAny(String(tc['@type']), tc)));
  });
  return (req) => {
    for (const f of filters) {
      const d = f(req);
      if (!d.allowed) return d;
    }
    return { allowed: true };
  };
}

const base: AuthzRequest = { method: 'GET', path: '/', host: 'httpbin.foo:8000', headers: [], sourceIp: '10.0.0.9', destinationPort: 8000 };
const req = (over: Partial<AuthzRequest>): AuthzRequest => ({ ...base, ...over });

test('DENY on /admin holds against dot segments, escapes, merged slashes and case tricks Istio normalises', () => {
  const deny = chain([ap('deny-admin', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin', '/admin/*'] } }] }] })]);
  const at = (raw: string, mode: PathNormalization = 'DECODE_AND_MERGE_SLASHES') => deny(req({ path: normalizePath(raw, mode) }));
  for (const p of ['/admin', '/a/../admin', '/./admin', '/%61dmin', '/%2E%2E/admin', '/admin/.', '/admin/x/..', '//admin', '/admin%2Fsecret', '/admin%2fsecret', '/admin%5Csecret', '/a%2F..%2Fadmin', '\\admin', '/admin?x=1', '/foo/%2e%2e/admin']) {
    const d = at(p);
    assert.equal(d.allowed, false, `${p} → ${normalizePath(p, 'DECODE_AND_MERGE_SLASHES')} must be denied`);
    assert.equal(d.policy, 'ns[foo]-policy[deny-admin]-rule[0]');
  }
  assert.equal(at('/administrator').allowed, true);
  assert.equal(at('/public/admin').allowed, true);
  // Under BASE only, `//admin` and `%2F` are not rewritten: Istio documents MERGE_SLASHES / DECODE_AND_MERGE_SLASHES for them.
  assert.equal(at('//admin', 'BASE').allowed, true);
  assert.equal(at('//admin', 'MERGE_SLASHES').allowed, false);
  assert.equal(at('/a/../admin', 'BASE').allowed, false);
  assert.equal(RBAC_DENIED_BODY, 'RBAC: access denied');
});

test('hosts compare case-insensitively; methods, ports and not-forms', () => {
  const allow = chain([ap('a', { rules: [{ to: [{ operation: { hosts: ['httpbin.example.com'], methods: ['GET', 'HEAD'], notPaths: ['/private*'], ports: ['8000'] } }] }] })]);
  assert.equal(allow(req({ host: 'HTTPBIN.Example.COM' })).allowed, true);
  assert.equal(allow(req({ host: 'httpbin.example.com', method: 'POST' })).allowed, false);
  assert.equal(allow(req({ host: 'httpbin.example.com', path: '/private/x' })).allowed, false);
  assert.equal(allow(req({ host: 'httpbin.example.com', destinationPort: 9000 })).allowed, false);
  assert.equal(allow(req({ host: 'other.example.com' })).allowed, false);
});

test('no ALLOW policy allows; spec: {} denies all; DENY wins over ALLOW', () => {
  assert.equal(chain([ap('d', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] })])(base).allowed, true);
  assert.equal(chain([ap('none', {})])(base).allowed, false);
  const both = chain([ap('allow-all', { rules: [{}] }), ap('deny-post', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['POST'] } }] }] })]);
  assert.equal(both(req({ method: 'POST' })).allowed, false);
  assert.equal(both(base).allowed, true);
});

test('sources: principals (mTLS peer), namespaces, service accounts, IP blocks, remote IPs', () => {
  const allow = chain([ap('a', { rules: [
    { from: [{ source: { principals: ['cluster.local/ns/foo/sa/sleep'] } }] },
    { from: [{ source: { namespaces: ['bar'] } }] },
    { from: [{ source: { ipBlocks: ['192.168.0.0/16'], notIpBlocks: ['192.168.1.0/24'] } }] },
    { from: [{ source: { remoteIpBlocks: ['2001:db8::/32'] } }] },
  ] })]);
  assert.equal(allow(req({ peerPrincipal: 'spiffe://cluster.local/ns/foo/sa/sleep' })).allowed, true);
  assert.equal(allow(req({ peerPrincipal: 'spiffe://cluster.local/ns/foo/sa/other' })).allowed, false);
  assert.equal(allow(req({})).allowed, false, 'plaintext has no principal');
  assert.equal(allow(req({ peerPrincipal: 'spiffe://cluster.local/ns/bar/sa/x' })).allowed, true);
  assert.equal(allow(req({ sourceIp: '::ffff:192.168.7.1' })).allowed, true);
  assert.equal(allow(req({ sourceIp: '192.168.1.7' })).allowed, false);
  assert.equal(allow(req({ remoteIp: '2001:db8::1' })).allowed, true);
});

test('request principals, audiences, claims (string or list) and headers from when conditions', () => {
  const allow = chain([ap('a', { rules: [{ from: [{ source: { requestPrincipals: ['https://issuer.example/*'] } }], when: [
    { key: 'request.auth.claims[groups]', values: ['admins'] },
    { key: 'request.auth.audiences', values: ['httpbin'] },
    { key: 'request.headers[x-env]', notValues: ['prod'] },
  ] }] })]);
  const jwt = (claims: Json) => ({ principal: `${String(claims['iss'])}/${String(claims['sub'])}`, claims, audiences: [String(claims['aud'])], presenter: '' });
  const good = { iss: 'https://issuer.example', sub: 'alice', aud: 'httpbin', groups: ['users', 'admins'] };
  assert.equal(allow(req({ jwt: jwt(good) })).allowed, true);
  assert.equal(allow(req({ jwt: jwt({ ...good, groups: 'admins' }) })).allowed, true, 'a string claim matches too');
  assert.equal(allow(req({ jwt: jwt({ ...good, groups: ['users'] }) })).allowed, false);
  assert.equal(allow(req({ jwt: jwt({ ...good, iss: 'https://evil.example' }) })).allowed, false);
  assert.equal(allow(req({ jwt: jwt({ ...good, aud: 'other' }) })).allowed, false);
  assert.equal(allow(req({ jwt: jwt(good), headers: ['x-env', 'prod'] })).allowed, false);
  assert.equal(allow(req({})).allowed, false, 'no token, no request principal');
});

test('path templates {*} and {**}', () => {
  const allow = chain([ap('a', { rules: [{ to: [{ operation: { paths: ['/api/{*}/status', '/files/{**}'] } }] }] })]);
  assert.equal(allow(req({ path: '/api/v1/status' })).allowed, true);
  assert.equal(allow(req({ path: '/api/v1/x/status' })).allowed, false);
  assert.equal(allow(req({ path: '/files/a/b/c.txt?dl=1' })).allowed, true);
  assert.equal(allow(req({ path: '/other' })).allowed, false);
});

test('TCP: a DENY with only HTTP fields denies every connection; ALLOW keeps only TCP-able rules', () => {
  const tcpDeny = chain([ap('d', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['GET'] } }] }] })], true);
  assert.equal(tcpDeny({ sourceIp: '10.0.0.1', destinationPort: 9000 }).allowed, false);
  const tcpAllow = chain([ap('a', { rules: [{ to: [{ operation: { methods: ['GET'] } }] }, { to: [{ operation: { ports: ['9000'] } }] }] })], true);
  assert.equal(tcpAllow({ sourceIp: '10.0.0.1', destinationPort: 9000 }).allowed, true);
  assert.equal(tcpAllow({ sourceIp: '10.0.0.1', destinationPort: 9001 }).allowed, false);
});

test('a config this engine cannot enforce is rejected, not half-enforced', () => {
  assert.throws(() => rbacFilterFromTypedConfig({ rules: { policies: { p: { permissions: [{ matcher: {} }], principals: [{ any: true }] } } } }), /WEFT_ERR|not supported/);
  assert.throws(() => rbacFilterFromTypedConfig({ rules: { policies: { p: { permissions: [{ any: true }], principals: [{ any: true }], condition: {} } } } }), /CEL/);
});

const arbRequest: fc.Arbitrary<AuthzRequest> = fc.record({
  method: fc.option(fc.string(), { nil: undefined }),
  path: fc.option(fc.string(), { nil: undefined }),
  host: fc.option(fc.string(), { nil: undefined }),
  headers: fc.array(fc.string(), { maxLength: 8 }),
  sourceIp: fc.oneof(fc.ipV4(), fc.ipV6(), fc.string()),
  remoteIp: fc.option(fc.oneof(fc.ipV4(), fc.string()), { nil: undefined }),
  destinationIp: fc.option(fc.oneof(fc.ipV4(), fc.string()), { nil: undefined }),
  destinationPort: fc.integer({ min: -1, max: 70000 }),
  sni: fc.option(fc.string(), { nil: undefined }),
  peerPrincipal: fc.option(fc.string(), { nil: undefined }),
  jwt: fc.option(fc.record({ principal: fc.string(), claims: fc.dictionary(fc.string(), fc.jsonValue()), audiences: fc.array(fc.string()), presenter: fc.string() }), { nil: undefined }),
});

test('property: the matcher never throws on arbitrary requests (every Istio authz sample)', async () => {
  const { readdirSync, readFileSync } = await import('node:fs');
  const { parseAllDocuments } = await import('yaml');
  const { samplePath } = await import('../../../../test/samples.ts');
  const filters: Array<(r: AuthzRequest) => RbacDecision> = [];
  for (const dir of ['http', 'tcp']) {
    for (const f of readdirSync(samplePath(`authz-policies/${dir}`))) {
      const docs = parseAllDocuments(readFileSync(samplePath(`authz-policies/${dir}/${f}`), 'utf8')).map((d) => d.toJS() as Resource).filter(Boolean);
      filters.push(chain(docs.map((d) => ({ ...d, spec: { ...(d.spec as Json), selector: undefined } })), dir === 'tcp'));
    }
  }
  fc.assert(fc.property(arbRequest, (r) => {
    for (const f of filters) assert.equal(typeof f(r).allowed, 'boolean');
  }), { numRuns: 300 });
});

test('property: path normalisation is idempotent and leaves no dot segments or (merged) double slashes', () => {
  const pathChars = fc.constantFrom('/', '.', '..', '%2F', '%2f', '%5C', '%2E', '%', 'a', 'A', '\\', '?', '#', '%41', '%zz', 'é', ' ', '~');
  const arbPath = fc.array(pathChars, { maxLength: 20 }).map((parts) => `/${parts.join('')}`);
  for (const mode of ['BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'] as const) {
    fc.assert(fc.property(fc.oneof(arbPath, fc.string()), (p) => {
      const once = normalizePath(p, mode);
      assert.equal(normalizePath(once, mode), once, `${mode}: ${JSON.stringify(p)}`);
      if (!p.startsWith('/')) return;
      const path = once.split('?')[0]!;
      assert.ok(!path.split('/').some((s) => s === '.' || s === '..'), `${mode}: dot segment in ${once}`);
      if (mode !== 'BASE') assert.ok(!path.includes('//'), `${mode}: // in ${once}`);
    }), { numRuns: 500 });
  }
});
