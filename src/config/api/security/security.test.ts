// Istio's webhook rules for the security kinds, run through the whole pipeline (schema first, as the API server does).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { validateResource } from '../validate.ts';
import { defaultValidationContext } from '../validation/report.ts';
import { validateAuthorizationPolicy } from './authorization-policy.ts';
import { pathTemplateProblem, portProblem } from './conditions.ts';
import { validatePeerAuthentication } from './peer-authentication.ts';
import { validateRequestAuthentication } from './request-authentication.ts';

const origin = { file: 't.yaml', document: 0 };
function check(kind: string, spec: unknown): { errors: string[]; warnings: string[] } {
  const r = validateResource({ apiVersion: 'security.istio.io/v1', kind, metadata: { name: 'p', namespace: 'foo' }, spec }, origin);
  return { errors: r.errors.map((e) => `${e.path}: ${e.message}`), warnings: r.warnings.map((w) => `${w.path}: ${w.message}`) };
}
const apErrors = (spec: unknown): string[] => check('AuthorizationPolicy', spec).errors;
const one = (errors: string[], path: string, re: RegExp): void => {
  assert.equal(errors.length, 1, errors.join('\n'));
  assert.ok(errors[0]?.startsWith(`${path}: `), `${errors[0]} should be at ${path}`);
  assert.match(errors[0] ?? '', re);
};

test('AuthorizationPolicy: action and provider', () => {
  assert.deepEqual(apErrors({}), [], 'spec: {} denies all and is valid');
  assert.deepEqual(apErrors({ action: 'ALLOW' }), []);
  one(apErrors({ action: 'DENY' }), 'spec.rules', /DENY action without rules never triggers/);
  one(apErrors({ action: 'CUSTOM' }), 'spec.rules', /CUSTOM action without rules/);
  one(apErrors({ action: 'CUSTOM', rules: [{}] }), 'spec.provider.name', /required with action CUSTOM/);
  assert.deepEqual(apErrors({ action: 'CUSTOM', provider: { name: 'ext-authz' }, rules: [{}] }), []);
  one(apErrors({ action: 'ALLOW', provider: { name: 'x' }, rules: [{}] }), 'spec.provider', /only be set with action CUSTOM, found action ALLOW/);
  one(apErrors({ action: 'CUSTOM', provider: { name: 'x' }, rules: [{ from: [{ source: { principals: ['a'] } }] }] }), 'spec.rules[0].from[0].source.principals', /not supported with action CUSTOM/);
  one(apErrors({ action: 'CUSTOM', provider: { name: 'x' }, rules: [{ when: [{ key: 'request.auth.claims[iss]', values: ['a'] }] }] }), 'spec.rules[0].when[0].key', /not supported with action CUSTOM/);
});

test('AuthorizationPolicy: selector and targetRefs are exclusive; targetRef rules', () => {
  const errors = apErrors({ selector: { matchLabels: { app: 'a' } }, targetRefs: [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'gw' }] });
  assert.ok(errors.some((e) => /only one of/.test(e)), errors.join('\n'));
  one(apErrors({ targetRefs: [{ kind: 'Deployment', group: 'apps', name: 'x' }] }), 'spec.targetRefs[0]', /targetRef must refer to one of/);
  assert.deepEqual(apErrors({ targetRef: { kind: 'Service', group: '', name: 'reviews' } }), []);
});

test('AuthorizationPolicy: sources, operations, empty values, IPs, ports, service accounts', () => {
  one(apErrors({ rules: [{ from: [] }] }), 'spec.rules[0].from', /from must not be empty/);
  one(apErrors({ rules: [{ from: [{}] }] }), 'spec.rules[0].from[0].source', /required: set source/);
  one(apErrors({ rules: [{ from: [{ source: {} }] }] }), 'spec.rules[0].from[0].source', /source must not be empty/);
  one(apErrors({ rules: [{ to: [{ operation: {} }] }] }), 'spec.rules[0].to[0].operation', /operation must not be empty/);
  one(apErrors({ rules: [{ from: [{ source: { principals: [''] } }] }] }), 'spec.rules[0].from[0].source.principals[0]', /empty value not allowed in principals/);
  one(apErrors({ rules: [{ from: [{ source: { ipBlocks: ['10.0.0.0/33'] } }] }] }), 'spec.rules[0].from[0].source.ipBlocks[0]', /not a valid CIDR/);
  one(apErrors({ rules: [{ from: [{ source: { remoteIpBlocks: ['1.2.3'] } }] }] }), 'spec.rules[0].from[0].source.remoteIpBlocks[0]', /not a valid IP/);
  assert.deepEqual(apErrors({ rules: [{ from: [{ source: { ipBlocks: ['10.0.0.0/8', '192.168.1.1', '2001:db8::/32'] } }] }] }), []);
  one(apErrors({ rules: [{ to: [{ operation: { ports: ['80', '65536'] } }] }] }), 'spec.rules[0].to[0].operation.ports[1]', /bad port "65536"/);
  one(apErrors({ rules: [{ to: [{ operation: { methods: ['GET', ''] } }] }] }), 'spec.rules[0].to[0].operation.methods[1]', /empty value/);
  const both = apErrors({ rules: [{ from: [{ source: { serviceAccounts: ['ns/sa'], principals: ['x'] } }] }] });
  assert.ok(both.some((e) => /(cannot be combined with principals|Cannot set serviceAccounts with namespaces or principals)/.test(e)), both.join('\n'));
  one(apErrors({ rules: [{ from: [{ source: { serviceAccounts: ['a/b/c'] } }] }] }), 'spec.rules[0].from[0].source.serviceAccounts[0]', /expected format/);
  one(apErrors({ rules: [{ from: [{ source: { trustDomains: ['a*b'] } }] }] }), 'spec.rules[0].from[0].source.trustDomains[0]', /wildcard is only allowed at the start or end/);
});

test('AuthorizationPolicy: path templates', () => {
  assert.deepEqual(apErrors({ rules: [{ to: [{ operation: { paths: ['/foo/{*}/bar', '/foo/{**}', '/a/{*}/{**}', '/prefix*', '*suffix'] } }] }] }), []);
  one(apErrors({ rules: [{ to: [{ operation: { paths: ['/foo/{**}/{*}'] } }] }] }), 'spec.rules[0].to[0].operation.paths[0]', /\{\*\*\} must be the last operator/);
  one(apErrors({ rules: [{ to: [{ operation: { notPaths: ['/foo/{bar}'] } }] }] }), 'spec.rules[0].to[0].operation.notPaths[0]', /outside a supported template/);
  one(apErrors({ rules: [{ to: [{ operation: { paths: ['/foo/{*}/b^r'] } }] }] }), 'spec.rules[0].to[0].operation.paths[0]', /not a valid literal/);
  assert.equal(pathTemplateProblem('/b^r'), undefined, 'literal rules only apply to templated paths');
});

test('AuthorizationPolicy: when conditions', () => {
  const when = (c: unknown): string[] => apErrors({ rules: [{ when: [c] }] });
  for (const key of ['request.headers[x-token]', 'source.ip', 'remote.ip', 'source.namespace', 'source.principal', 'request.auth.principal', 'request.auth.audiences', 'request.auth.presenter', 'request.auth.claims[groups]', 'destination.ip', 'destination.port', 'connection.sni', 'experimental.envoy.filters.network.mysql_proxy[db.table]']) {
    const value = key.endsWith('.ip') ? '10.0.0.1' : key === 'destination.port' ? '8080' : 'v';
    assert.deepEqual(when({ key, values: [value] }), [], key);
  }
  one(when({ key: 'request.headers[x]' }), 'spec.rules[0].when[0]', /at least one of values or notValues/);
  one(when({ key: 'request.headers', values: ['a'] }), 'spec.rules[0].when[0].key', /must have the form request.headers\[<name>\]/);
  one(when({ key: 'source.ipp', values: ['a'] }), 'spec.rules[0].when[0].key', /unknown attribute "source.ipp"/);
  one(when({ key: 'destination.labels[app]', values: ['a'] }), 'spec.rules[0].when[0].key', /replaced by the workload selector/);
  one(when({ key: 'source.ip', values: ['10.0.0.1', 'nope'] }), 'spec.rules[0].when[0].values[1]', /not a valid IP/);
  one(when({ key: 'destination.port', notValues: ['http'] }), 'spec.rules[0].when[0].notValues[0]', /bad port/);
  one(when({ key: 'source.namespace', values: [''] }), 'spec.rules[0].when[0].values[0]', /empty value not allowed/);
});

test('AuthorizationPolicy: a DENY rule with only HTTP attributes warns that it also denies TCP', () => {
  const r = check('AuthorizationPolicy', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['GET'] } }] }, { to: [{ operation: { ports: ['80'] } }] }] });
  assert.deepEqual(r.errors, []);
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0] ?? '', /^spec.rules\[0\]: this DENY rule uses only HTTP attributes/);
});

test('PeerAuthentication: modes, port-level mTLS needs a selector, ports in range', () => {
  const pa = (spec: unknown): string[] => check('PeerAuthentication', spec).errors;
  assert.deepEqual(pa({ mtls: { mode: 'STRICT' } }), []);
  assert.deepEqual(pa({ selector: { matchLabels: { app: 'a' } }, portLevelMtls: { 8080: { mode: 'DISABLE' } } }), []);
  assert.equal(pa({ mtls: { mode: 'STRICTER' } }).length, 1, 'the schema rejects unknown modes');
  const noSel = pa({ portLevelMtls: { 8080: { mode: 'DISABLE' } } });
  assert.equal(noSel.length, 1);
  assert.match(noSel[0] ?? '', /portLevelMtls requires selector/);
  const w = check('PeerAuthentication', { selector: { matchLabels: {} } });
  assert.match(w.warnings[0] ?? '', /^spec.selector: workload selector has no labels/);
});

test('RequestAuthentication: jwtRules', () => {
  const ra = (rule: unknown): string[] => check('RequestAuthentication', { jwtRules: [rule] }).errors;
  assert.deepEqual(ra({ issuer: 'https://issuer', jwksUri: 'https://issuer/jwks.json', fromHeaders: [{ name: 'x-jwt', prefix: 'Bearer ' }], fromParams: ['t'], fromCookies: ['c'], outputPayloadToHeader: 'x-payload', outputClaimToHeaders: [{ header: 'x-sub', claim: 'sub' }], audiences: ['a'], timeout: '5s' }), []);
  one(ra({ audiences: ['a'] }), 'spec.jwtRules[0].issuer', /set issuer/);
  assert.deepEqual(ra({ jwksUri: 'https://issuer/jwks' }), [], 'jwksUri alone is enough (Istio: issuer or jwksUri)');
  assert.equal(ra({ issuer: 'i', jwksUri: 'ftp://x/jwks' }).length, 1, 'the CRD and the webhook both reject non-http schemes');
  one(ra({ issuer: 'i', jwks: '{"keys": [' }), 'spec.jwtRules[0].jwks', /not valid JSON/);
  one(ra({ issuer: 'i', fromHeaders: [{ name: '' }] }), 'spec.jwtRules[0].fromHeaders[0].name', /(non-empty|at least 1 characters)/);
  one(ra({ issuer: 'i', fromParams: [''] }), 'spec.jwtRules[0].fromParams[0]', /(non-empty|at least 1 characters)/);
  one(ra({ issuer: 'i', fromCookies: [''] }), 'spec.jwtRules[0].fromCookies[0]', /(non-empty|at least 1 characters)/);
  one(ra({ issuer: 'i', outputPayloadToHeader: 'x payload' }), 'spec.jwtRules[0].outputPayloadToHeader', /(not valid|should match)/);
  one(ra({ issuer: 'i', outputClaimToHeaders: [{ header: 'x:sub', claim: 'sub' }] }), 'spec.jwtRules[0].outputClaimToHeaders[0].header', /(not valid|should match)/);
  one(ra({ issuer: 'i', outputClaimToHeaders: [{ header: 'x-sub' }] }), 'spec.jwtRules[0].outputClaimToHeaders[0].claim', /Required/);
  one(ra({ issuer: 'i', audiences: [''] }), 'spec.jwtRules[0].audiences[0]', /(non-empty|at least 1 characters)/);
  assert.equal(ra({ issuer: 'i', timeout: '0.5ms' }).length, 1);
  one(ra({ issuer: 'i', jwksUri: 'https://i/j', jwks: '{"keys":[]}' }), 'spec.jwtRules[0]', /only one of jwks or jwksUri/);
  const priv = check('RequestAuthentication', { jwtRules: [{ issuer: 'i', jwks: '{"keys":[{"kty":"RSA","n":"x","e":"AQAB","d":"secret"}]}' }] });
  assert.deepEqual(priv.errors, []);
  assert.match(priv.warnings[0] ?? '', /^spec.jwtRules\[0\].jwks: jwks key at index 0 contains private key material/);
});

test('webhook rules that the CRD schema also enforces hold on their own (for callers that skip the schema)', () => {
  const res = (kind: string, spec: unknown) => ({ apiVersion: 'security.istio.io/v1', kind, metadata: { name: 'p', namespace: 'foo' }, spec });
  const ra = validateRequestAuthentication(res('RequestAuthentication', { jwtRules: [{ issuer: 'i', jwksUri: 'ftp://x', fromHeaders: [{ name: '' }], outputClaimToHeaders: [{ header: 'x-sub' }, { header: 'a b', claim: 'c' }] }] }), defaultValidationContext);
  assert.deepEqual(ra.errors.map((e) => e.path), ['spec.jwtRules[0].jwksUri', 'spec.jwtRules[0].fromHeaders[0].name', 'spec.jwtRules[0].outputClaimToHeaders[0]', 'spec.jwtRules[0].outputClaimToHeaders[1].header']);
  assert.match(ra.errors[0]?.message ?? '', /scheme "ftp" is not supported/);
  const pa = validatePeerAuthentication(res('PeerAuthentication', { portLevelMtls: { 0: { mode: 'STRICT' } } }), defaultValidationContext);
  assert.deepEqual(pa.errors.map((e) => e.path), ['spec.portLevelMtls', 'spec.portLevelMtls[0]']);
  const ap = validateAuthorizationPolicy(res('AuthorizationPolicy', { rules: [{ from: [{ source: { serviceAccounts: ['a'], namespaces: ['b'] } }] }] }), defaultValidationContext);
  assert.match(ap.errors[0]?.message ?? '', /serviceAccounts cannot be combined/);
});

test('ports and path templates never throw on arbitrary input', () => {
  fc.assert(fc.property(fc.string(), (s) => {
    const p = portProblem(s);
    assert.equal(p === undefined, /^[0-9]+$/.test(s) && Number(s) <= 65535);
    pathTemplateProblem(s);
  }));
});
