// Istio's security tasks across the whole stack: config (Service, Pod, PeerAuthentication, AuthorizationPolicy) →
// discovery translation (the server sidecar's real virtualInbound listener) → Weft's proxies with workload identities
// from a real CA. A client sidecar calls the server sidecar over mutual TLS; the policy allows only the `sleep`
// identity to GET; plaintext is refused once PeerAuthentication is STRICT (mutual TLS migration), accepted while PERMISSIVE.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { formatSpiffeId } from '../../src/core/names/spiffe.ts';
import { mintBootstrapToken } from '../../src/ca/server/auth/token.ts';
import { requireTokenKeys } from '../../src/ca/server/store.ts';
import { startTestCa, tempDir } from '../../src/ca/testing/harness.ts';
import { IdentityManager } from '../../src/agent/identity/manager.ts';
import { TypeUrl } from '../../src/xds/protos.ts';
import { ProxyEngine } from '../../src/proxy/engine.ts';
import { SecretStore } from '../../src/proxy/tls/secrets.ts';
import { unknownWorkload } from '../../src/proxy/stats/istio-metrics.ts';
import { generateResources } from '../../src/discovery/translate/index.ts';
import { parseYaml, sidecarProxy, snapshotOf } from '../../src/discovery/translate/fixtures.test.ts';
import { outboundListener, rawExchange, routeConfig, startUpstream, viaProto, viaProxy, vhost } from '../proxy/helpers.ts';

const tmp = tempDir('weft-mesh-authz-');
after(() => tmp.remove());
const SDS = { ads: {}, resource_api_version: 'V3' };

async function identity(address: string, roots: string, sa: string): Promise<SecretStore> {
  const m = new IdentityManager({
    caAddress: address,
    caRootsPem: roots,
    token: () => mintBootstrapToken({ keys: requireTokenKeys(tmp.dir), identity: { namespace: 'default', serviceAccount: sa }, ttlSeconds: 600 }),
    identity: { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: sa },
    ttlSeconds: 3600,
  });
  after(() => m.close());
  const store = new SecretStore();
  const id = await m.start();
  store.update({ certChainPem: id.certChainPem, keyPem: id.keyPem, rootsPem: id.rootsPem, spiffeId: formatSpiffeId(id.spiffeId) });
  return store;
}

const config = (mode: string) => parseYaml(`
apiVersion: v1
kind: Service
metadata: { name: httpbin, namespace: default }
spec: { clusterIP: 10.96.0.80, selector: { app: httpbin }, ports: [{ name: http, port: 8000, targetPort: 8000 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: httpbin-1, namespace: default, labels: { app: httpbin, security.istio.io/tlsMode: istio } }
spec: { serviceAccountName: httpbin, containers: [{ name: httpbin }] }
status: { podIP: 127.0.0.1, phase: Running }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: ${mode} } }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: httpbin-viewer, namespace: default }
spec:
  selector: { matchLabels: { app: httpbin } }
  rules:
  - from: [{ source: { principals: ["cluster.local/ns/default/sa/sleep"] } }]
    to: [{ operation: { methods: ["GET"] } }]
  - from: [{ source: { notPrincipals: ["*"] } }]
    to: [{ operation: { paths: ["/public"] } }]
`);

test('mutual TLS migration and HTTP authorization between two Weft sidecars, from translated config', async (t) => {
  const ca = await startTestCa({ stateDir: tmp.dir });
  const roots = ca.cp.ca.trustBundlePem();
  const app = await startUpstream('httpbin');
  const server = new ProxyEngine({ workload: { ...unknownWorkload, canonicalService: 'httpbin', namespace: 'default' }, log: () => undefined });
  const sleep = new ProxyEngine({ workload: unknownWorkload, log: () => undefined });
  const other = new ProxyEngine({ workload: unknownWorkload, log: () => undefined });
  t.after(async () => {
    for (const e of [sleep, other, server]) e.close();
    await app.close();
    await ca.close();
  });
  server.setSecrets(await identity(ca.address, roots, 'httpbin'));
  sleep.setSecrets(await identity(ca.address, roots, 'sleep'));
  other.setSecrets(await identity(ca.address, roots, 'other'));

  const inboundPort = await server.listeners.bindOwn('virtualInbound', '127.0.0.1', 0, 'inbound', 'inbound');
  const proxy = sidecarProxy({ ip: '127.0.0.1', name: 'httpbin-1', labels: { app: 'httpbin', 'security.istio.io/tlsMode': 'istio' } });
  /** Push the server sidecar's translated inbound listener for a PeerAuthentication mode; the app stands behind inbound|8000||. */
  const push = (mode: string, version: string): void => {
    const snap = snapshotOf(config(mode));
    const listeners = generateResources(proxy, snap, TypeUrl.listener).map((r) => r.resource).filter((l) => l['name'] === 'virtualInbound');
    assert.equal(listeners.length, 1);
    const inbound = viaProto(TypeUrl.cluster, { name: 'inbound|8000||', type: 'STATIC', connect_timeout: { seconds: 1 }, load_assignment: { cluster_name: 'inbound|8000||', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: app.port } } } }] }] } });
    assert.deepEqual(server.apply(TypeUrl.cluster, [inbound], version), []);
    assert.deepEqual(server.apply(TypeUrl.listener, listeners.map((l) => viaProto(TypeUrl.listener, l)), version), []);
  };

  // Client sidecars: auto mTLS (ISTIO_MUTUAL for tlsMode=istio endpoints) to the server's inbound port.
  const ISTIO_MUTUAL = {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      common_tls_context: { tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: SDS }], combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: { name: 'ROOTCA', sds_config: SDS } } },
      sni: 'outbound_.8000_._.httpbin.default.svc.cluster.local',
    },
  };
  const name = 'outbound|8000||httpbin.default.svc.cluster.local';
  const clientPort = async (engine: ProxyEngine): Promise<number> => {
    const port = await engine.listeners.bindOwn('virtualOutbound', '127.0.0.1', 0, 'explicit', 'outbound');
    engine.apply(TypeUrl.cluster, [viaProto(TypeUrl.cluster, { name, type: 'STATIC', connect_timeout: { seconds: 1 }, transport_socket: ISTIO_MUTUAL, load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: inboundPort } } } }] }] } })], '1');
    engine.apply(TypeUrl.listener, [outboundListener(8000)], '1');
    engine.apply(TypeUrl.route, [routeConfig('8000', [vhost('httpbin', ['httpbin:8000'], [{ match: { prefix: '/' }, route: { cluster: name } }])])], '1');
    return port;
  };
  const sleepPort = await clientPort(sleep);
  const otherPort = await clientPort(other);
  const plaintext = (path: string) => rawExchange(inboundPort, `GET ${path} HTTP/1.1\r\nHost: httpbin:8000\r\nConnection: close\r\n\r\n`);

  push('PERMISSIVE', '1');
  const ok = await viaProxy(sleepPort, 'http://httpbin:8000/headers');
  assert.deepEqual([ok.status, ok.body], [200, 'httpbin'], 'sleep may GET');
  const post = await viaProxy(sleepPort, 'http://httpbin:8000/headers', { method: 'POST', body: 'x' });
  assert.deepEqual([post.status, post.body], [403, 'RBAC: access denied'], 'but not POST');
  const stranger = await viaProxy(otherPort, 'http://httpbin:8000/headers');
  assert.deepEqual([stranger.status, stranger.body], [403, 'RBAC: access denied'], 'another identity may not');
  assert.match(await plaintext('/public'), /^HTTP\/1\.1 200 /, 'PERMISSIVE: plaintext reaches the app where the policy allows unauthenticated callers');
  assert.match(await plaintext('/headers'), /^HTTP\/1\.1 403 [^]*RBAC: access denied$/, 'plaintext has no principal');

  push('STRICT', '2');
  assert.equal((await viaProxy(sleepPort, 'http://httpbin:8000/headers')).status, 200, 'mTLS clients are unaffected by the switch to STRICT');
  assert.equal(await plaintext('/public'), '', 'STRICT: plaintext connections are refused');
});
