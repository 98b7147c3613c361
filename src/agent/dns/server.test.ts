// The DNS proxy over real sockets on 127.0.0.1: Node's own resolver (c-ares) asks it, a fake upstream on
// 127.0.0.1 answers what it forwards.

import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { connect, createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { encodeResponse, parseQuery, Rcode, RecordType } from './codec.ts';
import { buildQuery } from './testing.ts';
import { buildNameTable } from './name-table.ts';
import { startDnsProxy } from './server.ts';
import type { DnsProxy } from './server.ts';

/** A fake upstream resolver (UDP and TCP): `*.upstream.test` → 127.0.0.77, anything else NXDOMAIN. */
async function fakeUpstream(): Promise<{ port: number; queries: string[]; close: () => Promise<void> }> {
  const queries: string[] = [];
  const answer = (msg: Buffer): Buffer => {
    const q = parseQuery(msg);
    if (!q?.question) throw new Error('bad query');
    queries.push(q.question.name);
    return q.question.name.endsWith('.upstream.test')
      ? encodeResponse(q, Rcode.NOERROR, q.question.type === RecordType.A ? [{ type: RecordType.A, ttl: 5, address: '127.0.0.77' }] : [])
      : encodeResponse(q, Rcode.NXDOMAIN);
  };
  // UDP and TCP on one port: a random UDP port may be taken for TCP by another process, so retry.
  for (let attempt = 0; ; attempt++) {
    const udp = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    udp.on('message', (msg, rinfo) => udp.send(answer(msg), rinfo.port, rinfo.address));
    const port = udp.address().port;
    const tcp = createServer((s) => {
      s.once('data', (d: Buffer) => {
        const reply = answer(d.subarray(2));
        const len = Buffer.alloc(2);
        len.writeUInt16BE(reply.length);
        s.end(Buffer.concat([len, reply]));
      });
    });
    const listening = await new Promise<boolean>((r) => {
      tcp.once('error', () => r(false));
      tcp.listen(port, '127.0.0.1', () => r(true));
    });
    if (!listening) {
      udp.close();
      if (attempt < 10) continue;
      throw new Error('no port free for both UDP and TCP');
    }
    return { port, queries, close: () => Promise.all([new Promise<void>((r) => udp.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]).then(() => undefined) };
  }
}

let upstream: Awaited<ReturnType<typeof fakeUpstream>>;
let proxy: DnsProxy;
let resolver: Resolver;
const table = buildNameTable({
  namespace: 'default',
  services: [
    { host: 'reviews.default.svc.cluster.local', addresses: [] },
    { host: 'ratings.default.svc.cluster.local', addresses: ['10.96.0.20', 'fd00::20'] },
    { host: 'many.default.svc.cluster.local', addresses: Array.from({ length: 40 }, (_, i) => `10.97.0.${i + 1}`) },
  ],
});

before(async () => {
  upstream = await fakeUpstream();
  proxy = await startDnsProxy({ table, upstreams: [`127.0.0.1:${upstream.port}`], port: 0 });
  resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`127.0.0.1:${proxy.port}`]);
});
after(async () => {
  await proxy.close();
  await upstream.close();
});

test('DNS proxy: mesh names answer from the table, with the allocated address', async () => {
  const allocated = table.lookup('reviews')?.ipv4[0];
  assert.ok(allocated?.startsWith('240.240.'));
  assert.deepEqual(await resolver.resolve4('reviews'), [allocated]);
  assert.deepEqual(await resolver.resolve4('reviews.default.svc.cluster.local'), [allocated]);
  assert.deepEqual(await resolver.resolve4('ratings.default'), ['10.96.0.20']);
  assert.deepEqual(await resolver.resolve6('ratings'), ['fd00::20']);
  assert.deepEqual(
    await resolver.resolve4('reviews', { ttl: true }).then((r) => r.map((x) => x.ttl)),
    [30],
  );
  // No IPv6 address for reviews: NOERROR with no answer (NODATA), not NXDOMAIN.
  await assert.rejects(resolver.resolve6('reviews'), { code: 'ENODATA' });
  assert.equal(upstream.queries.length, 0, 'nothing about mesh names went upstream');
});

test('DNS proxy: other names go to the upstream resolver, and its answer comes back unchanged', async () => {
  assert.deepEqual(await resolver.resolve4('www.upstream.test'), ['127.0.0.77']);
  await assert.rejects(resolver.resolve4('nothing.invalid'), { code: 'ENOTFOUND' });
  assert.ok(upstream.queries.includes('www.upstream.test'));
  assert.ok(proxy.stats.forwarded >= 2);
});

test('DNS proxy: an answer too big for UDP is truncated (TC) and the resolver gets it all over TCP', async () => {
  const raw = await new Promise<Buffer>((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('message', (m) => {
      s.close();
      resolve(m);
    });
    s.once('error', reject);
    s.send(buildQuery(99, 'many', RecordType.A), proxy.port, '127.0.0.1');
  });
  assert.equal(raw.readUInt16BE(2) & 0x0200, 0x0200, 'TC set');
  assert.equal(raw.readUInt16BE(6), 0, 'no answers over UDP');
  const all = await resolver.resolve4('many');
  assert.equal(all.length, 40);
});

test('DNS proxy: queries over TCP, answered and forwarded', async () => {
  const ask = (name: string): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: proxy.port });
      const q = buildQuery(4242, name, RecordType.A);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(q.length);
      let got = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
          s.end();
          resolve(got.subarray(2));
        }
      });
      s.on('error', reject);
      s.write(Buffer.concat([len, q]));
    });
  const mesh = await ask('reviews');
  assert.equal(mesh.readUInt16BE(0), 4242);
  assert.equal(mesh.readUInt16BE(6), 1, 'one answer');
  assert.equal([...mesh.subarray(mesh.length - 4)].join('.'), table.lookup('reviews')?.ipv4[0]);
  const forwarded = await ask('tcp.upstream.test');
  assert.equal([...forwarded.subarray(forwarded.length - 4)].join('.'), '127.0.0.77');
});

test('DNS proxy: SERVFAIL when no upstream answers; a new table takes effect at once', async () => {
  const dead = createSocket('udp4');
  await new Promise<void>((r) => dead.bind(0, '127.0.0.1', r)); // bound, never answers
  const lonely = await startDnsProxy({ table, upstreams: [`127.0.0.1:${dead.address().port}`], port: 0, upstreamTimeoutMs: 200 });
  try {
    const r = new Resolver({ timeout: 3000, tries: 1 });
    r.setServers([`127.0.0.1:${lonely.port}`]);
    await assert.rejects(r.resolve4('www.upstream.test'), { code: 'ESERVFAIL' });
    assert.equal(lonely.stats.upstreamFailures, 1);
    await assert.rejects(r.resolve4('details'), { code: 'ESERVFAIL' });
    lonely.setTable(buildNameTable({ namespace: 'default', services: [{ host: 'details.default.svc.cluster.local', addresses: ['10.96.0.30'] }] }));
    assert.deepEqual(await r.resolve4('details'), ['10.96.0.30']);
  } finally {
    await lonely.close();
    dead.close();
  }
});
