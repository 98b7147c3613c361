// The CEL environment: Kubernetes library functions, the RE2/Go routing of matches() and duration(), and the
// token-aware rewrite that makes it possible.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { celEnvironment } from './library.ts';
import { rewriteRule } from './source.ts';

const evaluate = (rule: string, self: unknown = null): unknown => celEnvironment().parse(rewriteRule(rule).text)({ self });

test('rewrite renames matches() and duration() calls only outside string literals and comments', () => {
  assert.equal(rewriteRule('self.matches("^a$")').text, 'self.re2Matches("^a$")');
  assert.equal(rewriteRule("duration(self) >= duration('1ms')").text, "goDuration(self) >= goDuration('1ms')");
  assert.equal(rewriteRule('"x.matches(y)" == self.matches ("duration(1)")').text, '"x.matches(y)" == self.re2Matches ("duration(1)")');
  assert.equal(rewriteRule("r'duration(' + '''matches(''' // duration(x)\n").text, "r'duration(' + '''matches(''' // duration(x)\n");
  assert.equal(rewriteRule('self.duration == 1').text, 'self.duration == 1');
  assert.equal(rewriteRule('self.x == oldSelf.x').usesOldSelf, true);
  assert.equal(rewriteRule('self.oldSelf == "oldSelf"').usesOldSelf, false);
});

test('matches() uses RE2 (unanchored search, RE2 syntax)', () => {
  assert.equal(evaluate('self.matches("b+")', 'abbc'), true);
  assert.equal(evaluate('self.matches("^b")', 'abbc'), false);
  assert.equal(evaluate('self.matches("\\\\pL+")', 'ß'), true);
  // Backreferences are not RE2: compiling the pattern fails, and the rule errors rather than backtracking.
  assert.throws(() => evaluate('self.matches("(a)\\\\1")', 'aa'));
});

test('duration() follows Go: units required, µs accepted', () => {
  assert.equal(evaluate("duration(self) >= duration('1ms')", '1500µs'), true);
  assert.equal(evaluate("duration(self) >= duration('1ms')", '999us'), false);
  assert.throws(() => evaluate('duration(self)', '5'), /missing unit/);
});

test('isURL() and url() accessors', () => {
  assert.equal(evaluate('isURL(self)', 'https://example.com/jwks'), true);
  assert.equal(evaluate('isURL(self)', 'example.com/jwks'), false);
  assert.equal(evaluate('url(self).getScheme()', 'OCI://r/p'), 'oci');
  assert.equal(evaluate('url(self).getHost()', 'http://h:81/p'), 'h:81');
  assert.equal(evaluate('url(self).getHostname()', 'http://h:81/p'), 'h');
  assert.equal(evaluate('url(self).getPort()', 'http://h:81/p'), '81');
  assert.equal(evaluate('url(self).getEscapedPath()', 'http://h:81/p/q'), '/p/q');
  assert.equal(evaluate('url(self).getEscapedPath()', 'http://h/p#frag'), '/p');
  assert.throws(() => evaluate('url(self)', 'not a url'), /URL parse error/);
});

test('isIP()/ip() and isCIDR()/cidr()', () => {
  assert.equal(evaluate('isIP(self)', '10.0.0.1'), true);
  assert.equal(evaluate('isIP(self)', '010.0.0.1'), false);
  assert.equal(evaluate('isIP(self)', '2001:db8::1'), true);
  assert.equal(evaluate('isIP(self)', '::ffff:1.2.3.4'), false);
  assert.equal(evaluate('isIP(self)', 'fe80::1%eth0'), false);
  assert.equal(evaluate('ip(self).family()', '2001:db8::1'), 6n);
  assert.equal(evaluate('ip(self).string()', '2001:0db8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(evaluate('ip(self).isLoopback()', '127.0.0.1'), true);
  assert.equal(evaluate('isCIDR(self)', '10.0.0.0/8'), true);
  assert.equal(evaluate('isCIDR(self)', '10.0.0.0/33'), false);
  assert.equal(evaluate('cidr(self).prefixLength()', '10.0.0.0/8'), 8n);
  assert.equal(evaluate("cidr(self).containsIP('10.1.2.3')", '10.0.0.0/8'), true);
  assert.equal(evaluate("cidr(self).containsIP(ip('11.0.0.1'))", '10.0.0.0/8'), false);
  assert.equal(evaluate("cidr(self).containsIP('2001:db8::5')", '2001:db8::/32'), true);
});

test('standard string and list functions Istio rules use', () => {
  assert.equal(evaluate('self.all(k, size(k) < 63 && !k.contains("*"))', { a: 1, b: 2 }), true);
  assert.equal(evaluate('self.exists_one(x, x == 2)', [1n, 2n, 3n]), true);
  assert.equal(evaluate('self.startsWith("unix://") ? (self.substring(7, 8) == "/") : true', 'unix:///a'), true);
  assert.equal(evaluate('self.lowerAscii().split(",").size()', 'A,B'), 2n);
  assert.equal(evaluate('0 < int(self) && int(self) <= 65535', '8080'), true);
});
