// CUSTOM authorization end to end at the filter level: an AuthorizationPolicy with action CUSTOM and a MeshConfig
// extension provider are translated by the control plane; the shadow RBAC selects requests; the ext_authz filter asks
// a real authorizer (HTTP server and gRPC Authorization service on 127.0.0.1:0), with timeouts and failure modes.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Resource } from '../../../config/api/resource.ts';
import { buildWorkloadSecurity, type ExtensionProvider } from '../../../discovery/translate/security/index.ts';
import { decodeAny, encodeAny, protoIncludeDirs } from '../../../xds/protos.ts';
import { StatStore } from '../../stats/stat-store.ts';
import { buildHttpSecurity } from '../../security/http-security.ts';
import { rbacFilterFromTypedConfig } from '../rbac/rbac-filter.ts';
import { parseExtAuthzConfig } from './config.ts';
import { createExtAuthzFilter, type ExtAuthzDecision, type ExtAuthzRequest } from './ext-authz-filter.ts';
import { closeGrpcClients, type CheckRequestMessage, type CheckResponseMessage } from './grpc-client.ts';

/** The Authorization service as grpc-js serves it from Envoy's own .proto files: an independent codec for the proxy's client. */
function authorizationService(): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', { keepCase: true, longs: Number, enums: String, defaults: false, oneofs: true, includeDirs: protoIncludeDirs });
  return (grpc.loadPackageDefinition(def) as unknown as { envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } } }).envoy.service.auth.v3.Authorization;
}

type Json = Record<string, unknown>;

// The HTTP authorizer behaves as Istio's sample: `x-ext-authz: allow` allows; a denial says why.
const seen: Array<{ path: string; headers: http.IncomingHttpHeaders }> = [];
const httpAuthz = http.createServer((req, res) => {
  seen.push({ path: req.url ?? '', headers: req.headers });
  if (req.headers['x-ext-authz'] === 'slow') return; // never answers: the client's timeout decides
  if (req.headers['x-ext-authz'] === 'allow') res.writeHead(200, { 'x-ext-authz-check-result': 'allowed', 'x-other': 'dropped' }).end();
  else res.writeHead(403, { 'x-ext-authz-check-result': 'denied', 'set-cookie': 'a=b' }).end('denied by ext_authz for not found header `x-ext-authz: allow` in the request');
});
httpAuthz.listen(0, '127.0.0.1');
await once(httpAuthz, 'listening');
const httpPort = (httpAuthz.address() as AddressInfo).port;

const grpcSeen: CheckRequestMessage[] = [];
const grpcServer = new grpc.Server();
grpcServer.addService(authorizationService().service, {
  Check: (call: grpc.ServerUnaryCall<CheckRequestMessage, CheckResponseMessage>, cb: grpc.sendUnaryData<CheckResponseMessage>) => {
    const h = call.request.attributes.request.http.headers;
    grpcSeen.push(call.request);
    if (h['x-ext-authz'] === 'allow') cb(null, { status: { code: 0 }, ok_response: { headers: [{ header: { key: 'x-ext-authz-check-result', value: 'allowed' } }, { header: { key: 'x-appended', value: 'second' }, append: { value: true } }], headers_to_remove: ['x-remove-me'] } });
    else cb(null, { status: { code: 7 }, denied_response: { status: { code: 'Forbidden' }, body: 'denied by grpc', headers: [{ header: { key: 'x-ext-authz-check-result', value: 'denied' } }] } });
  },
});
const grpcPort = await new Promise<number>((resolve, reject) => grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, port) => (e ? reject(e) : resolve(port))));

after(() => {
  httpAuthz.closeAllConnections();
  httpAuthz.close();
  closeGrpcClients();
  grpcServer.forceShutdown();
});

const providers: ExtensionProvider[] = [
  { name: 'http', envoyExtAuthzHttp: { service: 'ext-authz.foo.svc.cluster.local', port: 8000, includeRequestHeadersInCheck: ['x-ext-authz'], headersToUpstreamOnAllow: ['x-ext-authz-check-result'], headersToDownstreamOnDeny: ['x-ext-authz-check-result'], pathPrefix: '/check', timeout: '250ms' } },
  { name: 'grpc', envoyExtAuthzGrpc: { service: 'ext-authz.foo.svc.cluster.local', port: 9000 } },
];
const resolve = (cluster: string) => (cluster === 'outbound|8000||ext-authz.foo.svc.cluster.local' ? { host: '127.0.0.1', port: httpPort } : cluster === 'outbound|9000||ext-authz.foo.svc.cluster.local' ? { host: '127.0.0.1', port: grpcPort } : undefined);

/** CUSTOM policy for `provider` on /headers → (shadow RBAC, ext_authz) as the proxy builds them from the wire. */
function customChain(provider: string, mutate: (tc: Json) => void = () => {}) {
  const policy: Resource = { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'ext', namespace: 'foo' }, spec: { action: 'CUSTOM', provider: { name: provider }, rules: [{ to: [{ operation: { paths: ['/headers'] } }] }] } };
  const sec = buildWorkloadSecurity({ workload: { namespace: 'foo', labels: {} }, configs: [policy], rootNamespace: 'istio-system', trustDomain: 'cluster.local', extensionProviders: providers });
  const [rbacF, extF] = sec.httpFilters.map((f) => {
    const tc = f['typed_config'] as Json;
    return decodeAny(encodeAny(String(tc['@type']), tc));
  });
  mutate(extF!);
  const rbac = rbacFilterFromTypedConfig(rbacF);
  const ext = createExtAuthzFilter(parseExtAuthzConfig(extF), { resolve });
  return async (path: string, headers: string[] = []): Promise<ExtAuthzDecision> => {
    const r: ExtAuthzRequest = { method: 'GET', path, host: 'httpbin.foo:8000', headers, sourceIp: '127.0.0.1', destinationPort: 8000 };
    const d = rbac({ ...r });
    assert.equal(d.allowed, true, 'the CUSTOM RBAC filter only has shadow rules');
    const metadata: Record<string, Record<string, unknown>> = d.shadow?.policy ? { 'envoy.filters.http.rbac': { istio_ext_authz_shadow_effective_policy_id: d.shadow.policy } } : {};
    return ext({ ...r, metadata });
  };
}

test('HTTP provider: selected requests go to the authorizer; 200 allows with upstream headers; a denial is relayed', async () => {
  const check = customChain('http');
  const skipped = await check('/ip', ['x-ext-authz', 'deny']);
  assert.deepEqual(skipped.allowed && skipped.skipped, true, 'paths outside the CUSTOM rule are not sent');
  const n = seen.length;
  const ok = await check('/headers', ['x-ext-authz', 'allow', 'x-private', 'secret']);
  assert.equal(ok.allowed, true);
  assert.deepEqual(ok.allowed && ok.headers, ['x-ext-authz', 'allow', 'x-private', 'secret', 'x-ext-authz-check-result', 'allowed']);
  assert.equal(seen[n]!.path, '/check/headers');
  assert.equal(seen[n]!.headers['x-private'], undefined, 'only included headers are sent');
  const denied = await check('/headers', ['x-ext-authz', 'deny']);
  assert.equal(denied.allowed, false);
  if (!denied.allowed) {
    assert.equal(denied.status, 403);
    assert.match(denied.body, /^denied by ext_authz/);
    assert.deepEqual(denied.headers, ['x-ext-authz-check-result', 'denied'], 'only headersToDownstreamOnDeny reach the client');
  }
});

test('gRPC provider: envoy.service.auth.v3.Authorization/Check allows and denies (Weft client, grpc-js server on the real protos)', async () => {
  const check = customChain('grpc');
  const ok = await check('/headers', ['x-ext-authz', 'allow', 'x-appended', 'first', 'x-remove-me', '1']);
  assert.deepEqual(ok.allowed && ok.headers, ['x-ext-authz', 'allow', 'x-appended', 'first', 'x-ext-authz-check-result', 'allowed', 'x-appended', 'second']);
  const seenReq = grpcSeen.at(-1)!.attributes;
  assert.equal(seenReq.request.http.path, '/headers');
  assert.equal(seenReq.request.http.method, 'GET');
  assert.equal(seenReq.request.http.headers[':authority'], 'httpbin.foo:8000');
  assert.equal(seenReq.source.address.socket_address.address, '127.0.0.1');
  assert.equal(seenReq.destination.address.socket_address.port_value, 8000);
  const denied = await check('/headers', ['x-ext-authz', 'no']);
  assert.deepEqual(!denied.allowed && [denied.status, denied.body, denied.headers], [403, 'denied by grpc', ['x-ext-authz-check-result', 'denied']]);
});

test('timeouts and an unreachable authorizer: status_on_error, or allow with failure_mode_allow', async () => {
  const check = customChain('http');
  const slow = await check('/headers', ['x-ext-authz', 'slow']);
  assert.deepEqual(!slow.allowed && slow.status, 403);
  const open = customChain('http', (tc) => {
    tc['failure_mode_allow'] = true;
  });
  const allowed = await open('/headers', ['x-ext-authz', 'slow']);
  assert.deepEqual(allowed.allowed && [allowed.failedOpen, allowed.headers], [true, ['x-ext-authz', 'slow']], 'no marker header unless failure_mode_allow_header_add');
  const marked = customChain('http', (tc) => {
    tc['failure_mode_allow'] = true;
    tc['failure_mode_allow_header_add'] = true;
  });
  const allowedMarked = await marked('/headers', ['x-ext-authz', 'slow']);
  assert.deepEqual(allowedMarked.allowed && allowedMarked.headers.slice(-2), ['x-envoy-auth-failure-mode-allowed', 'true']);
  const down = createExtAuthzFilter(parseExtAuthzConfig({ grpc_service: { envoy_grpc: { cluster_name: 'nowhere' }, timeout: { nanos: 300_000_000 } }, status_on_error: { code: 'ServiceUnavailable' } }), { resolve: () => ({ host: '127.0.0.1', port: 1 }) });
  const d = await down({ method: 'GET', path: '/', host: 'h', headers: [], sourceIp: '127.0.0.1', destinationPort: 80 });
  assert.deepEqual(!d.allowed && d.status, 503);
});

test('counters as Envoy names them: an authorizer error let through by failure_mode_allow is error + failure_mode_allowed, never ok', async () => {
  const store = new StatStore();
  const filter = (failOpen: boolean) => ({
    name: 'envoy.filters.http.ext_authz',
    typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz', grpc_service: { envoy_grpc: { cluster_name: 'authz' }, timeout: { nanos: 300_000_000 } }, failure_mode_allow: failOpen },
  });
  const req = { method: 'GET', path: '/', host: 'h', headers: ['x-ext-authz', 'allow'], sourceIp: '127.0.0.1', destinationPort: 80 };
  const count = (prefix: string): Record<string, number> => Object.fromEntries(['ok', 'denied', 'error', 'failure_mode_allowed'].map((k) => [k, store.counter(`http.${prefix}.ext_authz.${k}`).value]));
  // An unreachable authorizer (nothing listens on port 1), failing open and closed.
  const open = buildHttpSecurity([filter(true)], { resolve: () => ({ host: '127.0.0.1', port: 1 }) }, { store, statPrefix: 'open' })!;
  assert.equal((await open.run(req)).kind, 'continue');
  assert.deepEqual(count('open'), { ok: 0, denied: 0, error: 1, failure_mode_allowed: 1 });
  const closed = buildHttpSecurity([filter(false)], { resolve: () => ({ host: '127.0.0.1', port: 1 }) }, { store, statPrefix: 'closed' })!;
  const refused = await closed.run(req);
  assert.deepEqual(refused.kind === 'respond' && [refused.status, refused.flag], [403, 'UAEX']);
  assert.deepEqual(count('closed'), { ok: 0, denied: 0, error: 1, failure_mode_allowed: 0 });
  // The real authorizer: allowed is ok, denied is denied.
  const live = buildHttpSecurity([filter(false)], { resolve: () => ({ host: '127.0.0.1', port: grpcPort }) }, { store, statPrefix: 'live' })!;
  assert.equal((await live.run(req)).kind, 'continue');
  assert.equal((await live.run({ ...req, headers: [] })).kind, 'respond');
  assert.deepEqual(count('live'), { ok: 1, denied: 1, error: 0, failure_mode_allowed: 0 });
});

test('the gRPC authorizer client loads neither @grpc/grpc-js nor protobufjs', async () => {
  const { spawnSync } = await import('node:child_process');
  const probe = `const m = await import(${JSON.stringify(new URL('./grpc-client.ts', import.meta.url).href)});
m.encodeCheckRequest({ attributes: { source: { address: { socket_address: { address: '1.2.3.4', port_value: 1 } }, principal: '' }, destination: { address: { socket_address: { address: '', port_value: 2 } }, principal: '' }, request: { http: { id: '', method: 'GET', headers: {}, path: '/', host: 'h', scheme: 'http', protocol: 'HTTP/1.1' } } } });
const { createRequire } = await import('node:module');
const r = createRequire(import.meta.url);
const loaded = Object.keys(r.cache).filter((k) => /@grpc[\\/]grpc-js|protobufjs/.test(k));
console.log(JSON.stringify(loaded));`;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout.trim()), []);
});
