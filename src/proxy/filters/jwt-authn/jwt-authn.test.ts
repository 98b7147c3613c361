// jwt_authn: RequestAuthentication translated by the control plane, carried through the real protos, enforced here
// with real keys (jose), a real JWKS server on 127.0.0.1:0 and an injected clock.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import type { Resource } from '../../../config/api/resource.ts';
import { buildWorkloadSecurity } from '../../../discovery/translate/security/index.ts';
import { decodeAny, encodeAny } from '../../../xds/protos.ts';
import { rbacFilterFromTypedConfig } from '../rbac/rbac-filter.ts';
import { parseJwtAuthnConfig } from './config.ts';
import { JwksCache } from './jwks.ts';
import { createJwtAuthnFilter, type JwtAuthnFilter } from './jwt-filter.ts';

type Json = Record<string, unknown>;
const ISS = 'testing@secure.istio.io';
const T0 = Date.UTC(2026, 0, 1) ;

const keys = await generateKeyPair('ES256');
const other = await generateKeyPair('ES256');
const jwk: JWK = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'ES256' };
const jwks = JSON.stringify({ keys: [jwk] });

async function token(claims: Json, opts: { key?: CryptoKey; iat?: number; exp?: number } = {}): Promise<string> {
  const iat = opts.iat ?? Math.floor(T0 / 1000);
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuedAt(iat).setExpirationTime(opts.exp ?? iat + 3600).sign(opts.key ?? keys.privateKey);
}

function translate(configs: Resource[]): { jwt: Json; rbac: Json[] } {
  const sec = buildWorkloadSecurity({ workload: { namespace: 'foo', labels: { app: 'httpbin' } }, configs, rootNamespace: 'istio-system', trustDomain: 'cluster.local' });
  const wire = sec.httpFilters.map((f) => {
    const tc = f['typed_config'] as Json;
    return { name: f['name'], tc: decodeAny(encodeAny(String(tc['@type']), tc)) };
  });
  return { jwt: wire.find((w) => w.name === 'envoy.filters.http.jwt_authn')!.tc, rbac: wire.filter((w) => w.name === 'envoy.filters.http.rbac').map((w) => w.tc) };
}
const ra = (rules: Json[]): Resource => ({ apiVersion: 'security.istio.io/v1', kind: 'RequestAuthentication', metadata: { name: 'jwt', namespace: 'foo' }, spec: { jwtRules: rules } });

let clock = T0;
const now = () => clock;
function filterFor(rules: Json[], cache?: JwksCache): JwtAuthnFilter {
  return createJwtAuthnFilter(parseJwtAuthnConfig(translate([ra(rules)]).jwt), { now, ...(cache ? { jwks: cache } : {}) });
}
const get = (path: string, headers: string[] = []) => ({ method: 'GET', path, headers });

test('valid token passes with the payload for RBAC; token stripped; claim and payload headers set; forged copies removed', async () => {
  clock = T0;
  const f = filterFor([{ issuer: ISS, jwks, outputPayloadToHeader: 'x-jwt-payload', outputClaimToHeaders: [{ header: 'x-jwt-group', claim: 'group' }] }]);
  const t = await token({ iss: ISS, sub: 'alice', group: 'admins', scope: 'read write', aud: 'httpbin' });
  const out = await f(get('/headers', ['authorization', `Bearer ${t}`, 'x-jwt-group', 'forged', 'x-jwt-payload', 'forged']));
  assert.equal(out.ok, true);
  if (!out.ok) return;
  assert.equal(out.jwt?.principal, `${ISS}/alice`);
  assert.deepEqual(out.jwt?.claims['scope'], ['read', 'write'], 'scope is space-delimited');
  assert.deepEqual(out.jwt?.audiences, ['httpbin']);
  assert.deepEqual(out.headers, ['x-jwt-payload', t.split('.')[1], 'x-jwt-group', 'admins']);
});

test('missing token passes; invalid tokens get Envoy 401/403 bodies', async () => {
  clock = T0;
  const f = filterFor([{ issuer: ISS, jwks, audiences: ['httpbin'] }]);
  const missing = await f(get('/'));
  assert.equal(missing.ok, true);
  assert.equal(missing.ok && missing.jwt, undefined);
  const expect = async (headers: string[], status: number, body: string) => {
    const out = await f(get('/', headers));
    assert.equal(out.ok, false, body);
    if (!out.ok) assert.deepEqual([out.status, out.body], [status, body]);
  };
  await expect(['authorization', `Bearer ${await token({ iss: ISS, sub: 'a', aud: 'httpbin' }, { exp: Math.floor(T0 / 1000) - 120 })}`], 401, 'Jwt is expired');
  await expect(['authorization', `Bearer ${await token({ iss: ISS, sub: 'a', aud: 'httpbin' }, { key: other.privateKey })}`], 401, 'Jwt verification fails');
  await expect(['authorization', `Bearer ${await token({ iss: ISS, sub: 'a', aud: 'other' })}`], 403, 'Audiences in Jwt are not allowed');
  await expect(['authorization', `Bearer ${await token({ iss: 'https://evil', sub: 'a', aud: 'httpbin' })}`], 401, 'Jwt issuer is not configured');
  await expect(['authorization', 'Bearer deadbeef'], 401, 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections');
  // Within the 60 s clock skew an expired token still passes, as in Envoy.
  const skew = await f(get('/', ['authorization', `Bearer ${await token({ iss: ISS, sub: 'a', aud: 'httpbin' }, { exp: Math.floor(T0 / 1000) - 30 })}`]));
  assert.equal(skew.ok, true);
});

test('tokens from query parameters and cookies; forwardOriginalToken keeps the header', async () => {
  clock = T0;
  const t = await token({ iss: ISS, sub: 'bob' });
  const fromParam = filterFor([{ issuer: ISS, jwks, fromParams: ['token'] }]);
  const p = await fromParam(get(`/x?a=1&token=${t}`));
  assert.equal(p.ok && p.jwt?.principal, `${ISS}/bob`);
  const fromCookie = filterFor([{ issuer: ISS, jwks, fromCookies: ['session'] }]);
  const c = await fromCookie(get('/', ['cookie', `a=b; session=${t}`]));
  assert.equal(c.ok && c.jwt?.principal, `${ISS}/bob`);
  const forward = filterFor([{ issuer: ISS, jwks, forwardOriginalToken: true, fromHeaders: [{ name: 'x-token' }] }]);
  const fw = await forward(get('/', ['x-token', t]));
  assert.deepEqual(fw.ok && fw.headers, ['x-token', t]);
});

test('two issuers: either verifies; a token neither accepts is rejected', async () => {
  clock = T0;
  const k2 = await generateKeyPair('ES256');
  const jwks2 = JSON.stringify({ keys: [{ ...(await exportJWK(k2.publicKey)), kid: 'k1', alg: 'ES256' }] });
  const f = filterFor([{ issuer: ISS, jwks }, { issuer: 'https://second', jwks: jwks2 }]);
  const second = await new SignJWT({ iss: 'https://second', sub: 's' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuedAt(T0 / 1000).setExpirationTime(T0 / 1000 + 60).sign(k2.privateKey);
  const a = await f(get('/', ['authorization', `Bearer ${second}`]));
  assert.equal(a.ok && a.jwt?.principal, 'https://second/s');
  const b = await f(get('/', ['authorization', `Bearer ${await token({ iss: ISS, sub: 'x' })}`]));
  assert.equal(b.ok, true);
  const bad = await f(get('/', ['authorization', `Bearer ${await token({ iss: ISS, sub: 'x' }, { key: k2.privateKey })}`]));
  assert.deepEqual(!bad.ok && [bad.status, bad.body], [401, 'Jwt verification fails']);
  assert.equal((await f(get('/'))).ok, true);
});

test('remote JWKS: fetched once, cached, refreshed after cache_duration, stale keys kept when the issuer is down', async () => {
  let hits = 0;
  const server = http.createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  try {
    clock = T0;
    const cache = new JwksCache({ now });
    const f = filterFor([{ issuer: ISS, jwksUri: uri }], cache);
    const t = await token({ iss: ISS, sub: 'r' });
    const results = await Promise.all([1, 2, 3].map(() => f(get('/', ['authorization', `Bearer ${t}`]))));
    assert.ok(results.every((r) => r.ok && r.jwt?.principal === `${ISS}/r`));
    assert.equal(hits, 1, 'concurrent requests share one fetch');
    clock = T0 + 60_000;
    await f(get('/', ['authorization', `Bearer ${t}`]));
    assert.equal(hits, 1, 'fresh for 5 minutes');
    clock = T0 + 301_000;
    await f(get('/', ['authorization', `Bearer ${t}`]));
    assert.equal(hits, 2, 'refreshed when stale');
    server.close();
    server.closeAllConnections();
    await once(server, 'close');
    clock = T0 + 700_000;
    const stale = await f(get('/', ['authorization', `Bearer ${await token({ iss: ISS, sub: 'r' }, { iat: Math.floor(clock / 1000) })}`]));
    assert.equal(stale.ok, true, 'the last good key set is used while the issuer is unreachable');
    assert.equal(cache.failures, 1);
    const fresh = new JwksCache({ now });
    const g = filterFor([{ issuer: ISS, jwksUri: uri }], fresh);
    const down = await g(get('/', ['authorization', `Bearer ${t}`]));
    assert.deepEqual(!down.ok && [down.status, down.body], [401, 'Jwks remote fetch is failed']);
  } finally {
    if (server.listening) server.close();
  }
});

test('with an AuthorizationPolicy requiring a request principal, a missing token is denied by RBAC', async () => {
  clock = T0;
  const { jwt, rbac } = translate([
    ra([{ issuer: ISS, jwks }]),
    { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'require-jwt', namespace: 'foo' }, spec: { rules: [{ from: [{ source: { requestPrincipals: [`${ISS}/*`] } }] }] } },
  ]);
  const authn = createJwtAuthnFilter(parseJwtAuthnConfig(jwt), { now });
  const authz = rbacFilterFromTypedConfig(rbac[0]);
  const decide = async (headers: string[]) => {
    const a = await authn(get('/', headers));
    if (!a.ok) return a.status;
    return authz({ method: 'GET', path: '/', headers: a.headers, sourceIp: '127.0.0.1', destinationPort: 8000, ...(a.jwt ? { jwt: a.jwt } : {}) }).allowed ? 200 : 403;
  };
  assert.equal(await decide([]), 403);
  assert.equal(await decide(['authorization', `Bearer ${await token({ iss: ISS, sub: 'alice' })}`]), 200);
  assert.equal(await decide(['authorization', 'Bearer nope']), 401);
});

test('property: the jwt_authn filter answers every arbitrary request (never throws, never hangs on a bad token)', async () => {
  const fc = (await import('fast-check')).default;
  clock = T0;
  const f = filterFor([{ issuer: ISS, jwks, fromParams: ['token'], fromCookies: ['session'] }, { issuer: 'https://other', jwks, fromHeaders: [{ name: 'x-jwt', prefix: 'Bearer ' }] }]);
  const good = await token({ iss: ISS, sub: 'p' });
  const tokenish = fc.oneof(fc.string(), fc.constant(good), fc.constant(`${good}x`), fc.constant('a.b.c'), fc.constant('..'), fc.base64String());
  const header = fc.tuple(fc.constantFrom('authorization', 'x-jwt', 'cookie', 'other'), fc.oneof(tokenish.map((t) => `Bearer ${t}`), tokenish.map((t) => `session=${t}`), fc.string()));
  await fc.assert(
    fc.asyncProperty(fc.array(header, { maxLength: 4 }), fc.oneof(fc.string(), tokenish.map((t) => `/p?token=${t}`), fc.constant('/p?token=%E0%A4%A')), async (hs, path) => {
      const out = await f({ method: 'GET', path, headers: hs.flat() });
      if (out.ok) assert.ok(Array.isArray(out.headers));
      else assert.ok([401, 403].includes(out.status) && out.body.length > 0);
    }),
    { numRuns: 150 },
  );
});
