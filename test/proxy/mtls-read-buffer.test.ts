// TLS sockets read into the shared read buffers too: the client sidecar's upstream mTLS connections (tls.connect's
// `onread`) and the server sidecar's inbound TLS connections after their first request (http1/read-buffer.ts on the
// TLSSocket). A later read must never overwrite bytes still in use, so random bodies cross both sidecars both ways
// over keep-alive connections — echoed uploads, a large download read slowly, an upload to an app that does not read
// for a while, concurrently — with the accepted-socket switch on (production) and off (the public 'data' path).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as tls from 'node:tls';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { formatSpiffeId } from '../../src/core/names/spiffe.ts';
import { mintBootstrapToken } from '../../src/ca/server/auth/token.ts';
import { requireTokenKeys } from '../../src/ca/server/store.ts';
import { startTestCa, tempDir } from '../../src/ca/testing/harness.ts';
import { IdentityManager } from '../../src/agent/identity/manager.ts';
import { TypeUrl } from '../../src/xds/protos.ts';
import { ProxyEngine } from '../../src/proxy/engine.ts';
import { SecretStore } from '../../src/proxy/tls/secrets.ts';
import { unknownWorkload } from '../../src/proxy/stats/istio-metrics.ts';
import { readIntoBuffer, setAcceptedSocketReuse } from '../../src/proxy/http1/read-buffer.ts';
import { hcm, outboundListener, routeConfig, startUpstream, viaProto, vhost } from './helpers.ts';

const tmp = tempDir('weft-proxy-mtls-rb-');
after(() => tmp.remove());

const BIG = randomBytes(6 * 1024 * 1024);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const SDS = { ads: {}, resource_api_version: 'V3' };
const TLS_CONTEXT = {
  tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: SDS }],
  combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: { name: 'ROOTCA', sds_config: SDS } },
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
  return store;
}

/** app ← server sidecar (inbound, mTLS only) ← mTLS ← client sidecar (explicit outbound): the client sidecar's port. */
async function setup(t: { after(fn: () => unknown): void }): Promise<number> {
  const ca = await startTestCa({ stateDir: tmp.dir });
  const roots = ca.cp.ca.trustBundlePem();
  const app = await startUpstream('app', (req, res) => {
    if (req.url === '/big') {
      res.writeHead(200, { 'content-length': String(BIG.length) });
      res.end(BIG);
      return;
    }
    if (req.url === '/slow-echo') {
      // Read nothing for a while: both sidecars' writes of this request body queue behind full socket buffers.
      req.pause();
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        req.pipe(res);
        req.resume();
      }, 300);
      return;
    }
    if (req.method === 'POST') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      req.pipe(res);
      return;
    }
    res.end(`path ${req.url}`);
  });
  const server = new ProxyEngine({ workload: { ...unknownWorkload, canonicalService: 'app', namespace: 'default' }, log: () => undefined });
  const client = new ProxyEngine({ workload: unknownWorkload, log: () => undefined });
  t.after(async () => {
    client.close();
    server.close();
    await app.close();
    await ca.close();
  });
  server.setSecrets(await identity(ca.address, roots, 'app'));
  client.setSecrets(await identity(ca.address, roots, 'client'));
  const inboundPort = await server.listeners.bindOwn('virtualInbound', '127.0.0.1', 0, 'inbound', 'inbound');
  const inbound = 'inbound|9080||';
  server.apply(TypeUrl.cluster, [viaProto(TypeUrl.cluster, { name: inbound, type: 'STATIC', connect_timeout: { seconds: 1 }, load_assignment: { cluster_name: inbound, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: app.port } } } }] }] } })], '1');
  server.apply(
    TypeUrl.listener,
    [
      viaProto(TypeUrl.listener, {
        name: 'virtualInbound',
        address: { socket_address: { address: '0.0.0.0', port_value: 15006 } },
        filter_chains: [
          {
            name: `${inbound}-mtls`,
            filter_chain_match: { destination_port: { value: 9080 }, transport_protocol: 'tls' },
            transport_socket: {
              name: 'envoy.transport_sockets.tls',
              typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext', common_tls_context: TLS_CONTEXT, require_client_certificate: { value: true } },
            },
            filters: [hcm({ route_config: { name: inbound, virtual_hosts: [{ name: 'inbound|http|9080', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: inbound } }] }] } })],
          },
        ],
      }),
    ],
    '1',
  );
  const outboundPort = await client.listeners.bindOwn('virtualOutbound', '127.0.0.1', 0, 'explicit', 'outbound');
  const name = 'outbound|9080||app.default.svc.cluster.local';
  const upstreamTls = {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      common_tls_context: { alpn_protocols: ['istio-peer-exchange', 'istio'], ...TLS_CONTEXT },
      sni: 'outbound_.9080_._.app.default.svc.cluster.local',
    },
  };
  client.apply(
    TypeUrl.cluster,
    [viaProto(TypeUrl.cluster, { name, type: 'STATIC', connect_timeout: { seconds: 1 }, transport_socket: upstreamTls, load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: inboundPort } } } }] }] } })],
    '1',
  );
  client.apply(TypeUrl.listener, [outboundListener(9080)], '1');
  client.apply(TypeUrl.route, [routeConfig('9080', [vhost('app', ['*'], [{ match: { prefix: '/' }, route: { cluster: name } }])])], '1');
  return outboundPort;
}

/** One request on the agent's keep-alive connection to the client sidecar; the response read slowly when `slow`. */
function request(agent: http.Agent, port: number, method: string, path: string, body?: Buffer, slow = false): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: `http://app:9080${path}`, headers: { host: 'app:9080', ...(body ? { 'transfer-encoding': 'chunked' } : {}) }, agent }, (res) => {
      const parts: Buffer[] = [];
      if (slow) {
        res.pause();
        setTimeout(() => res.resume(), 300);
      }
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body) for (let i = 0; i < body.length; i += 50_000) req.write(body.subarray(i, i + 50_000));
    req.end();
  });
}

for (const reuse of [true, false]) {
  test(`mTLS between sidecars through reused read buffers is byte-exact (accepted-socket switch ${reuse ? 'on' : 'off'})`, async (t) => {
    setAcceptedSocketReuse(reuse);
    t.after(() => setAcceptedSocketReuse(true));
    const port = await setup(t);
    const agents = [0, 1, 2].map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    t.after(() => agents.forEach((a) => a.destroy()));
    for (const a of agents) assert.equal((await request(a, port, 'GET', '/first')).body.toString(), 'path /first');
    for (let i = 0; i < 3; i++) {
      const sent = randomBytes(300_000 + i * 7919);
      const echoed = await request(agents[0]!, port, 'POST', '/echo', sent);
      assert.equal(echoed.status, 200);
      assert.equal(sha(echoed.body), sha(sent), `echo ${i}`);
      const big = await request(agents[0]!, port, 'GET', '/big', undefined, i === 1);
      assert.equal(sha(big.body), sha(BIG), `big ${i}`);
    }
    const upload = randomBytes(3 * 1024 * 1024);
    const busy = async (): Promise<void> => {
      for (let i = 0; i < 20; i++) {
        const sent = randomBytes(40_000 + i * 1000);
        assert.equal(sha((await request(agents[2]!, port, 'POST', '/echo', sent)).body), sha(sent), `busy echo ${i}`);
      }
    };
    const [slowDown, slowUp] = await Promise.all([request(agents[0]!, port, 'GET', '/big', undefined, true), request(agents[1]!, port, 'POST', '/slow-echo', upload), busy()]);
    assert.equal(sha(slowDown.body), sha(BIG), 'slowly read download');
    assert.equal(sha(slowUp.body), sha(upload), 'upload to a slow app');
  });
}

test('an accepted TLS socket can be switched to the reused buffer (the path inbound mTLS connections take)', async (t) => {
  const ca = await startTestCa({ stateDir: tmp.dir });
  t.after(() => ca.close());
  const roots = ca.cp.ca.trustBundlePem();
  const id = (await identity(ca.address, roots, 'probe')).current()!;
  const got: string[] = [];
  const buffer = Buffer.alloc(1024);
  const server = tls.createServer({ cert: id.certChainPem, key: id.keyPem }, (s) => {
    s.on('data', (d: Buffer) => got.push(`data ${d.toString()}`));
    s.once('data', () => {
      assert.equal(readIntoBuffer(s, buffer, (n) => (got.push(`buffer ${buffer.toString('latin1', 0, n)}`), s.write('ack'), true)), true);
      s.write('ack');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const c = tls.connect({ host: '127.0.0.1', port, ca: roots, checkServerIdentity: () => undefined });
  t.after(() => c.destroy());
  await once(c, 'secureConnect');
  c.write('one');
  await once(c, 'data');
  c.write('two');
  await once(c, 'data');
  assert.deepEqual(got, ['data one', 'buffer two']);
});
