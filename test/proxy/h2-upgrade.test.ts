// h2UpgradePolicy on the proxy: an HTTP/1.1 client's request to a cluster with http2_protocol_options goes upstream
// as HTTP/2 over pooled, multiplexed sessions (max_concurrent_streams, max_connections, max_pending_requests), and
// the response comes back as HTTP/1.1 (content-length kept, chunked without it, trailers only for TE: trailers).
// Plaintext h2c and mutual TLS with ALPN h2 (identities from a real CA) against real servers.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { PassThrough } from 'node:stream';
import { formatSpiffeId } from '../../src/core/names/spiffe.ts';
import { mintBootstrapToken } from '../../src/ca/server/auth/token.ts';
import { requireTokenKeys } from '../../src/ca/server/store.ts';
import { startTestCa, tempDir } from '../../src/ca/testing/harness.ts';
import { IdentityManager } from '../../src/agent/identity/manager.ts';
import { AccessLog } from '../../src/proxy/access-log/access-log.ts';
import { ProxyEngine } from '../../src/proxy/engine.ts';
import { SecretStore } from '../../src/proxy/tls/secrets.ts';
import { unknownWorkload } from '../../src/proxy/stats/istio-metrics.ts';
import { TypeUrl } from '../../src/xds/protos.ts';
import { hcm, outboundListener, routeConfig, startProxy, viaProto, viaProxy, vhost } from './helpers.ts';
import { H2_OPTIONS, h2Cluster, startDualUpstream, startH2Upstream } from './h2-helpers.ts';

function proxyTo(cluster: ReturnType<typeof h2Cluster>, name: string): ReturnType<typeof startProxy> {
  return startProxy({ clusters: [cluster], listeners: [outboundListener(80)], routes: [routeConfig('80', [vhost('all', ['*'], [{ match: { prefix: '/' }, route: { cluster: name } }])])] });
}

/** An HTTP/1.1 request through the proxy, returning trailers too. */
function h1(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; trailers: NodeJS.Dict<string> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: `http://svc${path}`, agent: false, headers: { host: 'svc', ...opts.headers } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, trailers: res.trailers }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

test('HTTP/1.1 client → HTTP/2 cluster: the upstream sees HTTP/2; lengths kept, chunked without; trailers only with TE: trailers; bodies both framings', async (t) => {
  const up = await startH2Upstream((stream, req) => {
    switch (req.headers[':path']) {
      case '/length':
        stream.respond({ ':status': 200, 'content-length': '5', 'x-up': 'yes' });
        return void stream.end('hello');
      case '/stream':
        stream.respond({ ':status': 200 });
        stream.write('a');
        return void setImmediate(() => stream.end('b'));
      case '/trailers':
        stream.respond({ ':status': 200 }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'abc' }));
        return void stream.end('body');
      case '/empty':
        return void stream.respond({ ':status': 200, 'x-only': 'headers' }, { endStream: true });
      default:
        stream.respond({ ':status': 201 });
        stream.end(JSON.stringify({ method: req.headers[':method'], authority: req.headers[':authority'], body: req.body.toString(), connection: req.headers['connection'] ?? null, te: req.headers['te'] ?? null }));
    }
  });
  const p = await proxyTo(h2Cluster('h2', [up.port]), 'h2');
  t.after(async () => {
    p.close();
    await up.close();
  });
  const len = await h1(p.port, '/length');
  assert.equal(len.status, 200);
  assert.equal(len.headers['content-length'], '5');
  assert.equal(len.headers['x-up'], 'yes');
  assert.equal(len.body, 'hello');
  const chunked = await h1(p.port, '/stream');
  assert.equal(chunked.headers['transfer-encoding'], 'chunked');
  assert.equal(chunked.body, 'ab');
  const withTe = await h1(p.port, '/trailers', { headers: { te: 'trailers' } });
  assert.equal(withTe.body, 'body');
  assert.equal(withTe.trailers['x-checksum'], 'abc');
  const noTe = await h1(p.port, '/trailers');
  assert.equal(noTe.body, 'body');
  assert.equal(noTe.trailers['x-checksum'], undefined);
  const empty = await h1(p.port, '/empty');
  assert.equal(empty.headers['content-length'], '0');
  assert.equal(empty.headers['x-only'], 'headers');
  const post = await h1(p.port, '/echo', { method: 'POST', body: 'x'.repeat(3000), headers: { connection: 'keep-alive' } });
  assert.equal(post.status, 201);
  assert.deepEqual(JSON.parse(post.body), { method: 'POST', authority: 'svc', body: 'x'.repeat(3000), connection: null, te: null });
  const chunkedPost = await h1(p.port, '/echo', { method: 'PUT', body: 'chunked body', headers: { 'transfer-encoding': 'chunked' } });
  assert.equal(JSON.parse(chunkedPost.body).body, 'chunked body');
  assert.equal(up.sessions, 1, 'every request went over one pooled HTTP/2 session');
});

test('HTTP/2 pool: streams multiplex up to max_concurrent_streams, then new sessions open; max_connections and max_pending_requests bound them (503 UO)', async (t) => {
  const held: (() => void)[] = [];
  let waiting: (() => void) | undefined;
  let target = 0;
  const up = await startH2Upstream((stream, req) => {
    held.push(() => {
      stream.respond({ ':status': 200 });
      stream.end(String(req.headers[':path']));
    });
    if (held.length >= target) waiting?.();
  });
  const arrived = (n: number): Promise<void> => {
    target = n;
    return held.length >= n ? Promise.resolve() : new Promise((r) => (waiting = r));
  };
  const wide = await proxyTo(h2Cluster('h2', [up.port], {}, 2), 'h2');
  const tight = await proxyTo(h2Cluster('tight', [up.port], { circuit_breakers: { thresholds: [{ max_connections: { value: 1 }, max_pending_requests: { value: 1 } }] } }, 1), 'tight');
  t.after(async () => {
    wide.close();
    tight.close();
    await up.close();
  });
  const five = [1, 2, 3, 4, 5].map((i) => h1(wide.port, `/w${i}`));
  await arrived(5);
  assert.equal(up.sessions, 3, '5 concurrent streams at 2 per session → 3 sessions');
  for (const release of held.splice(0)) release();
  assert.deepEqual((await Promise.all(five)).map((r) => r.body), ['/w1', '/w2', '/w3', '/w4', '/w5']);
  // Sequential requests reuse the open sessions.
  const again = h1(wide.port, '/again');
  await arrived(1);
  for (const release of held.splice(0)) release();
  assert.equal((await again).body, '/again');
  assert.equal(up.sessions, 3);

  // One connection carrying one stream, one pending request: the third concurrent request overflows.
  const cluster = tight.engine.clusters.get('tight')!;
  const first = h1(tight.port, '/t1');
  await arrived(1);
  const second = h1(tight.port, '/t2');
  await eventually(() => cluster.pending.length === 1);
  const third = await h1(tight.port, '/t3');
  assert.equal(third.status, 503);
  assert.equal(third.headers['x-envoy-overloaded'], 'true');
  assert.equal(up.sessions, 4, 'max_connections 1: the tight cluster opened a single session');
  for (const release of held.splice(0)) release();
  assert.equal((await first).body, '/t1');
  await arrived(1);
  for (const release of held.splice(0)) release();
  assert.equal((await second).body, '/t2', 'the pending request went out when the stream slot freed');
  assert.equal(up.sessions, 4);
});

/** Wait (bounded) for a condition of the proxy's internal state that has no event of its own. */
async function eventually(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const tmp = tempDir('weft-proxy-h2-upgrade-');
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

test('ISTIO_MUTUAL with ALPN h2: HTTP/1.1 client → client sidecar → one mTLS HTTP/2 session → server sidecar → app over h2c', async (t) => {
  const ca = await startTestCa({ stateDir: tmp.dir });
  const roots = ca.cp.ca.trustBundlePem();
  const app = await startDualUpstream();
  const out = new PassThrough();
  let logText = '';
  out.on('data', (d: Buffer) => (logText += d.toString()));
  const serverLog = new AccessLog(out, 'text');
  const server = new ProxyEngine({ workload: unknownWorkload, log: () => undefined, accessLog: serverLog });
  const client = new ProxyEngine({ workload: unknownWorkload, log: () => undefined });
  t.after(async () => {
    client.close();
    server.close();
    await app.close();
    await ca.close();
  });
  server.setSecrets(await identity(ca.address, roots, 'reviews'));
  client.setSecrets(await identity(ca.address, roots, 'productpage'));
  const inboundPort = await server.listeners.bindOwn('virtualInbound', '127.0.0.1', 0, 'inbound', 'inbound');
  const inbound = 'inbound|9080||';
  server.apply(TypeUrl.cluster, [viaProto(TypeUrl.cluster, { name: inbound, type: 'STATIC', connect_timeout: { seconds: 1 }, typed_extension_protocol_options: H2_OPTIONS, load_assignment: { cluster_name: inbound, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: app.port } } } }] }] } })], '1');
  const downstreamMtls = {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
      common_tls_context: { tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: SDS }], combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: { name: 'ROOTCA', sds_config: SDS } } },
      require_client_certificate: { value: true },
    },
  };
  server.apply(TypeUrl.listener, [viaProto(TypeUrl.listener, { name: 'virtualInbound', address: { socket_address: { address: '0.0.0.0', port_value: 15006 } }, filter_chains: [{ filter_chain_match: { destination_port: { value: 9080 }, transport_protocol: 'tls' }, transport_socket: downstreamMtls, filters: [hcm({ route_config: { name: inbound, virtual_hosts: [{ name: 'inbound', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: inbound } }] }] } })] }] })], '1');
  const istioMutual = {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      common_tls_context: { alpn_protocols: ['istio-peer-exchange', 'istio'], tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: SDS }], combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: { name: 'ROOTCA', sds_config: SDS } } },
      sni: 'outbound_.9080_._.reviews.default.svc.cluster.local',
    },
  };
  const outboundPort = await client.listeners.bindOwn('virtualOutbound', '127.0.0.1', 0, 'explicit', 'outbound');
  const name = 'outbound|9080||reviews.default.svc.cluster.local';
  client.apply(TypeUrl.cluster, [viaProto(TypeUrl.cluster, { name, type: 'STATIC', connect_timeout: { seconds: 1 }, typed_extension_protocol_options: H2_OPTIONS, transport_socket: istioMutual, load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: inboundPort } } } }] }] } })], '1');
  client.apply(TypeUrl.listener, [outboundListener(9080)], '1');
  client.apply(TypeUrl.route, [routeConfig('9080', [vhost('reviews', ['reviews:9080'], [{ match: { prefix: '/' }, route: { cluster: name } }])])], '1');

  const replies = await Promise.all([viaProxy(outboundPort, 'http://reviews:9080/a'), viaProxy(outboundPort, 'http://reviews:9080/b'), viaProxy(outboundPort, 'http://reviews:9080/c')]);
  serverLog.flush();
  for (const r of replies) {
    assert.equal(r.status, 200, `${r.body}\n${logText}`);
    assert.equal(r.body, 'version=2.0');
  }
  serverLog.flush();
  const lines = logText.split('\n').filter(Boolean);
  assert.equal(lines.length, 3);
  for (const l of lines) assert.match(l, /" 200 - via_upstream .*"(GET|-)?/);
  for (const l of lines) assert.match(l, /"GET \/[abc] HTTP\/2"/, 'the mTLS hop carried HTTP/2');
  const peers = new Set(lines.map((l) => l.trim().split(' ').at(-3)));
  assert.equal(peers.size, 1, `the three requests shared one mTLS connection: ${[...peers].join(', ')}`);
});
