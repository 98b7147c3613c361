import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Reporter } from '../report.ts';
import { checkDuration, formatGoDuration, parseGoDuration, NS_PER_MS } from './duration.ts';
import { checkRegex, compileRe2 } from './regex.ts';
import { hostsOverlap, validateFqdn, validateNamespacedHost, validatePartialWildcard, validateWildcardDomain } from './host.ts';
import { isIP, parseCidr, protocolFromPort, validateIpOrCidr } from './net.ts';
import { checkSelectorOrTargetRefs, checkWorkloadSelector, validateLabelKey, validateLabelValue } from './labels.ts';
import { checkPercentage } from './percent.ts';
import { checkExportTo, validateHeaderValue, validateMatchHeaderName } from './http.ts';

const ns = (s: string): bigint => {
  const r = parseGoDuration(s);
  assert.ok(r.ok, `${s} should parse`);
  return r.value;
};

test('parseGoDuration follows Go time.ParseDuration', () => {
  assert.equal(ns('300ms'), 300n * NS_PER_MS);
  assert.equal(ns('1h2m3.5s'), 3723_500_000_000n);
  assert.equal(ns('1.5s'), 1_500_000_000n);
  assert.equal(ns('.5s'), 500_000_000n);
  assert.equal(ns('1.s'), 1_000_000_000n);
  assert.equal(ns('-1.5h'), -5_400_000_000_000n);
  assert.equal(ns('+5m'), 300_000_000_000n);
  assert.equal(ns('0'), 0n);
  assert.equal(ns('10µs'), 10_000n);
  assert.equal(ns('10μs'), 10_000n);
  assert.equal(ns('10us'), 10_000n);
  assert.equal(ns('7ns'), 7n);
  assert.equal(ns('2562047h47m16.854775807s'), (1n << 63n) - 1n);
  for (const bad of ['', '1', '5', 's', '.s', '1d', '1 s', '1S', '-', '1.2.3s', '2562047h47m16.854775808s', '1s2']) {
    assert.equal(parseGoDuration(bad).ok, false, `${JSON.stringify(bad)} must be rejected`);
  }
});

test('checkDuration applies Istio rules: >= 1ms, whole milliseconds', () => {
  const r = new Reporter('spec.timeout');
  assert.equal(checkDuration(r, '10s'), 10_000_000_000n);
  assert.equal(checkDuration(r, '1ms'), NS_PER_MS);
  assert.equal(r.out.errors.length, 0);
  for (const bad of ['1.5ms', '500us', '0s', '-1s', '10', 'abc']) {
    const b = new Reporter('spec.timeout');
    assert.equal(checkDuration(b, bad), undefined, bad);
    assert.equal(b.out.errors.length, 1, bad);
    assert.equal(b.out.errors[0]?.path, 'spec.timeout');
  }
  const sub = new Reporter('x');
  checkDuration(sub, '1.5ms');
  assert.match(sub.out.errors[0]?.message ?? '', /whole milliseconds/);
  const zero = new Reporter('x');
  assert.equal(checkDuration(zero, '0s', { allowZero: true }), 0n);
  assert.equal(zero.out.errors.length, 0);
});

test('property: a formatted duration parses back to the same value', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: -(1n << 62n), max: 1n << 62n }), (v) => {
      const back = parseGoDuration(formatGoDuration(v));
      return back.ok && back.value === v;
    }),
  );
  fc.assert(
    fc.property(fc.nat({ max: 10_000 }), fc.nat({ max: 59 }), fc.nat({ max: 999 }), (h, m, ms) => {
      const text = `${h}h${m}m${ms}ms`;
      return ns(text) === BigInt(h) * 3_600_000_000_000n + BigInt(m) * 60_000_000_000n + BigInt(ms) * NS_PER_MS;
    }),
  );
});

test('property: duration parsing never throws on arbitrary strings', () => {
  fc.assert(
    fc.property(fc.string(), (s) => {
      parseGoDuration(s);
      checkDuration(new Reporter('x'), s);
      return true;
    }),
  );
});

test('RE2: JavaScript-only constructs are rejected with an explanation', () => {
  const cases: [string, RegExp][] = [
    ['foo(?=bar)', /lookahead/],
    ['foo(?!bar)', /lookahead/],
    ['(?<=foo)bar', /lookbehind/],
    ['(?<!foo)bar', /lookbehind/],
    ['(a)\\1', /backreference/],
    ['a++', /possessive/],
    ['(?>a)', /atomic/],
    ['[a-', /missing closing/],
  ];
  for (const [p, why] of cases) {
    const r = new Reporter('spec.http[0].match[0].uri.regex');
    assert.equal(checkRegex(r, p), undefined, p);
    assert.equal(r.out.errors[0]?.path, 'spec.http[0].match[0].uri.regex');
    assert.match(r.out.errors[0]?.message ?? '', why, p);
    assert.match(r.out.errors[0]?.message ?? '', /RE2 syntax is required/);
  }
  const long = new Reporter('x');
  checkRegex(long, 'a'.repeat(1025));
  assert.match(long.out.errors[0]?.message ?? '', /too long/);
});

test('RE2: full match vs find, and \\N rewrite substitution', () => {
  const m = compileRe2('/api/v(\\d+)/.*');
  assert.ok(m.ok);
  assert.equal(m.value.fullMatch('/api/v2/users'), true);
  assert.equal(m.value.fullMatch('x/api/v2/users'), false);
  assert.equal(m.value.find('x/api/v2/users'), true);
  assert.equal(m.value.replaceAll('/api/v2/users', '/v\\1'), '/v2');
});

test('property: regex checking never throws, and accepts whatever RE2 compiles', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (s) => {
      const r = new Reporter('x');
      const out = checkRegex(r, s, { allowEmpty: true });
      const compiled = compileRe2(s);
      return compiled.ok === (out !== undefined) && compiled.ok === (r.out.errors.length === 0);
    }),
  );
});

test('hosts: FQDNs, wildcards and partial wildcards', () => {
  for (const h of ['reviews', 'reviews.default.svc.cluster.local', 'istio.io.', 'Foo.Example.COM', 'a-b.c']) assert.equal(validateFqdn(h), undefined, h);
  for (const h of ['', '-a.com', 'a_b.com', 'foo.123', '1.2.3.4', 'a..b', `${'a'.repeat(64)}.com`, `${'a.'.repeat(128)}com`]) assert.notEqual(validateFqdn(h), undefined, h);
  for (const h of ['*', '*.example.com', '*foo.example.com', '*-foo.bar']) assert.equal(validateWildcardDomain(h), undefined, h);
  for (const h of ['foo.*.com', 'foo*.com', '**.com', '1.2.3.4']) assert.notEqual(validateWildcardDomain(h), undefined, h);
  assert.notEqual(validatePartialWildcard('*foo.com'), undefined);
  assert.equal(validatePartialWildcard('*.foo.com'), undefined);
  assert.equal(hostsOverlap('*.foo.com', 'a.foo.com'), true);
  assert.equal(hostsOverlap('*.com', '*.foo.com'), true);
  assert.equal(hostsOverlap('a.foo.com', 'b.foo.com'), false);
});

test('hosts: namespace/host forms for gateways and sidecars', () => {
  for (const h of ['ns1/foo.com', '*/foo.com', './*', '*/*', 'foo.com', '*', '1.2.3.4', 'ns/1.2.3.4']) assert.deepEqual(validateNamespacedHost(h, 'gateway'), [], h);
  for (const h of ['ns1/foo.com', '*/foo.com', './*', '~/foo.com', '~ns/foo.com', 'istio-system/*']) assert.deepEqual(validateNamespacedHost(h, 'sidecar'), [], h);
  assert.match(validateNamespacedHost('foo.com', 'sidecar')[0] ?? '', /namespace\/dnsName/);
  assert.match(validateNamespacedHost('ns/foo', 'sidecar')[0] ?? '', /short name/);
  assert.match(validateNamespacedHost('ns/*foo.com', 'gateway').join(' '), /partial wildcard/);
  assert.notDeepEqual(validateNamespacedHost('ns/1.2.3.4', 'sidecar'), []);
  assert.notDeepEqual(validateNamespacedHost('bad_ns/foo.com', 'gateway'), []);
  assert.notDeepEqual(validateNamespacedHost('/foo.com', 'gateway'), []);
});

const label = fc.stringMatching(/^[a-z0-9](?:[-a-z0-9]{0,20}[a-z0-9])?$/);
const tld = fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/);

test('property: generated FQDNs and wildcard domains are accepted; checks never throw', () => {
  fc.assert(
    fc.property(fc.array(label, { minLength: 1, maxLength: 5 }), tld, fc.boolean(), (labels, t, wild) => {
      const host = [...labels, t].join('.');
      return validateFqdn(host) === undefined && validateWildcardDomain(wild ? `*.${host}` : host) === undefined && validatePartialWildcard(`*.${host}`) === undefined;
    }),
  );
  fc.assert(
    fc.property(fc.string(), (s) => {
      validateFqdn(s);
      validateWildcardDomain(s);
      validateNamespacedHost(s, 'gateway');
      validateNamespacedHost(s, 'sidecar');
      return true;
    }),
  );
});

test('addresses and CIDRs are strict', () => {
  for (const a of ['10.0.0.1', '::1', '2001:db8::1', '::ffff:1.2.3.4', 'fe80::1%eth0']) assert.equal(isIP(a), true, a);
  for (const a of ['1.2.3', '::gg', '256.0.0.1', '01.2.3.4', '1:2:3:4:5:6:7:8:9', 'a', '']) assert.equal(isIP(a), false, a);
  assert.equal(parseCidr('10.0.0.0/33').ok, false);
  assert.equal(parseCidr('10.0.0.0/8').ok, true);
  assert.equal(parseCidr('2001:db8::/129').ok, false);
  assert.equal(validateIpOrCidr('10.0.0.0/8/1') !== undefined, true);
  assert.equal(validateIpOrCidr('192.168.1.1'), undefined);
});

const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const v6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(':'));

test('property: generated CIDRs are accepted and out-of-range prefix lengths rejected', () => {
  fc.assert(fc.property(v4, fc.nat(32), (a, b) => parseCidr(`${a}/${b}`).ok));
  fc.assert(fc.property(v6, fc.nat(128), (a, b) => parseCidr(`${a}/${b}`).ok));
  fc.assert(fc.property(v4, fc.integer({ min: 33, max: 10_000 }), (a, b) => !parseCidr(`${a}/${b}`).ok));
  fc.assert(fc.property(v6, fc.integer({ min: 129, max: 10_000 }), (a, b) => !parseCidr(`${a}/${b}`).ok));
  fc.assert(fc.property(fc.string(), (s) => (parseCidr(s), validateIpOrCidr(s), true)));
});

test('protocols from port names and appProtocol', () => {
  assert.equal(protocolFromPort('http-web'), 'HTTP');
  assert.equal(protocolFromPort('grpc-web'), 'GRPC-Web');
  assert.equal(protocolFromPort('grpc'), 'GRPC');
  assert.equal(protocolFromPort('tcp-db'), 'TCP');
  assert.equal(protocolFromPort('web'), undefined);
  assert.equal(protocolFromPort('web', 'http2'), 'HTTP2');
  assert.equal(protocolFromPort('web', 'kubernetes.io/h2c'), 'HTTP2');
});

test('labels and selectors', () => {
  assert.equal(validateLabelKey('app'), undefined);
  assert.equal(validateLabelKey('app.kubernetes.io/name'), undefined);
  assert.notEqual(validateLabelKey('-app'), undefined);
  assert.notEqual(validateLabelKey('Bad_Prefix/name'), undefined);
  assert.equal(validateLabelValue(''), undefined);
  assert.notEqual(validateLabelValue('a'.repeat(64)), undefined);
  const r = new Reporter('spec.workloadSelector');
  checkWorkloadSelector(r, { labels: { app: 'v*' } }, 'labels');
  assert.equal(r.out.errors[0]?.path, 'spec.workloadSelector.labels.app');
  const w = new Reporter('spec.selector');
  checkWorkloadSelector(w, {});
  assert.equal(w.out.warnings.length, 1);
  const t = new Reporter('spec');
  checkSelectorOrTargetRefs(t, { selector: { matchLabels: { a: 'b' } }, targetRefs: [{ kind: 'Deployment', name: 'x' }] }, 'selector');
  assert.equal(t.out.errors.length, 2);
  assert.match(t.out.errors[0]?.message ?? '', /only one of/);
  assert.equal(t.out.errors[1]?.path, 'spec.targetRefs[0]');
});

test('percentages, header values and names, exportTo', () => {
  const p = new Reporter('spec.fault.delay.percentage');
  checkPercentage(p, { value: 100.5 });
  checkPercentage(p, { value: 0.00001 });
  checkPercentage(p, { value: 0.1 });
  assert.equal(p.out.errors.length, 2);
  assert.equal(p.out.errors[0]?.path, 'spec.fault.delay.percentage.value');
  assert.equal(validateHeaderValue('%HOSTNAME%'), undefined);
  assert.equal(validateHeaderValue('100%%'), undefined);
  assert.equal(validateHeaderValue('%REQ(x-id)%'), undefined);
  assert.notEqual(validateHeaderValue('abc%'), undefined);
  assert.notEqual(validateHeaderValue('%START_TIME%%'), undefined);
  assert.notEqual(validateHeaderValue('a\nb'), undefined);
  assert.equal(validateMatchHeaderName(':authority'), undefined);
  assert.equal(validateMatchHeaderName('@request.auth.claims.sub'), undefined);
  assert.notEqual(validateMatchHeaderName('a b'), undefined);
  const e = new Reporter('spec.exportTo');
  checkExportTo(e, 'default', ['.', 'default', '*', '~', 'Bad_ns']);
  assert.deepEqual(e.out.errors.map((x) => x.path), ['spec.exportTo[1]', 'spec.exportTo[3]', 'spec.exportTo[4]', 'spec.exportTo']);
});

test('parseDurationMillis for consumers', async () => {
  const { parseDurationMillis } = await import('./duration.ts');
  assert.equal(parseDurationMillis('1m30s'), 90_000);
  assert.equal(parseDurationMillis('.5s'), 500);
  assert.equal(parseDurationMillis('250us'), 0.25);
  assert.equal(parseDurationMillis('bogus'), undefined);
  assert.equal(parseDurationMillis(undefined), undefined);
});

test('Kubernetes label selectors', async () => {
  const { checkLabelSelector } = await import('./labels.ts');
  const r = new Reporter('spec.selector');
  checkLabelSelector(r, { matchLabels: { app: 'a' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['web'] }, { key: 'x', operator: 'In' }, { key: 'y', operator: 'Exists', values: ['z'] }, { key: 'z', operator: 'Has' }] });
  assert.deepEqual(r.out.errors.map((e) => e.path), ['spec.selector.matchExpressions[1].values', 'spec.selector.matchExpressions[2].values', 'spec.selector.matchExpressions[3].operator']);
});
