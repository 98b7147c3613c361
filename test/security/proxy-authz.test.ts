// Security through the real proxy: Istio policies translated by the control plane's security translation, carried
// in the HTTP connection manager of an xDS listener, enforced by Weft's proxy on real sockets — HTTP authorization
// (with path normalisation), explicit deny, JWT authentication, and external authorization (an HTTP authorizer here).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { Resource } from '../../src/config/api/resource.ts';
import { buildWorkloadSecurity, hcmPathNormalization, type ExtensionProvider } from '../../src/discovery/translate/security/index.ts';
import { TypeUrl } from '../../src/xds/protos.ts';
import type { Raw } from '../../src/proxy/config/raw.ts';
import { routeConfig, startProxy, startUpstream, staticCluster, viaProto, viaProxy, vhost } from '../proxy/helpers.ts';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };

let lastProxyPort = 0;
const res = (kind: string, name: string, spec: Raw): Resource => ({ apiVersion: 'security.istio.io/v1', kind, metadata: { name, namespace: 'foo' }, spec });

/** A proxy whose listener for port 8000 carries the translated security filters, routing to the httpbin app. */
async function proxyFor(policies: Resource[], providers: ExtensionProvider[] = [], clusters: Raw[] = []) {
  const app = await startUpstream('httpbin', (req, resp) => {
    resp.setHeader('x-seen-path', req.url ?? '');
    resp.setHeader('x-seen-auth', String(req.headers['authorization'] ?? '-'));
    resp.setHeader('x-seen-payload', String(req.headers['x-jwt-payload'] ?? '-'));
    resp.setHeader('x-seen-check', String(req.headers['x-ext-authz-check-result'] ?? '-'));
    resp.end('httpbin');
  });
  const sec = buildWorkloadSecurity({ workload: { namespace: 'foo', labels: { app: 'httpbin' } }, configs: policies, rootNamespace: 'istio-system', trustDomain: 'cluster.local', extensionProviders: providers });
  const listener = viaProto(TypeUrl.listener, {
    name: '0.0.0.0_8000',
    address: { socket_address: { address: '0.0.0.0', port_value: 8000 } },
    bind_to_port: { value: false },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: {
      '@type': HCM, stat_prefix: 'inbound_0.0.0.0_8000', rds: { route_config_name: '8000', config_source: { ads: {} } },
      http_filters: [...sec.httpFilters, ROUTER], ...hcmPathNormalization('DECODE_AND_MERGE_SLASHES'),
    } }] }],
  });
  const proxy = await startProxy({
    clusters: [staticCluster('inbound|8000||', [app.port]), ...clusters],
    listeners: [listener],
    routes: [routeConfig('8000', [vhost('httpbin', ['*'], [{ match: { prefix: '/' }, route: { cluster: 'inbound|8000||' } }])])],
  });
  lastProxyPort = proxy.port;
  after(async () => {
    proxy.close();
    await app.close();
  });
  return (path: string, headers: Record<string, string> = {}, method = 'GET') => viaProxy(proxy.port, `http://httpbin.foo:8000${path}`, { method, headers });
}

test('HTTP authorization and explicit deny: 403 RBAC: access denied; /a/../admin, %2F and // do not bypass', async () => {
  const get = await proxyFor([
    res('AuthorizationPolicy', 'allow-get', { selector: { matchLabels: { app: 'httpbin' } }, rules: [{ to: [{ operation: { methods: ['GET'] } }] }] }),
    res('AuthorizationPolicy', 'deny-admin', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin', '/admin/*'] } }] }] }),
  ]);
  const ok = await get('/headers');
  assert.deepEqual([ok.status, ok.body], [200, 'httpbin']);
  const post = await get('/headers', {}, 'POST');
  assert.deepEqual([post.status, post.body], [403, 'RBAC: access denied']);
  for (const p of ['/admin', '/a/../admin', '/%61dmin', '//admin', '/admin%2Fusers', '/public/..%2Fadmin']) {
    const r = await get(p);
    assert.deepEqual([r.status, r.body], [403, 'RBAC: access denied'], p);
  }
  const norm = await get('/x/../status//ok');
  assert.equal(norm.status, 200);
  assert.equal(norm.headers['x-seen-path'], '/status/ok', 'the upstream gets the normalised path RBAC decided on');
});

test('JWT authentication: 401 for a bad token, 403 without one when a principal is required, 200 with a good one', async () => {
  const keys = await generateKeyPair('ES256');
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(keys.publicKey)), kid: 'k' }] });
  const get = await proxyFor([
    res('RequestAuthentication', 'jwt', { jwtRules: [{ issuer: 'testing@secure.istio.io', jwks, outputPayloadToHeader: 'x-jwt-payload' }] }),
    res('AuthorizationPolicy', 'require-jwt', { rules: [{ from: [{ source: { requestPrincipals: ['testing@secure.istio.io/*'] } }] }] }),
  ]);
  const token = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'ES256', kid: 'k' }).setIssuer('testing@secure.istio.io').setExpirationTime('1h').sign(keys.privateKey);
  const good = await get('/headers', { authorization: `Bearer ${token}` });
  assert.equal(good.status, 200);
  assert.equal(good.headers['x-seen-auth'], '-', 'the token is removed before the app');
  assert.equal(good.headers['x-seen-payload'], token.split('.')[1]);
  const none = await get('/headers');
  assert.deepEqual([none.status, none.body], [403, 'RBAC: access denied']);
  const bad = await get('/headers', { authorization: `Bearer ${token.slice(0, -6)}AAAAAA` });
  assert.deepEqual([bad.status, bad.body], [401, 'Jwt verification fails']);
  assert.match(String(bad.headers['www-authenticate']), /^Bearer realm=/);
});

test('external authorization (CUSTOM, HTTP provider): the authorizer allows, denies, and adds headers', async () => {
  const authz = http.createServer((req, resp) => {
    if (req.headers['x-ext-authz'] === 'allow') resp.writeHead(200, { 'x-ext-authz-check-result': 'allowed' }).end();
    else resp.writeHead(403, { 'x-ext-authz-check-result': 'denied' }).end('denied by ext_authz');
  });
  authz.listen(0, '127.0.0.1');
  await once(authz, 'listening');
  after(() => {
    authz.closeAllConnections();
    authz.close();
  });
  const port = (authz.address() as AddressInfo).port;
  const providers: ExtensionProvider[] = [{ name: 'sample-ext-authz-http', envoyExtAuthzHttp: { service: 'ext-authz.foo.svc.cluster.local', port: 8000, includeRequestHeadersInCheck: ['x-ext-authz'], headersToUpstreamOnAllow: ['x-ext-authz-check-result'], headersToDownstreamOnDeny: ['x-ext-authz-check-result'] } }];
  const get = await proxyFor(
    [res('AuthorizationPolicy', 'ext-authz', { action: 'CUSTOM', provider: { name: 'sample-ext-authz-http' }, rules: [{ to: [{ operation: { paths: ['/headers'] } }] }] })],
    providers,
    [staticCluster('outbound|8000||ext-authz.foo.svc.cluster.local', [port])],
  );
  const allowed = await get('/headers', { 'x-ext-authz': 'allow' });
  assert.equal(allowed.status, 200, allowed.body);
  assert.equal(allowed.headers['x-seen-check'], 'allowed');
  const denied = await get('/headers', { 'x-ext-authz': 'deny' });
  assert.deepEqual([denied.status, denied.body, denied.headers['x-ext-authz-check-result']], [403, 'denied by ext_authz', 'denied']);
  const other = await get('/ip', { 'x-ext-authz': 'deny' });
  assert.equal(other.status, 200, 'paths outside the CUSTOM rule are not sent to the authorizer');
});

test('TCP authorization: envoy.filters.network.rbac on a tcp_proxy chain allows by port and source, else closes', async () => {
  const net = await import('node:net');
  const echo = net.createServer((s) => s.pipe(s));
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  const freePort = async (): Promise<number> => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1');
    await once(s, 'listening');
    const p = (s.address() as AddressInfo).port;
    await new Promise((r) => s.close(r));
    return p;
  };
  const port = await freePort();
  const sec = buildWorkloadSecurity({
    workload: { namespace: 'foo', labels: {} },
    configs: [res('AuthorizationPolicy', 'tcp', { rules: [{ from: [{ source: { ipBlocks: ['127.0.0.0/8'] } }], to: [{ operation: { ports: [String(port)] } }] }] })],
    rootNamespace: 'istio-system',
    trustDomain: 'cluster.local',
  });
  const listener = (p: number) => viaProto(TypeUrl.listener, {
    name: `tcp_${p}`,
    address: { socket_address: { address: '127.0.0.1', port_value: p } },
    filter_chains: [{ filters: [...sec.tcpFilters, { name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 'tcp', cluster: 'echo' } }] }],
  });
  const other = await freePort();
  const proxy = await startProxy({ clusters: [staticCluster('echo', [(echo.address() as AddressInfo).port])], listeners: [listener(port), listener(other)] });
  after(() => {
    proxy.close();
    echo.close();
  });
  for (const name of [`tcp_${port}`, `tcp_${other}`]) {
    const b = proxy.engine.listeners.bound.get(name);
    assert.ok(b, name);
    if (!b.server.listening) await once(b.server, 'listening');
  }
  const talk = (p: number): Promise<string> =>
    new Promise((resolve) => {
      const s = net.connect(p, '127.0.0.1');
      let got = '';
      s.on('data', (d) => {
        got += d.toString();
        if (got === 'ping') s.end();
      });
      s.on('close', () => resolve(got));
      s.on('error', () => resolve(got));
      s.write('ping');
    });
  assert.equal(await talk(port), 'ping', 'the allowed port proxies bytes');
  assert.equal(await talk(other), '', 'a port no ALLOW rule names is closed before any byte');
});

test('HTTP/2 (h2c prior knowledge) goes through the same authorization: no bypass by protocol', async () => {
  const http2 = await import('node:http2');
  const get = await proxyFor([res('AuthorizationPolicy', 'deny-admin', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin', '/admin/*'] } }] }] })]);
  assert.equal((await get('/ok')).status, 200);
  const port = lastProxyPort;
  const session = http2.connect(`http://127.0.0.1:${port}`);
  after(() => session.close());
  const h2get = (path: string): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const r = session.request({ ':method': 'GET', ':path': path, ':authority': 'httpbin.foo:8000' });
      let body = '';
      let status = 0;
      r.on('response', (h) => (status = Number(h[':status'])));
      r.on('data', (d: Buffer) => (body += d.toString()));
      r.on('end', () => resolve({ status, body }));
      r.on('error', reject);
      r.end();
    });
  assert.deepEqual(await h2get('/admin/x'), { status: 403, body: 'RBAC: access denied' });
  assert.deepEqual(await h2get('/a/../admin'), { status: 403, body: 'RBAC: access denied' });
  assert.equal((await h2get('/status')).status, 200);
});

test('claim-based routing at the ingress gateway: @request.auth.claims.group routes by the verified JWT', async () => {
  const { generateResources } = await import('../../src/discovery/translate/index.ts');
  const { parseYaml, sidecarProxy, snapshotOf } = await import('../../src/discovery/translate/fixtures.test.ts');
  const keys = await generateKeyPair('ES256');
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(keys.publicKey)), kid: 'k' }] });
  const v1 = await startUpstream('v1');
  const v2 = await startUpstream('v2');
  after(async () => {
    await v1.close();
    await v2.close();
  });
  // Istio supports claim-based routing on gateways only (the validator says so for sidecar VirtualServices).
  const snap = snapshotOf(parseYaml(`
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: istio-system }
spec: { selector: { istio: ingressgateway }, servers: [{ port: { number: 8080, name: http, protocol: HTTP }, hosts: ["*"] }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: httpbin, namespace: istio-system }
spec:
  hosts: [httpbin.example.com]
  gateways: [gw]
  http:
  - match: [{ headers: { "@request.auth.claims.group": { exact: group1 } } }]
    route: [{ destination: { host: v2.upstream, port: { number: 80 } } }]
  - route: [{ destination: { host: v1.upstream, port: { number: 80 } } }]
`));
  const gw = sidecarProxy({ ip: '10.0.0.5', name: 'istio-ingressgateway-1', namespace: 'istio-system', type: 'router', labels: { istio: 'ingressgateway' } });
  const routes = generateResources(gw, snap, TypeUrl.route).map((r) => viaProto(TypeUrl.route, r.resource));
  const routeName = String(routes[0]?.['name']);
  const sec = buildWorkloadSecurity({ workload: { namespace: 'istio-system', labels: { istio: 'ingressgateway' } }, configs: [{ ...res('RequestAuthentication', 'jwt', { jwtRules: [{ issuer: 'testing@secure.istio.io', jwks }] }), metadata: { name: 'jwt', namespace: 'istio-system' } }], rootNamespace: 'istio-system', trustDomain: 'cluster.local' });
  const listener = viaProto(TypeUrl.listener, {
    name: '0.0.0.0_8080', address: { socket_address: { address: '0.0.0.0', port_value: 8080 } }, bind_to_port: { value: false },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: { '@type': HCM, stat_prefix: 'outbound_0.0.0.0_8080', rds: { route_config_name: routeName, config_source: { ads: {} } }, http_filters: [...sec.httpFilters, ROUTER] } }] }],
  });
  const proxy = await startProxy({
    clusters: [staticCluster('outbound|80||v1.upstream', [v1.port]), staticCluster('outbound|80||v2.upstream', [v2.port])],
    listeners: [listener],
    routes,
  });
  after(() => proxy.close());
  const tokenFor = (group: string) => new SignJWT({ sub: 'u', group }).setProtectedHeader({ alg: 'ES256', kid: 'k' }).setIssuer('testing@secure.istio.io').setExpirationTime('1h').sign(keys.privateKey);
  const call = async (headers: Record<string, string>) => (await viaProxy(proxy.port, 'http://httpbin.example.com:8080/headers', { headers })).body;
  assert.equal(await call({ authorization: `Bearer ${await tokenFor('group1')}` }), 'v2');
  assert.equal(await call({ authorization: `Bearer ${await tokenFor('group2')}` }), 'v1');
  assert.equal(await call({}), 'v1', 'no token: the claim route does not match');
  assert.equal(await call({ 'x-group': 'group1' }), 'v1');
});
