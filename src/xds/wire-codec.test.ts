// The descriptor-interpreting wire codec against protobufjs built from the same definitions: every scalar type
// (negative and 64-bit values, NaN and infinities), packed and unpacked repeated fields, maps with string, integer,
// bool and 64-bit keys, enums (aliases, unknown numbers, unknown names), oneofs and proto3 optional in defaults mode,
// nested and unknown Anys, unknown fields of every wire type, malformed input; then random objects (fast-check).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import type { TypeJson } from './descriptor-index.ts';
import { WireCodec } from './wire-codec.ts';

const types: Record<string, TypeJson> = {
  'test.Color': { values: { RED: 0, GREEN: 1, VERDE: 1, BLUE: 2 } },
  'test.Nested': { fields: { label: { type: 'string', id: 1 }, depth: { type: 'int32', id: 2 }, child: { type: '.test.Nested', id: 3 } } },
  'test.All': {
    oneofs: { choice: { oneof: ['pick_a', 'pick_b'] }, _maybe: { oneof: ['maybe'] } },
    fields: {
      f_double: { type: 'double', id: 1 }, f_float: { type: 'float', id: 2 }, f_int32: { type: 'int32', id: 3 },
      f_uint32: { type: 'uint32', id: 4 }, f_sint32: { type: 'sint32', id: 5 }, f_fixed32: { type: 'fixed32', id: 6 },
      f_sfixed32: { type: 'sfixed32', id: 7 }, f_int64: { type: 'int64', id: 8 }, f_uint64: { type: 'uint64', id: 9 },
      f_sint64: { type: 'sint64', id: 10 }, f_fixed64: { type: 'fixed64', id: 11 }, f_sfixed64: { type: 'sfixed64', id: 12 },
      f_bool: { type: 'bool', id: 13 }, f_string: { type: 'string', id: 14 }, f_bytes: { type: 'bytes', id: 15 },
      color: { type: '.test.Color', id: 16 }, nested: { type: '.test.Nested', id: 17 },
      r_int32: { rule: 'repeated', type: 'int32', id: 18 }, r_double: { rule: 'repeated', type: 'double', id: 19 },
      r_sint64: { rule: 'repeated', type: 'sint64', id: 20 }, r_color: { rule: 'repeated', type: '.test.Color', id: 21 },
      r_string: { rule: 'repeated', type: 'string', id: 22 }, r_nested: { rule: 'repeated', type: '.test.Nested', id: 23 },
      r_unpacked: { rule: 'repeated', type: 'uint32', id: 24, options: { packed: false } },
      m_string: { keyType: 'string', type: 'string', id: 25 }, m_nested: { keyType: 'string', type: '.test.Nested', id: 26 },
      m_int32: { keyType: 'int32', type: 'int64', id: 27 }, m_bool: { keyType: 'bool', type: '.test.Color', id: 28 },
      m_int64: { keyType: 'int64', type: 'string', id: 29 }, any: { type: '.google.protobuf.Any', id: 30 },
      r_any: { rule: 'repeated', type: '.google.protobuf.Any', id: 31 },
      pick_a: { type: 'string', id: 32 }, pick_b: { type: '.test.Nested', id: 33 },
      maybe: { type: 'uint32', id: 34, options: { proto3_optional: true } },
      m_any: { keyType: 'string', type: '.google.protobuf.Any', id: 35 },
    },
  },
  'google.protobuf.Any': { fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } },
};

/** The same definitions as a protobufjs root. */
function protobufRoot(): protobuf.Root {
  const tree: { nested: Record<string, unknown> } = { nested: {} };
  for (const [name, json] of Object.entries(types)) {
    let node = tree;
    const path = name.split('.');
    for (const seg of path.slice(0, -1)) node = ((node.nested[seg] ??= { nested: {} }) as typeof tree);
    node.nested[path.at(-1)!] = json;
  }
  return protobuf.Root.fromJSON(tree as protobuf.INamespace);
}

const root = protobufRoot();
const All = root.lookupType('test.All');
const codec = new WireCodec(types);
const toObject = (bytes: Uint8Array, defaults = false): unknown => All.toObject(All.decode(bytes), { enums: String, longs: Number, json: true, defaults });
const encodeRef = (o: Record<string, unknown>): Buffer => Buffer.from(All.encode(All.fromObject(o)).finish());
const nestedBytes = (o: Record<string, unknown>): Uint8Array => root.lookupType('test.Nested').encode(o).finish();

const encodeLength = (n: number): Buffer => Buffer.from(protobuf.Writer.create().uint32(n).finish());

const sample: Record<string, unknown> = {
  f_double: -1.5, f_float: 0.1, f_int32: -7, f_uint32: 4294967295, f_sint32: -123456, f_fixed32: 3000000000,
  f_sfixed32: -2, f_int64: -9007199254740991, f_uint64: '18446744073709551615', f_sint64: -5, f_fixed64: 12345678901234,
  f_sfixed64: -12345678901234, f_bool: true, f_string: 'héllo ✓', f_bytes: Buffer.from([0, 1, 2, 255]).toString('base64'),
  color: 'VERDE', nested: { label: 'a', depth: 1, child: { label: 'b', child: {} } },
  r_int32: [1, -1, 0, 2147483647, -2147483648], r_double: [NaN, Infinity, -Infinity, 0], r_sint64: [-1, 1, -9007199254740991],
  r_color: ['BLUE', 'RED', 7, 'NOPE'], r_string: ['', 'x'], r_nested: [{}, { label: 'n' }], r_unpacked: [1, 2, 300],
  m_string: { a: '1', __proto__x: 'p', '': '' }, m_nested: { k: { depth: 3 } }, m_int32: { '-1': 5, 7: '-9' }, m_bool: { true: 'BLUE', false: 1 },
  any: { '@type': 'type.googleapis.com/test.Nested', label: 'in any', child: { label: 'deeper' } },
  r_any: [{ '@type': 'test.Nested', depth: 2 }, { type_url: 'type.googleapis.com/unknown.Type', value: Buffer.from([8, 1]) }, { '@type': 'type.googleapis.com/test.All', any: { '@type': 'type.googleapis.com/test.Nested' } }],
  pick_b: { label: 'chosen' }, maybe: 0,
  m_any: { x: { '@type': 'example.com/prefix/test.Nested', label: 'custom prefix' } },
};

test('every field kind: the same bytes as protobufjs encode(fromObject()), the same object as toObject(decode())', () => {
  const ref = encodeRef(sample);
  assert.deepEqual(Buffer.from(codec.encode('test.All', sample)), ref);
  assert.deepEqual(codec.decode('test.All', ref), toObject(ref));
  assert.equal(JSON.stringify(codec.decode('test.All', ref)), JSON.stringify(toObject(ref)), 'same key order');
  // and from a plain Uint8Array (bytes fields are then Uint8Array views, as protobufjs makes them)
  const plain = new Uint8Array(ref);
  assert.deepEqual(codec.decode('test.All', plain), All.toObject(All.decode(plain), { enums: String, longs: Number, json: true }));
});

test('defaults mode: absent fields with their defaults, none for oneof members and proto3 optional', () => {
  for (const o of [{}, { pick_a: 'x', f_int32: 3 }, sample]) {
    const bytes = encodeRef(o);
    assert.deepEqual(codec.decode('test.All', bytes, { defaults: true }), toObject(bytes, true));
    assert.equal(JSON.stringify(codec.decode('test.All', bytes, { defaults: true })), JSON.stringify(toObject(bytes, true)));
  }
});

test('Anys stay {type_url, value} when not expanded; an unknown type is never expanded', () => {
  const bytes = encodeRef({ any: { '@type': 'type.googleapis.com/test.Nested', label: 'x' } });
  const out = codec.decode('test.All', bytes, { expandAny: false }) as { any: { type_url: string; value: Uint8Array } };
  assert.equal(out.any.type_url, 'type.googleapis.com/test.Nested');
  assert.deepEqual(Buffer.from(out.any.value), Buffer.from(nestedBytes({ label: 'x' })));
  const unknown = encodeRef({ any: { type_url: 'type.googleapis.com/nope.Nope', value: Buffer.from([1, 2]) } });
  assert.deepEqual(codec.decode('test.All', unknown), toObject(unknown));
});

test('unknown fields of every wire type are skipped; packed and unpacked encodings both decode', () => {
  const w = protobuf.Writer.create();
  w.uint32((90 << 3) | 0).uint64(12345678901234);
  w.uint32((91 << 3) | 1).fixed64(7);
  w.uint32((92 << 3) | 2).bytes(Buffer.from('skip me'));
  w.uint32((93 << 3) | 3).uint32((1 << 3) | 0).uint32(5).uint32((93 << 3) | 4);
  w.uint32((94 << 3) | 5).fixed32(9);
  // r_int32 unpacked, r_unpacked packed: decoders accept both
  w.uint32((18 << 3) | 0).int32(-3).uint32((18 << 3) | 0).int32(4);
  w.uint32((24 << 3) | 2).fork().uint32(1).uint32(2).ldelim();
  w.uint32((21 << 3) | 2).fork().int32(2).int32(9).ldelim();
  w.uint32((14 << 3) | 2).string('last');
  const bytes = w.finish();
  assert.deepEqual(codec.decode('test.All', bytes), toObject(bytes));
});

test('malformed input throws, as protobufjs does', () => {
  const good = encodeRef(sample);
  for (const bad of [good.subarray(0, good.length - 3), Buffer.from([0x0a, 0x05, 0x01]), Buffer.from([0x0f]), Buffer.from([0x80, 0x80])]) {
    assert.throws(() => toObject(bad));
    assert.throws(() => codec.decode('test.All', bad));
  }
  assert.throws(() => codec.decode('test.Nope', good), /no such type: test.Nope/);
  // hostile nesting is bounded, not a stack overflow: 10,000 nested groups, 200 nested messages
  assert.throws(() => codec.decode('test.Nested', Buffer.from(Array(10_000).fill((15 << 3) | 3))), /max depth exceeded/);
  let deep: Uint8Array = new Uint8Array(0);
  for (let i = 0; i < 200; i++) deep = Buffer.concat([Buffer.from([(3 << 3) | 2]), encodeLength(deep.length), deep]);
  assert.throws(() => codec.decode('test.Nested', deep), /max depth exceeded/);
  assert.throws(() => codec.encode('test.All', { nested: 'not an object' }), /object expected/);
  assert.throws(() => codec.encode('test.All', { r_int32: 5 }), /array expected/);
});

test('random objects: the same bytes and the same decoded objects as protobufjs', () => {
  const nested: fc.Arbitrary<Record<string, unknown>> = fc.record({ label: fc.string(), depth: fc.integer() }, { requiredKeys: [] });
  const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String);
  const uint64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String);
  const all = fc.record({
    f_double: fc.double(), f_float: fc.float(), f_int32: fc.integer(), f_uint32: fc.nat({ max: 4294967295 }),
    f_sint32: fc.integer(), f_fixed32: fc.nat({ max: 4294967295 }), f_sfixed32: fc.integer(), f_int64: int64, f_uint64: uint64,
    f_sint64: int64, f_fixed64: uint64, f_sfixed64: int64, f_bool: fc.boolean(), f_string: fc.string({ unit: 'grapheme' }),
    f_bytes: fc.uint8Array({ maxLength: 20 }).map((b) => Buffer.from(b)), color: fc.constantFrom('RED', 'GREEN', 'BLUE', 0, 1, 2, 9),
    nested, r_int32: fc.array(fc.integer()), r_double: fc.array(fc.double()), r_sint64: fc.array(int64),
    r_color: fc.array(fc.constantFrom('RED', 'BLUE', 3)), r_string: fc.array(fc.string()), r_nested: fc.array(nested),
    r_unpacked: fc.array(fc.nat()), m_string: fc.dictionary(fc.string(), fc.string()), m_nested: fc.dictionary(fc.string(), nested),
    m_int32: fc.dictionary(fc.integer().map(String), int64), any: nested.map((n) => ({ ...n, '@type': 'type.googleapis.com/test.Nested' })),
    pick_a: fc.string(), maybe: fc.nat(),
  }, { requiredKeys: [] });
  fc.assert(fc.property(all, (o) => {
    const ref = encodeRef(o);
    assert.deepEqual(Buffer.from(codec.encode('test.All', o)), ref);
    assert.deepEqual(codec.decode('test.All', ref), toObject(ref));
  }), { numRuns: 300, seed: 5 });
});
