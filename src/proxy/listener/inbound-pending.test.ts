// A connection to the inbound port that never sends a byte, or stalls in its TLS handshake, is counted, closed by
// drain, and closed after the detection timeout (before: it held a descriptor forever and drain did not see it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProxyEngine } from '../engine.ts';
import { unknownWorkload } from '../stats/istio-metrics.ts';
import { SecretStore } from '../tls/secrets.ts';
import { makeCa, makeLeaf } from '../../../test/gateway-tls/certs.ts';

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

function closed(s: net.Socket, withinMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (s.destroyed || s.readableEnded) return resolve(true);
    const t = setTimeout(() => resolve(false), withinMs);
    s.resume();
    s.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
    s.on('error', () => undefined);
  });
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('inbound: silent connections and stalled TLS handshakes are counted and closed after the detection timeout', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-inbound-pending-'));
  makeCa(dir);
  makeLeaf(dir, 'server', 'reviews', { san: 'URI:spiffe://cluster.local/ns/default/sa/reviews' });
  const engine = new ProxyEngine({ workload: unknownWorkload, log: () => undefined });
  const store = new SecretStore();
  store.update({ certChainPem: readFileSync(join(dir, 'server.crt'), 'utf8'), keyPem: readFileSync(join(dir, 'server.key'), 'utf8'), rootsPem: readFileSync(join(dir, 'ca.crt'), 'utf8'), spiffeId: 'spiffe://cluster.local/ns/default/sa/reviews' });
  engine.setSecrets(store);
  engine.listeners.inboundDetectionTimeoutMs = 300;
  const port = await engine.listeners.bindOwn('virtualInbound', '127.0.0.1', 0, 'inbound', 'inbound');
  const sockets: net.Socket[] = [];
  t.after(() => {
    for (const s of sockets) s.destroy();
    engine.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const base = engine.connectionCount;
  // Three silent clients, and two that start a TLS handshake (a record header only) and stall.
  for (let i = 0; i < 3; i++) sockets.push(await connect(port));
  for (let i = 0; i < 2; i++) {
    const s = await connect(port);
    s.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
    sockets.push(s);
  }
  await until(() => engine.connectionCount === base + 5, 3000);
  // The sweep runs once a second: every one is closed within the timeout plus a sweep or two.
  const results = await Promise.all(sockets.map((s) => closed(s, 5000)));
  assert.deepEqual(results, [true, true, true, true, true]);
  await until(() => engine.connectionCount === base, 3000);
});

test('inbound: a silent connection is closed by drain', async (t) => {
  const engine = new ProxyEngine({ workload: unknownWorkload, log: () => undefined });
  const port = await engine.listeners.bindOwn('virtualInbound', '127.0.0.1', 0, 'inbound', 'inbound');
  t.after(() => engine.close());
  const s = await connect(port);
  t.after(() => s.destroy());
  await until(() => engine.connectionCount === 1, 3000);
  const drained = engine.drain(2000);
  assert.equal(await closed(s, 3000), true, 'drain closed the unclassified connection');
  await drained;
});
