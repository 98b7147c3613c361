// Go's duration and request-URI parsing rules as Kubernetes' CEL library applies them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGoDuration } from './go-duration.ts';
import { hostname, parseRequestUri, port } from './go-url.ts';

test('Go durations: valid forms and their nanoseconds', () => {
  const cases: [string, bigint][] = [
    ['0', 0n], ['1ms', 1_000_000n], ['1.5h', 5_400_000_000_000n], ['2h45m', 9_900_000_000_000n], ['-1.5s', -1_500_000_000n],
    ['+3s', 3_000_000_000n], ['.5s', 500_000_000n], ['1.s', 1_000_000_000n], ['300us', 300_000n], ['300µs', 300_000n],
    ['300μs', 300_000n], ['10ns', 10n], ['1h1m1s1ms1us1ns', 3_661_001_001_001n],
  ];
  for (const [s, nanos] of cases) assert.deepEqual(parseGoDuration(s), { ok: true, nanos }, s);
});

test('Go durations: invalid forms', () => {
  for (const s of ['', '1', 's', '.s', '1x', '1 s', '1s ', 'ms', '-', '1.5.5s', '1h-2m', '3000000h', 'P1D', '1S']) {
    assert.equal(parseGoDuration(s).ok, false, s);
  }
});

test('request URIs: what Go accepts, and the parts CEL exposes', () => {
  const u = parseRequestUri('HTTPS://user@example.com:8443/a/b?x=1');
  assert.ok(typeof u !== 'string');
  assert.equal(u.scheme, 'https');
  assert.equal(u.host, 'example.com:8443');
  assert.equal(hostname(u), 'example.com');
  assert.equal(port(u), '8443');
  assert.equal(u.path, '/a/b');
  assert.equal(u.rawQuery, 'x=1');
  const v6 = parseRequestUri('http://[::1]:80/');
  assert.ok(typeof v6 !== 'string');
  assert.equal(hostname(v6), '::1');
  assert.equal(port(v6), '80');
  for (const ok of ['/abs/path', 'oci://ghcr.io/a/b:1.0', 'mailto:someone', 'file:///x.wasm', '*', 'ghcr.io:5000/x']) {
    assert.equal(typeof parseRequestUri(ok), 'object', ok);
  }
  // A registry with a port parses as scheme "ghcr.io" (Go's rule), which Istio's WasmPlugin rule then refuses.
  const reg = parseRequestUri('ghcr.io:5000/x');
  assert.ok(typeof reg !== 'string' && reg.scheme === 'ghcr.io');
});

test('request URIs: what Go refuses', () => {
  for (const bad of ['', 'relative/path', 'ghcr.io/a/b', ':foo', 'http://a b/', 'http://host:port/', 'http://[::1/', 'http://a/%zz', 'http://a/\n', 'http://a%41/']) {
    assert.equal(typeof parseRequestUri(bad), 'string', bad);
  }
});
