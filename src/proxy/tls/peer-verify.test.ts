// Regression: server TLS sockets the proxy builds itself (new tls.TLSSocket) must check the client's chain. Before
// the fix the inbound listener accepted a self-signed certificate carrying any SPIFFE id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { ProxyEngine } from '../engine.ts';
import { unknownWorkload } from '../stats/istio-metrics.ts';
import { SecretStore } from './secrets.ts';
import { makeCa, makeLeaf } from '../../../test/gateway-tls/certs.ts';

/** Everything the server sends before closing, for a client presenting `cert`. */
function exchange(port: number, dir: string, cert: string): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(join(dir, 'ca.crt')), cert: readFileSync(join(dir, `${cert}.crt`)), key: readFileSync(join(dir, `${cert}.key`)), checkServerIdentity: () => undefined });
    let out = '';
    s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'));
    s.on('data', (d: Buffer) => (out += d.toString()));
    s.on('error', () => undefined);
    s.on('close', () => resolve(out));
  });
}

test('inbound mutual TLS refuses a client certificate the mesh roots did not sign, even with a SPIFFE id', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-peer-verify-'));
  makeCa(dir);
  makeCa(dir, 'evil-ca', 'attacker CA');
  makeLeaf(dir, 'server', 'reviews', { san: 'URI:spiffe://cluster.local/ns/default/sa/reviews' });
  makeLeaf(dir, 'good', 'productpage', { san: 'URI:spiffe://cluster.local/ns/default/sa/productpage' });
  makeLeaf(dir, 'forged', 'productpage', { san: 'URI:spiffe://cluster.local/ns/default/sa/productpage', ca: 'evil-ca' });
  const engine = new ProxyEngine({ workload: unknownWorkload, log: () => undefined });
  const store = new SecretStore();
  store.update({ certChainPem: readFileSync(join(dir, 'server.crt'), 'utf8'), keyPem: readFileSync(join(dir, 'server.key'), 'utf8'), rootsPem: readFileSync(join(dir, 'ca.crt'), 'utf8'), spiffeId: 'spiffe://cluster.local/ns/default/sa/reviews' });
  engine.setSecrets(store);
  const port = await engine.listeners.bindOwn('virtualInbound', '127.0.0.1', 0, 'inbound', 'inbound');
  t.after(() => {
    engine.close();
    rmSync(dir, { recursive: true, force: true });
  });
  // The mesh-signed client reaches the HTTP layer (no route configured: 404 from the proxy).
  assert.match(await exchange(port, dir, 'good'), /^HTTP\/1\.1 404/);
  // The forged one is closed before any HTTP is read.
  assert.equal(await exchange(port, dir, 'forged'), '');
});
