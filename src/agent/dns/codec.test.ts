import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeName, encodeResponse, ipv6Bytes, parseQuery, Rcode, readName, RecordType } from './codec.ts';
import { buildQuery } from './testing.ts';

test('codec: a query parses to its id, flags and lower-cased question', () => {
  const q = parseQuery(buildQuery(0xbeef, 'Reviews.Default.svc.cluster.local.', RecordType.AAAA));
  assert.ok(q);
  assert.equal(q.id, 0xbeef);
  assert.equal(q.rd, true);
  assert.equal(q.isResponse, false);
  assert.deepEqual(q.question, { name: 'reviews.default.svc.cluster.local', type: RecordType.AAAA, class: 1 });
});

test('codec: a response echoes the question and points its answers at it', () => {
  const q = parseQuery(buildQuery(7, 'reviews', RecordType.A));
  assert.ok(q);
  const r = encodeResponse(q, Rcode.NOERROR, [{ type: RecordType.A, ttl: 30, address: '240.240.1.2' }]);
  assert.equal(r.readUInt16BE(0), 7);
  const flags = r.readUInt16BE(2);
  assert.equal(flags & 0x8000, 0x8000, 'QR');
  assert.equal(flags & 0x0400, 0x0400, 'AA');
  assert.equal(flags & 0x000f, 0, 'rcode');
  assert.equal(r.readUInt16BE(6), 1, 'ANCOUNT');
  const answerAt = 12 + q.questionBytes.length;
  assert.equal(readName(r, answerAt)?.name, 'reviews');
  assert.deepEqual([...r.subarray(r.length - 4)], [240, 240, 1, 2]);
  assert.equal(encodeResponse(q, Rcode.NXDOMAIN).readUInt16BE(2) & 0xf, Rcode.NXDOMAIN);
});

test('codec: malformed messages and pointer loops are refused', () => {
  assert.equal(parseQuery(Buffer.alloc(5)), undefined);
  const loop = Buffer.concat([buildQuery(1, 'a', 1).subarray(0, 12), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
  assert.equal(parseQuery(loop), undefined);
  const truncated = buildQuery(1, 'reviews.default', 1).subarray(0, 20);
  assert.equal(parseQuery(truncated), undefined);
  assert.throws(() => encodeName(`${'a'.repeat(64)}.com`), /longer than 63/);
});

test('codec: IPv6 text to bytes, with :: and an IPv4 tail', () => {
  assert.equal(ipv6Bytes('2001:2::f0f0:1').toString('hex'), '200100020000000000000000f0f00001');
  assert.equal(ipv6Bytes('::1').toString('hex'), '00000000000000000000000000000001');
  assert.equal(ipv6Bytes('::ffff:10.0.0.1').toString('hex'), '00000000000000000000ffff0a000001');
  assert.equal(ipv6Bytes('fe80:1:2:3:4:5:6:7').toString('hex'), 'fe800001000200030004000500060007');
});
