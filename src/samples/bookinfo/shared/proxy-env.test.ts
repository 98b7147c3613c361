import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { NoProxy, parseHttpProxy } from './proxy-env.ts';

test('HTTP_PROXY: unset or empty means direct', () => {
  assert.deepEqual(parseHttpProxy(undefined), { ok: true, value: undefined });
  assert.deepEqual(parseHttpProxy('  '), { ok: true, value: undefined });
});

test('HTTP_PROXY: http URL, bare host:port, credentials, IPv6', () => {
  const a = parseHttpProxy('http://127.0.0.1:15001');
  assert.ok(a.ok && a.value);
  assert.equal(a.value.host, '127.0.0.1');
  assert.equal(a.value.port, 15001);
  assert.equal(a.value.authorization, undefined);

  const b = parseHttpProxy('127.0.0.1:15001');
  assert.ok(b.ok && b.value);
  assert.equal(b.value.port, 15001);

  const c = parseHttpProxy('http://user:p%40ss@proxy');
  assert.ok(c.ok && c.value);
  assert.equal(c.value.port, 80);
  assert.equal(c.value.authorization, `Basic ${Buffer.from('user:p@ss').toString('base64')}`);

  const d = parseHttpProxy('http://[::1]:15001');
  assert.ok(d.ok && d.value);
  assert.equal(d.value.host, '::1');
});

test('HTTP_PROXY: https proxies and garbage are refused with a message that names the variable', () => {
  const a = parseHttpProxy('https://127.0.0.1:15001');
  assert.ok(!a.ok);
  assert.match(a.error, /HTTP_PROXY .*only a plain http:\/\/ proxy/);
  const b = parseHttpProxy('http://[oops');
  assert.ok(!b.ok);
  assert.match(b.error, /not a URL/);
});

test('NO_PROXY: names, suffixes, ports, IPs, CIDRs and *', () => {
  const np = new NoProxy('localhost, .example.com,internal.corp:8080,10.1.2.3, 192.168.0.0/16, [::1], *.mesh.local');
  assert.equal(np.bypass('localhost', 80), true);
  assert.equal(np.bypass('LOCALHOST', 80), true);
  assert.equal(np.bypass('a.example.com', 80), true);
  assert.equal(np.bypass('example.com', 80), true);
  assert.equal(np.bypass('notexample.com', 80), false);
  assert.equal(np.bypass('internal.corp', 8080), true);
  assert.equal(np.bypass('internal.corp', 9080), false);
  assert.equal(np.bypass('10.1.2.3', 9080), true);
  assert.equal(np.bypass('10.1.2.4', 9080), false);
  assert.equal(np.bypass('192.168.44.1', 9080), true);
  assert.equal(np.bypass('[::1]', 9080), true);
  assert.equal(np.bypass('reviews.mesh.local', 9080), true);
  assert.equal(np.bypass('reviews', 9080), false);
  assert.equal(new NoProxy('*').bypass('reviews', 9080), true);
  assert.equal(new NoProxy(undefined).bypass('localhost', 80), false);
  assert.equal(new NoProxy(' , ,').bypass('localhost', 80), false);
});

test('NO_PROXY: an entry always bypasses itself and its subdomains, never an unrelated name', () => {
  const label = fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/);
  fc.assert(
    fc.property(fc.array(label, { minLength: 1, maxLength: 3 }), label, label, (parts, sub, other) => {
      const domain = parts.join('.');
      const np = new NoProxy(domain);
      assert.equal(np.bypass(domain, 9080), true);
      assert.equal(np.bypass(`${sub}.${domain}`, 9080), true);
      if (other !== domain && !other.endsWith(`.${domain}`)) assert.equal(np.bypass(other, 9080), false);
    }),
  );
});
