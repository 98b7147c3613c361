import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { contextHeaders, extractContext, parseB3Single, parseTraceparent, stripTraceHeaders } from './context.ts';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';

test('W3C traceparent: valid forms, the sampled flag, tracestate passed on', () => {
  assert.deepEqual(parseTraceparent(`00-${T}-${S}-01`), { traceId: T, spanId: S, sampled: true });
  assert.deepEqual(parseTraceparent(`00-${T}-${S}-00`), { traceId: T, spanId: S, sampled: false });
  assert.deepEqual(parseTraceparent(`00-${T.toUpperCase()}-${S}-03`), { traceId: T, spanId: S, sampled: true }, 'other flag bits ignored, hex case-insensitive');
  // A later version may append fields after a dash.
  assert.deepEqual(parseTraceparent(`01-${T}-${S}-01-extra`), { traceId: T, spanId: S, sampled: true });
  const e = extractContext(['traceparent', `00-${T}-${S}-01`, 'tracestate', 'congo=t61rcWkgMzE', 'tracestate', 'rojo=00f067aa0ba902b7']);
  assert.equal(e.parent?.tracestate, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
  assert.equal(e.sampled, true);
});

test('W3C traceparent: malformed values are ignored', () => {
  for (const bad of [
    '',
    `ff-${T}-${S}-01`, // version ff is invalid
    `00-${'0'.repeat(32)}-${S}-01`, // zero trace id
    `00-${T}-${'0'.repeat(16)}-01`, // zero span id
    `00-${T}-${S}-01-extra`, // version 00 has exactly four fields
    `00-${T.slice(1)}-${S}-01`,
    `00-${T}-${S}-0g`,
    `00_${T}_${S}_01`,
    `00-${T}x-${S}-01`,
  ]) assert.equal(parseTraceparent(bad), undefined, bad);
});

test('B3 single header: full, 64-bit trace ids, sampling-only, debug, malformed', () => {
  assert.deepEqual(parseB3Single(`${T}-${S}-1`), { parent: { traceId: T, spanId: S, sampled: true }, sampled: true });
  assert.deepEqual(parseB3Single(`a3ce929d0e0e4736-${S}`), { parent: { traceId: `0000000000000000a3ce929d0e0e4736`, spanId: S, sampled: undefined }, sampled: undefined });
  assert.deepEqual(parseB3Single(`${T}-${S}-d-05e3ac9a4f6e3b90`)?.sampled, true);
  assert.deepEqual(parseB3Single('0'), { parent: undefined, sampled: false });
  assert.deepEqual(parseB3Single('1'), { parent: undefined, sampled: true });
  for (const bad of ['x', `${T}-${S}-2`, `${T}`, `${T}-zz`, `${T}-${S}-1-nothex`, `${T}-${S}-1-${S}-more`]) assert.equal(parseB3Single(bad), undefined, bad);
});

test('B3 multi headers: ids with sampled/flags; sampling decision alone; malformed ids ignored but the decision kept', () => {
  assert.deepEqual(extractContext(['x-b3-traceid', T, 'x-b3-spanid', S, 'x-b3-sampled', '1']).parent, { traceId: T, spanId: S, sampled: true });
  assert.equal(extractContext(['x-b3-traceid', T, 'x-b3-spanid', S, 'x-b3-flags', '1']).sampled, true, 'debug flag samples');
  assert.deepEqual(extractContext(['x-b3-sampled', '0']), { parent: undefined, sampled: false });
  assert.deepEqual(extractContext(['x-b3-traceid', 'nothex', 'x-b3-spanid', S, 'x-b3-sampled', 'true']), { parent: undefined, sampled: true });
  assert.deepEqual(extractContext(['x-b3-traceid', T]), { parent: undefined, sampled: undefined }, 'a trace id without a span id is not a context');
});

test('precedence: a valid traceparent beats B3; an invalid one falls back to B3', () => {
  const other = 'a'.repeat(32);
  assert.equal(extractContext(['x-b3-traceid', other, 'x-b3-spanid', S, 'traceparent', `00-${T}-${S}-01`]).parent?.traceId, T);
  assert.equal(extractContext(['traceparent', 'garbage', 'b3', `${other}-${S}-1`]).parent?.traceId, other);
  assert.equal(extractContext(['b3', `${other}-${S}-0`, 'x-b3-traceid', T, 'x-b3-spanid', S]).parent?.traceId, other, 'b3 single beats multi');
});

test('headers out: W3C with tracestate, B3 with parent and 64-bit ids shortened', () => {
  assert.deepEqual(contextHeaders('w3c', { traceId: T, spanId: S, sampled: true, tracestate: 'a=b' }, undefined), ['traceparent', `00-${T}-${S}-01`, 'tracestate', 'a=b']);
  assert.deepEqual(contextHeaders('w3c', { traceId: T, spanId: S, sampled: undefined }, undefined), ['traceparent', `00-${T}-${S}-00`]);
  assert.deepEqual(contextHeaders('b3', { traceId: T, spanId: S, sampled: false }, 'a3ce929d0e0e4736'), ['x-b3-traceid', T, 'x-b3-spanid', S, 'x-b3-parentspanid', 'a3ce929d0e0e4736', 'x-b3-sampled', '0']);
  assert.deepEqual(contextHeaders('b3', { traceId: `0000000000000000${S}`, spanId: S, sampled: true }, undefined), ['x-b3-traceid', S, 'x-b3-spanid', S, 'x-b3-sampled', '1']);
});

test('round trip: what the proxy writes, the next proxy reads', () => {
  for (const format of ['w3c', 'b3'] as const) {
    const e = extractContext(contextHeaders(format, { traceId: T, spanId: S, sampled: true }, undefined));
    assert.deepEqual({ traceId: e.parent?.traceId, spanId: e.parent?.spanId, sampled: e.sampled }, { traceId: T, spanId: S, sampled: true }, format);
  }
});

test('stripTraceHeaders removes every trace header and keeps the rest in order (same array when none)', () => {
  const h = ['host', 'a', 'traceparent', 'x', 'x-b3-spanid', 'y', 'accept', '*/*', 'b3', '1', 'tracestate', 's'];
  assert.deepEqual(stripTraceHeaders(h), ['host', 'a', 'accept', '*/*']);
  const clean = ['host', 'a'];
  assert.equal(stripTraceHeaders(clean), clean);
});

test('property: arbitrary header values never throw, and any context read is well-formed', () => {
  const names = fc.constantFrom('traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled', 'x-b3-flags', 'other');
  fc.assert(
    fc.property(fc.array(fc.tuple(names, fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-f-]{0,60}$/))), { maxLength: 8 }), (pairs) => {
      const e = extractContext(pairs.flat());
      if (e.parent) {
        assert.match(e.parent.traceId, /^[0-9a-f]{32}$/);
        assert.match(e.parent.spanId, /^[0-9a-f]{16}$/);
        assert.notEqual(e.parent.traceId, '0'.repeat(32));
      }
    }),
    { numRuns: 500 },
  );
});
