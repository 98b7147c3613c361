// Sidecar to sidecar over mutual TLS with identities from a real CA (the identity library, Istio's CSR API):
// client sidecar (explicit outbound, ISTIO_MUTUAL cluster via transport_socket_matches) → server sidecar inbound
// (TLS detected, SPIFFE client validated) → app. openssl sees the server's SPIFFE certificate; plaintext to a STRICT
// port is refused; the server's metrics carry mutual_tls and the client's principal.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { formatSpiffeId } from '../../src/core/names/spiffe.ts';
import { mintBootstrapToken } from '../../src/ca/server/auth/token.ts';
import { requireTokenKeys } from '../../src/ca/server/store.ts';
import { startTestCa, tempDir } from '../../src/ca/testing/harness.ts';
import { IdentityManager } from '../../src/agent/identity/manager.ts';
import { TypeUrl } from '../../src/xds/protos.ts';
import { ProxyEngine } from '../../src/proxy/engine.ts';
import { SecretStore } from '../../src/proxy/tls/secrets.ts';
import { unknownWorkload } from '../../src/proxy/stats/istio-metrics.ts';
import { hcm, outboundListener, rawExchange, routeConfig, startUpstream, viaProto, viaProxy, vhost } from './helpers.ts';

const tmp = tempDir('weft-proxy-mtls-');
after(() => tmp.remove());

const SDS = { ads: {}, resource_api_version: 'V3' };
const ISTIO_MUTUAL = {
  name: 'envoy.transport_sockets.tls',
  typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
    common_tls_context: {
      alpn_protocols: ['istio-peer-exchange', 'istio'],
      tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: SDS }],
      combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: { name: 'ROOTCA', sds_config: SDS } },
    },
    sni: 'outbound_.9080_._.reviews.default.svc.cluster.local',
  },
};
const DOWNSTREAM_MTLS = {
  name: 'envoy.transport_sockets.tls',
  typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
    common_tls_context: {
      tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: SDS }],
      combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: { name: 'ROOTCA', sds_config: SDS } },
    },
    require_client_certificate: { value: true },
  },
};

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
  m.on('rotated', (n) => store.update({ certChainPem: n.certChainPem, keyPem: n.keyPem, rootsPem: n.rootsPem, spiffeId: formatSpiffeId(n.spiffeId) }));
  return store;
}

test('client sidecar → mTLS → server sidecar → app; openssl sees the SPIFFE cert; plaintext to STRICT is refused', async (t) => {
  const ca = await startTestCa({ stateDir: tmp.dir });
  const roots = ca.cp.ca.trustBundlePem();
  const app = await startUpstream('reviews-app');
  const server = new ProxyEngine({ workload: { ...unknownWorkload, canonicalService: 'reviews', namespace: 'default' }, log: () => undefined });
  const client = new ProxyEngine({ workload: unknownWorkload, log: () => undefined });
  t.after(async () => {
    client.close();
    server.close();
    await app.close();
    await ca.close();
  });
  server.setSecrets(await identity(ca.address, roots, 'reviews'));
  client.setSecrets(await identity(ca.address, roots, 'productpage'));

  // Server sidecar: virtualInbound with a mutual-TLS-only (STRICT) chain for 9080 → inbound|9080|| → the app.
  const inboundPort = await server.listeners.bindOwn('virtualInbound', '127.0.0.1', 0, 'inbound', 'inbound');
  server.apply(TypeUrl.cluster, [viaProto(TypeUrl.cluster, { name: 'inbound|9080||', type: 'STATIC', connect_timeout: { seconds: 1 }, load_assignment: { cluster_name: 'inbound|9080||', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: app.port } } } }] }] } })], '1');
  server.apply(
    TypeUrl.listener,
    [
      viaProto(TypeUrl.listener, {
        name: 'virtualInbound',
        address: { socket_address: { address: '0.0.0.0', port_value: 15006 } },
        filter_chains: [
          {
            name: 'inbound|9080||-mtls',
            filter_chain_match: { destination_port: { value: 9080 }, transport_protocol: 'tls' },
            transport_socket: DOWNSTREAM_MTLS,
            filters: [hcm({ route_config: { name: 'inbound|9080||', virtual_hosts: [{ name: 'inbound|http|9080', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'inbound|9080||' } }] }] } })],
          },
        ],
      }),
    ],
    '1',
  );

  // Client sidecar: ISTIO_MUTUAL to endpoints labelled tlsMode=istio (auto mTLS), the endpoint being the server's inbound port.
  const outboundPort = await client.listeners.bindOwn('virtualOutbound', '127.0.0.1', 0, 'explicit', 'outbound');
  const name = 'outbound|9080||reviews.default.svc.cluster.local';
  client.apply(
    TypeUrl.cluster,
    [
      viaProto(TypeUrl.cluster, {
        name,
        type: 'EDS',
        connect_timeout: { seconds: 1 },
        eds_cluster_config: { service_name: name, eds_config: { ads: {} } },
        transport_socket_matches: [
          { name: 'tlsMode-istio', match: { fields: { tlsMode: { stringValue: 'istio' } } }, transport_socket: ISTIO_MUTUAL },
          { name: 'tlsMode-disabled', match: {}, transport_socket: { name: 'envoy.transport_sockets.raw_buffer', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer' } } },
        ],
      }),
    ],
    '1',
  );
  client.apply(
    TypeUrl.endpoint,
    [
      viaProto(TypeUrl.endpoint, {
        cluster_name: name,
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: inboundPort } } }, metadata: { filter_metadata: { 'envoy.transport_socket_match': { fields: { tlsMode: { stringValue: 'istio' } } } } } }] }],
      }),
    ],
    '1',
  );
  client.apply(TypeUrl.listener, [outboundListener(9080)], '1');
  client.apply(TypeUrl.route, [routeConfig('9080', [vhost('reviews', ['reviews:9080'], [{ match: { prefix: '/' }, route: { cluster: name } }])])], '1');

  const r = await viaProxy(outboundPort, 'http://reviews:9080/reviews/0');
  assert.equal(r.status, 200, r.body);
  assert.equal(r.body, 'reviews-app');
  const seen = app.requests[0]!.headers;
  assert.equal(seen['x-forwarded-client-cert'], 'By=spiffe://cluster.local/ns/default/sa/reviews;URI=spiffe://cluster.local/ns/default/sa/productpage');

  const { stdout } = await promisify(execFile)('sh', ['-c', `openssl s_client -connect 127.0.0.1:${inboundPort} -servername outbound_.9080_._.reviews.default.svc.cluster.local </dev/null 2>/dev/null | openssl x509 -noout -ext subjectAltName`]);
  assert.match(stdout, /URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/reviews/);

  const plain = await rawExchange(inboundPort, 'GET / HTTP/1.1\r\nHost: reviews:9080\r\n\r\n');
  assert.equal(plain, '', 'STRICT: a plaintext request gets no response, the connection is closed');

  const prom = server.metrics.render();
  assert.match(prom, /istio_requests_total\{reporter="destination",source_workload="productpage",[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/productpage"[^}]*response_code="200"[^}]*connection_security_policy="mutual_tls"\} 1/);
});

test('regression: an ISTIO_MUTUAL cluster without a workload certificate answers 503 UF (the process does not crash)', async (t) => {
  const app = await startUpstream('unreached');
  const engine = new ProxyEngine({ workload: unknownWorkload, log: () => undefined });
  t.after(async () => {
    engine.close();
    await app.close();
  });
  const port = await engine.listeners.bindOwn('virtualOutbound', '127.0.0.1', 0, 'explicit', 'outbound');
  engine.apply(TypeUrl.cluster, [viaProto(TypeUrl.cluster, { name: 'mtls', type: 'STATIC', connect_timeout: { seconds: 1 }, transport_socket: ISTIO_MUTUAL, load_assignment: { cluster_name: 'mtls', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: app.port } } } }] }] } })], '1');
  engine.apply(TypeUrl.listener, [outboundListener(80)], '1');
  engine.apply(TypeUrl.route, [routeConfig('80', [vhost('all', ['*'], [{ match: { prefix: '/' }, route: { cluster: 'mtls' } }])])], '1');
  for (let i = 0; i < 2; i++) {
    const r = await viaProxy(port, 'http://svc/');
    assert.equal(r.status, 503);
    assert.match(r.body, /no workload certificate/);
  }
});

test('auto mTLS: an endpoint whose metadata says tlsMode=disabled (no sidecar) gets plaintext', async (t) => {
  const app = await startUpstream('plain-app');
  const engine = new ProxyEngine({ workload: unknownWorkload, log: () => undefined });
  t.after(async () => {
    engine.close();
    await app.close();
  });
  const port = await engine.listeners.bindOwn('virtualOutbound', '127.0.0.1', 0, 'explicit', 'outbound');
  engine.apply(
    TypeUrl.cluster,
    [
      viaProto(TypeUrl.cluster, {
        name: 'auto',
        type: 'STATIC',
        connect_timeout: { seconds: 1 },
        transport_socket_matches: [
          { name: 'tlsMode-istio', match: { fields: { tlsMode: { stringValue: 'istio' } } }, transport_socket: ISTIO_MUTUAL },
          { name: 'tlsMode-disabled', match: {}, transport_socket: { name: 'envoy.transport_sockets.raw_buffer' } },
        ],
        load_assignment: {
          cluster_name: 'auto',
          endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: app.port } } }, metadata: { filter_metadata: { 'envoy.transport_socket_match': { fields: { tlsMode: { stringValue: 'disabled' } } } } } }] }],
        },
      }),
    ],
    '1',
  );
  engine.apply(TypeUrl.listener, [outboundListener(80)], '1');
  engine.apply(TypeUrl.route, [routeConfig('80', [vhost('all', ['*'], [{ match: { prefix: '/' }, route: { cluster: 'auto' } }])])], '1');
  const r = await viaProxy(port, 'http://svc/');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'plain-app');
});

test('gRPC over HTTP/2: app → client sidecar (h2c) → mTLS with ALPN h2 → server sidecar → gRPC server', async (t) => {
  const grpc = await import('@grpc/grpc-js');
  const bytes = (b: Buffer): Buffer => b;
  const service = { Echo: { path: '/test.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: bytes, requestDeserialize: bytes, responseSerialize: bytes, responseDeserialize: bytes } };
  const gserver = new grpc.Server();
  gserver.addService(service, {
    Echo: (call: import('@grpc/grpc-js').ServerUnaryCall<Buffer, Buffer>, cb: import('@grpc/grpc-js').sendUnaryData<Buffer>) => cb(null, Buffer.from(`${String(call.metadata.get('x-forwarded-client-cert')[0])}|${call.request.toString()}`)),
  });
  const gport = await new Promise<number>((resolve, reject) => gserver.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const ca = await startTestCa({ stateDir: tmp.dir });
  const roots = ca.cp.ca.trustBundlePem();
  const server = new ProxyEngine({ workload: unknownWorkload, log: () => undefined });
  const client = new ProxyEngine({ workload: unknownWorkload, log: () => undefined });
  const H2 = { typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicit_http_config: { http2_protocol_options: {} } } } };
  server.setSecrets(await identity(ca.address, roots, 'greeter'));
  client.setSecrets(await identity(ca.address, roots, 'frontend'));
  const inboundPort = await server.listeners.bindOwn('virtualInbound', '127.0.0.1', 0, 'inbound', 'inbound');
  server.apply(TypeUrl.cluster, [viaProto(TypeUrl.cluster, { name: 'inbound|9090||', type: 'STATIC', connect_timeout: { seconds: 1 }, ...H2, load_assignment: { cluster_name: 'inbound|9090||', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: gport } } } }] }] } })], '1');
  server.apply(TypeUrl.listener, [viaProto(TypeUrl.listener, { name: 'virtualInbound', address: { socket_address: { address: '0.0.0.0', port_value: 15006 } }, filter_chains: [{ filter_chain_match: { destination_port: { value: 9090 }, transport_protocol: 'tls' }, transport_socket: DOWNSTREAM_MTLS, filters: [hcm({ route_config: { name: 'inbound|9090||', virtual_hosts: [{ name: 'inbound', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'inbound|9090||' } }] }] } })] }] })], '1');
  const outboundPort = await client.listeners.bindOwn('virtualOutbound', '127.0.0.1', 0, 'explicit', 'outbound');
  const name = 'outbound|9090||greeter.default.svc.cluster.local';
  const tlsGreeter = { ...ISTIO_MUTUAL, typed_config: { ...ISTIO_MUTUAL.typed_config, sni: 'outbound_.9090_._.greeter.default.svc.cluster.local' } };
  client.apply(TypeUrl.cluster, [viaProto(TypeUrl.cluster, { name, type: 'STATIC', connect_timeout: { seconds: 1 }, ...H2, transport_socket: tlsGreeter, load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: inboundPort } } } }] }] } })], '1');
  client.apply(TypeUrl.listener, [outboundListener(9090)], '1');
  client.apply(TypeUrl.route, [routeConfig('9090', [vhost('greeter', ['greeter:9090'], [{ match: { prefix: '/' }, route: { cluster: name } }])])], '1');
  const Client = grpc.makeGenericClientConstructor(service, 'Echo');
  const c = new Client(`127.0.0.1:${outboundPort}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'greeter:9090', 'grpc.enable_http_proxy': 0 });
  t.after(async () => {
    c.close();
    client.close();
    server.close();
    gserver.forceShutdown();
    await ca.close();
  });
  const reply = await new Promise<Buffer>((resolve, reject) => (c as unknown as { Echo: (r: Buffer, cb: (e: Error | null, v?: Buffer) => void) => void }).Echo(Buffer.from('hello'), (e, v) => (e ? reject(e) : resolve(v!))));
  assert.equal(reply.toString(), 'By=spiffe://cluster.local/ns/default/sa/greeter;URI=spiffe://cluster.local/ns/default/sa/frontend|hello');
});
