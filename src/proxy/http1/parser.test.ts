import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Http1Parser, headEnd } from './parser.ts';
import type { MessageHead } from './head.ts';

interface Collected {
  heads: MessageHead[];
  bodies: string[];
  ends: number;
  trailers: (string[] | undefined)[];
  errors: { status: number; detail: string }[];
}

function collect(kind: 'request' | 'response', autoResume = true): { p: Http1Parser; c: Collected } {
  const c: Collected = { heads: [], bodies: [], ends: 0, trailers: [], errors: [] };
  let cur = '';
  const p: Http1Parser = new Http1Parser(kind, {
    onHead: (h) => void c.heads.push(h),
    onBody: (b) => void (cur += b.toString('latin1')),
    onEnd: (t) => {
      c.bodies.push(cur);
      cur = '';
      c.ends++;
      c.trailers.push(t);
      if (autoResume) queueMicrotask(() => p.resume());
    },
    onError: (e) => void c.errors.push(e),
  });
  return { p, c };
}

async function feed(kind: 'request' | 'response', input: string, splitEvery = 0): Promise<Collected> {
  const { p, c } = collect(kind);
  const buf = Buffer.from(input, 'latin1');
  if (splitEvery <= 0) p.execute(buf);
  else for (let i = 0; i < buf.length; i += splitEvery) p.execute(buf.subarray(i, i + splitEvery));
  for (let i = 0; i < 20; i++) await Promise.resolve();
  return c;
}

test('parses a GET with headers, lower-cases names, keeps values', async () => {
  const c = await feed('request', 'GET /a?b=1 HTTP/1.1\r\nHost: Example.COM\r\nX-Foo:  bar baz \r\n\r\n');
  assert.equal(c.errors.length, 0);
  const h = c.heads[0]!;
  assert.equal(h.kind, 'request');
  if (h.kind !== 'request') return;
  assert.equal(h.method, 'GET');
  assert.equal(h.target, '/a?b=1');
  assert.equal(h.host, 'example.com');
  assert.deepEqual(h.headers, ['host', 'Example.COM', 'x-foo', 'bar baz']);
  assert.equal(h.keepAlive, true);
  assert.equal(c.ends, 1);
});

test('content-length and chunked bodies stream, byte by byte too, with trailers', async () => {
  for (const split of [0, 1, 3, 7]) {
    const c = await feed(
      'request',
      'POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloPOST /y HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Sum: 9\r\n\r\n',
      split,
    );
    assert.deepEqual(c.errors, [], `split ${split}`);
    assert.deepEqual(c.bodies, ['hello', 'abc0123456789'], `split ${split}`);
    assert.deepEqual(c.trailers[1], ['x-sum', '9']);
  }
});

test('pipelined requests wait for resume()', async () => {
  const { p, c } = collect('request', false);
  p.execute(Buffer.from('GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n'));
  assert.equal(c.heads.length, 1);
  assert.ok(p.isPaused);
  p.resume();
  assert.equal(c.heads.length, 2);
  assert.equal((c.heads[1] as { target: string }).target, '/2');
});

const rejects: [string, string, number][] = [
  ['CL and TE together', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
  ['bad chunk size', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400],
  ['chunk without CRLF after data', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n', 400],
  ['obs-fold', 'GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  b\r\n\r\n', 400],
  ['space before colon', 'GET / HTTP/1.1\r\nHost: h\r\nX : a\r\n\r\n', 400],
  ['NUL in value', 'GET / HTTP/1.1\r\nHost: h\r\nX: a\x00b\r\n\r\n', 400],
  ['bare LF lines', 'GET / HTTP/1.1\nHost: h\n\n', 400],
  ['no host on 1.1', 'GET / HTTP/1.1\r\n\r\n', 400],
  ['two hosts', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
  ['bad version', 'GET / HTTP/3.0\r\nHost: h\r\n\r\n', 400],
  ['bad content-length', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n', 400],
  ['conflicting content-lengths', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 400],
  ['unknown transfer coding', 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 501],
  ['oversized headers', `GET / HTTP/1.1\r\nHost: h\r\nX: ${'a'.repeat(61 * 1024)}\r\n\r\n`, 431],
  ['oversized header without end', `GET / HTTP/1.1\r\nHost: h\r\nX: ${'a'.repeat(61 * 1024)}`, 431],
];

for (const [name, input, status] of rejects) {
  test(`rejects ${name} with ${status}`, async () => {
    for (const split of [0, 5]) {
      const c = await feed('request', input, split);
      assert.equal(c.errors.length, 1, `split ${split}`);
      assert.equal(c.errors[0]!.status, status);
    }
  });
}

test('responses: HEAD and 204 have no body, close-delimited bodies end on finish(), 100 is interim', async () => {
  const { p, c } = collect('response');
  p.requestMethod = 'HEAD';
  p.execute(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n'));
  assert.equal(c.ends, 1);
  await Promise.resolve();
  p.requestMethod = 'GET';
  p.execute(Buffer.from('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\nuntil close'));
  assert.equal(c.heads.length, 3);
  assert.ok(p.readsUntilClose);
  assert.equal(p.finish(), true);
  assert.equal(c.bodies[1], 'until close');
});

test('upgrade is detected from Connection: upgrade + Upgrade', async () => {
  const c = await feed('request', 'GET /ws HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n');
  assert.equal(c.heads[0]!.upgrade, true);
});

test('property: arbitrary bytes never throw, and at most one error is reported', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 8 }), fc.boolean(), (chunks, isRequest) => {
      const { p, c } = collect(isRequest ? 'request' : 'response', false);
      for (const ch of chunks) {
        p.execute(Buffer.from(ch));
        if (p.isPaused) p.resume();
      }
      p.finish();
      assert.ok(c.errors.length <= 1);
    }),
    { numRuns: 2000 },
  );
});

test('property: HTTP-shaped fuzz (valid prefix, mutated) never throws', () => {
  const base = 'POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n5\r\nhello\r\n0\r\nT: v\r\n\r\n';
  fc.assert(
    fc.property(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(base.length), (at, byte, cut) => {
      const bytes = Buffer.from(base, 'latin1');
      bytes[at] = byte;
      const { p, c } = collect('request', false);
      p.execute(bytes.subarray(0, cut));
      p.execute(bytes.subarray(cut));
      assert.ok(c.errors.length <= 1);
    }),
    { numRuns: 3000 },
  );
});

test('reused input (a socket onread buffer): bytes held across execute() calls are copies, never views', () => {
  // Responses as an upstream sends them: pipelined, chunked with trailers, a content-length body, a tunnel.
  const input = Buffer.from(
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Sum: 9\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello' +
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\ntunnelled bytes',
    'latin1',
  );
  for (let split = 1; split <= input.length; split++) {
    const shared = Buffer.alloc(input.length);
    const heads: number[] = [];
    const bodies: string[] = [];
    const trailers: (string[] | undefined)[] = [];
    let cur = '';
    let paused = false;
    const p: Http1Parser = new Http1Parser(
      'response',
      {
        onHead: (h) => {
          if (h.kind === 'response') heads.push(h.status);
          if (h.kind === 'response' && h.status === 101) p.tunnel();
        },
        // A consumer of a reused buffer reads (or copies) a body slice during the call.
        onBody: (b) => void (cur += b.toString('latin1')),
        onEnd: (t) => {
          bodies.push(cur);
          cur = '';
          trailers.push(t);
          paused = true;
        },
        onError: (e) => assert.fail(`split ${split}: ${e.detail}`),
      },
      undefined,
      true,
    );
    for (let i = 0; i < input.length; i += split) {
      const n = input.copy(shared, 0, i, Math.min(i + split, input.length));
      p.execute(shared.subarray(0, n));
      shared.fill(0x58); // what the next read would do to the buffer
      while (paused) {
        paused = false;
        p.resume();
      }
    }
    assert.deepEqual(heads, [200, 200, 101], `split ${split}`);
    assert.deepEqual(bodies, ['abc0123456789abcdef', 'hello'], `split ${split}`);
    assert.deepEqual(trailers[0], ['x-sum', '9'], `split ${split}`);
    assert.equal(cur, 'tunnelled bytes', `split ${split}`);
  }
});

test('known header names in any case become the same lower-case names; near misses stay as sent (lower-cased)', async () => {
  const c = await feed(
    'request',
    'GET / HTTP/1.1\r\nHOST: a\r\nContent-LENGTH: 0\r\nuser-agent: x\r\nContent-Lengtx: 1\r\nX-Request-ID: r\r\nx-request_id: s\r\nConnection: Keep-Alive\r\nTE: trailers\r\n\r\n' +
      'PATCH /p HTTP/1.0\r\nConnection: keep-alive, Upgrade\r\n\r\n' +
      'PROPFIND /q HTTP/1.1\r\nHost: b\r\n\r\n',
  );
  assert.equal(c.errors.length, 0);
  const [a, b, p] = c.heads;
  assert.ok(a?.kind === 'request' && b?.kind === 'request' && p?.kind === 'request');
  assert.deepEqual(a.headers, ['host', 'a', 'content-length', '0', 'user-agent', 'x', 'content-lengtx', '1', 'x-request-id', 'r', 'x-request_id', 's', 'connection', 'Keep-Alive', 'te', 'trailers']);
  assert.equal(a.keepAlive, true);
  assert.equal(a.body, 'none');
  assert.equal(b.method, 'PATCH');
  assert.equal(b.versionMinor, 0);
  assert.equal(b.keepAlive, true);
  assert.equal(p.method, 'PROPFIND');
  assert.equal(p.host, 'b');
});

test('request and status lines: exact versions, reasons as sent', async () => {
  for (const bad of ['GET / HTTP/1.2\r\nHost: a\r\n\r\n', 'GET / HTTP/1.10\r\nHost: a\r\n\r\n', 'GET /\r\nHost: a\r\n\r\n', 'GET  HTTP/1.1\r\nHost: a\r\n\r\n']) {
    const c = await feed('request', bad);
    assert.equal(c.errors.length, 1, bad);
  }
  const r = await feed('response', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 201 Created Here\r\nContent-Length: 0\r\n\r\nHTTP/1.0 204\r\n\r\n');
  assert.equal(r.errors.length, 0);
  assert.deepEqual(
    r.heads.map((h) => (h.kind === 'response' ? [h.status, h.reason, h.versionMinor] : [])),
    [
      [200, 'OK', 1],
      [201, 'Created Here', 1],
      [204, '', 0],
    ],
  );
});

test('property: headEnd finds the first CRLFCRLF as Buffer#indexOf does', () => {
  const bytes = fc.array(fc.constantFrom(13, 10, 65, 32), { maxLength: 64 });
  fc.assert(
    fc.property(bytes, fc.nat(70), (arr, from) => {
      const b = Buffer.from(arr);
      const start = Math.min(from, b.length);
      assert.equal(headEnd(b, start), b.indexOf('\r\n\r\n', start, 'latin1'));
    }),
    { numRuns: 5000 },
  );
});
