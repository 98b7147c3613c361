// Upstream TLS origination options: one client context per transport socket config and identity (rotation builds a
// new one), real mutual TLS with the cached context (the mesh roots verify the server, which must carry a SPIFFE id),
// a certificate OpenSSL refuses becomes a reason string instead of an exception on the request path, and sessions
// resume against the inbound listener with the client identity intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { Errors } from '../config/raw.ts';
import { SecretStore } from './secrets.ts';
import { compileTransportSocket, connectUpstreamTls, tlsConnectOptions, type UpstreamTls } from './upstream-tls.ts';
import { ProxyEngine } from '../engine.ts';
import { unknownWorkload } from '../stats/istio-metrics.ts';
import { makeCa, makeLeaf } from '../../../test/gateway-tls/certs.ts';

const UPSTREAM = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';

function istioMutual(): UpstreamTls {
  const errors = new Errors();
  const t = compileTransportSocket(
    {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': UPSTREAM,
        sni: 'outbound_.9080_._.reviews.default.svc.cluster.local',
        common_tls_context: {
          alpn_protocols: ['istio-http/1.1', 'istio'],
          tls_certificate_sds_secret_configs: [{ name: 'default' }],
          combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: { name: 'ROOTCA' } },
        },
      },
    },
    'transport_socket',
    errors,
  );
  assert.deepEqual(errors.list, []);
  return t!;
}

function secrets(dir: string, leaf: string, spiffeId: string): SecretStore {
  const s = new SecretStore();
  s.update({ certChainPem: readFileSync(join(dir, `${leaf}.crt`), 'utf8'), keyPem: readFileSync(join(dir, `${leaf}.key`), 'utf8'), rootsPem: readFileSync(join(dir, 'ca.crt'), 'utf8'), spiffeId });
  return s;
}

test('one client context per identity: reused across connections, rebuilt after a rotation', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-upstream-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  makeCa(dir);
  makeLeaf(dir, 'client', 'productpage', { san: 'URI:spiffe://cluster.local/ns/default/sa/productpage' });
  makeLeaf(dir, 'client2', 'productpage', { san: 'URI:spiffe://cluster.local/ns/default/sa/productpage' });
  const cfg = istioMutual();
  const store = secrets(dir, 'client', 'spiffe://cluster.local/ns/default/sa/productpage');
  const a = tlsConnectOptions(cfg, store);
  const b = tlsConnectOptions(cfg, store);
  assert.ok(typeof a === 'object' && typeof b === 'object');
  assert.ok(a.secureContext);
  assert.equal(a.secureContext, b.secureContext);
  assert.equal(a.servername, 'outbound_.9080_._.reviews.default.svc.cluster.local');
  const rotated = secrets(dir, 'client2', 'spiffe://cluster.local/ns/default/sa/productpage').current()!;
  store.update(rotated);
  const c = tlsConnectOptions(cfg, store);
  assert.ok(typeof c === 'object');
  assert.notEqual(c.secureContext, a.secureContext);
  assert.match(String(tlsConnectOptions(cfg, new SecretStore())), /no workload certificate/);
});

test('mutual TLS with the cached context: the server sees the client identity; a server without a SPIFFE id is refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-upstream-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  makeCa(dir);
  makeLeaf(dir, 'client', 'productpage', { san: 'URI:spiffe://cluster.local/ns/default/sa/productpage' });
  makeLeaf(dir, 'server', 'reviews', { san: 'URI:spiffe://cluster.local/ns/default/sa/reviews' });
  makeLeaf(dir, 'plain', 'reviews', { san: 'DNS:reviews' });
  const cfg = istioMutual();
  const store = secrets(dir, 'client', 'spiffe://cluster.local/ns/default/sa/productpage');
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  const serve = async (leaf: string): Promise<{ server: tls.Server; port: number; peers: string[] }> => {
    const peers: string[] = [];
    const server = tls.createServer({ cert: read(`${leaf}.crt`), key: read(`${leaf}.key`), ca: read('ca.crt'), requestCert: true, rejectUnauthorized: true }, (s) => {
      peers.push(s.getPeerCertificate().subjectaltname ?? '');
      s.end('ok');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { server, port: (server.address() as { port: number }).port, peers };
  };
  const connect = (port: number): Promise<string> =>
    new Promise((resolve) => {
      const opts = tlsConnectOptions(cfg, store);
      assert.ok(typeof opts === 'object');
      const s = tls.connect({ ...opts, host: '127.0.0.1', port });
      let body = '';
      s.on('data', (d: Buffer) => (body += d.toString()));
      s.on('end', () => resolve(body));
      s.on('error', (e) => resolve(`error: ${e.message}`));
    });
  const good = await serve('server');
  const bad = await serve('plain');
  t.after(() => {
    good.server.close();
    bad.server.close();
  });
  assert.equal(await connect(good.port), 'ok');
  assert.equal(await connect(good.port), 'ok');
  assert.deepEqual(good.peers, ['URI:spiffe://cluster.local/ns/default/sa/productpage', 'URI:spiffe://cluster.local/ns/default/sa/productpage']);
  assert.match(await connect(bad.port), /^error: peer certificate carries no SPIFFE id/);
});

test('a certificate file OpenSSL refuses is a reason, not an exception on the request path', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-upstream-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'bad.crt'), '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
  writeFileSync(join(dir, 'bad.key'), 'not a key\n');
  const errors = new Errors();
  const cfg = compileTransportSocket(
    { name: 'envoy.transport_sockets.tls', typed_config: { '@type': UPSTREAM, common_tls_context: { tls_certificates: [{ certificate_chain: { filename: join(dir, 'bad.crt') }, private_key: { filename: join(dir, 'bad.key') } }] } } },
    'transport_socket',
    errors,
  );
  assert.deepEqual(errors.list, []);
  assert.match(String(tlsConnectOptions(cfg!, undefined)), /^cannot use the upstream TLS certificate/);
});

test('session resumption against the inbound listener: the second connection resumes and still reaches HTTP as the client identity', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-upstream-tls-'));
  makeCa(dir);
  makeLeaf(dir, 'client', 'productpage', { san: 'URI:spiffe://cluster.local/ns/default/sa/productpage' });
  makeLeaf(dir, 'server', 'reviews', { san: 'URI:spiffe://cluster.local/ns/default/sa/reviews' });
  const engine = new ProxyEngine({ workload: unknownWorkload, log: () => undefined });
  engine.setSecrets(secrets(dir, 'server', 'spiffe://cluster.local/ns/default/sa/reviews'));
  const port = await engine.listeners.bindOwn('virtualInbound', '127.0.0.1', 0, 'inbound', 'inbound');
  t.after(() => {
    engine.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const cfg = istioMutual();
  const store = secrets(dir, 'client', 'spiffe://cluster.local/ns/default/sa/productpage');
  const request = (): Promise<{ reused: boolean; response: string }> =>
    new Promise((resolve) => {
      const opts = tlsConnectOptions(cfg, store);
      assert.ok(typeof opts === 'object');
      const s = connectUpstreamTls(opts, '127.0.0.1', port);
      let response = '';
      let reused = false;
      s.on('secureConnect', () => {
        reused = s.isSessionReused();
        s.write('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
      });
      s.on('data', (d: Buffer) => (response += d.toString()));
      s.on('error', (e) => (response += `error: ${e.message}`));
      // The ticket arrives after the handshake: give the 'session' event its turn before the next connection.
      s.on('close', () => setImmediate(() => resolve({ reused, response })));
    });
  const first = await request();
  assert.equal(first.reused, false);
  assert.match(first.response, /^HTTP\/1\.1 404/);
  const second = await request();
  assert.equal(second.reused, true, second.response);
  assert.match(second.response, /^HTTP\/1\.1 404/);
});
