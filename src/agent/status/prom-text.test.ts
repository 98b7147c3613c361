// Merging Prometheus pages: one HELP/TYPE per family, samples grouped, repeated series dropped, type clashes reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mergeExpositions, parseExposition } from './prom-text.ts';

const proxy = [
  '# TYPE istio_requests_total counter',
  'istio_requests_total{reporter="destination",response_code="200"} 3',
  '# TYPE istio_request_duration_milliseconds histogram',
  'istio_request_duration_milliseconds_bucket{le="1"} 1',
  'istio_request_duration_milliseconds_bucket{le="+Inf"} 3',
  'istio_request_duration_milliseconds_sum 7',
  'istio_request_duration_milliseconds_count 3',
].join('\n');

test('families from several pages are merged: one HELP and TYPE each, samples together, first source wins', () => {
  const app = [
    '# HELP http_requests_total Requests the app served.',
    '# TYPE http_requests_total counter',
    'http_requests_total{path="/a b}"} 5',
    '# HELP istio_requests_total The app must not redefine this',
    '# TYPE istio_requests_total gauge',
    'istio_requests_total 99',
    '# TYPE app_up gauge',
    'app_up 1',
    '# some comment the app writes',
    'app_up 2',
    'http_requests_total{path="/c"} 1 1700000000000',
  ].join('\r\n');
  const again = '# HELP http_requests_total Another help\n# TYPE http_requests_total counter\nhttp_requests_total{path="/d"} 2\nhttp_requests_total{path="/c"} 7\n';
  const r = mergeExpositions([{ name: 'proxy', text: proxy }, { name: 'application', text: app }, { name: 'agent', text: again }]);
  assert.deepEqual(r.conflicts, ['application: istio_requests_total (gauge, already counter)']);
  const lines = r.text.trimEnd().split('\n');
  const count = (re: RegExp): number => lines.filter((l) => re.test(l)).length;
  assert.equal(count(/^# TYPE http_requests_total /), 1);
  assert.equal(count(/^# HELP http_requests_total /), 1);
  assert.ok(r.text.includes('# HELP http_requests_total Requests the app served.\n'));
  assert.equal(count(/^# TYPE istio_requests_total counter$/), 1);
  assert.ok(!r.text.includes('istio_requests_total 99'), 'the clashing family is dropped');
  assert.ok(!r.text.includes('app_up 2'), 'a repeated series keeps its first sample');
  // Samples of one family are contiguous, right after its TYPE line.
  const start = lines.indexOf('# TYPE http_requests_total counter');
  assert.deepEqual(lines.slice(start + 1, start + 4), ['http_requests_total{path="/a b}"} 5', 'http_requests_total{path="/c"} 1 1700000000000', 'http_requests_total{path="/d"} 2']);
  assert.ok(r.text.includes('istio_request_duration_milliseconds_sum 7\nistio_request_duration_milliseconds_count 3\n'));
  assert.ok(r.text.endsWith('\n'));
});

test('OpenMetrics pages stop at # EOF; malformed lines are skipped and counted', () => {
  const p = parseExposition('# TYPE a counter\na_total 1\na_created 5\nbroken{x="1" 2\n{nope} 1\nb\n# EOF\nafter 1\n');
  assert.deepEqual(p.families.map((f) => [f.name, f.samples.length]), [['a', 2]]);
  assert.equal(p.malformed, 3);
});

test('property: merging a page with itself gives every family once and every series once', () => {
  const name = fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/);
  const label = fc.string({ maxLength: 6 }).map((s) => s.replace(/[\\"\n]/g, ''));
  fc.assert(
    fc.property(fc.array(fc.tuple(name, fc.constantFrom('counter', 'gauge'), fc.array(label, { maxLength: 3 })), { maxLength: 6 }), (fams) => {
      const text = fams.map(([n, t, ls]) => [`# TYPE ${n} ${t}`, ...ls.map((l) => `${n}{v="${l}"} 1`)].join('\n')).join('\n');
      const r = mergeExpositions([{ name: 'a', text }, { name: 'b', text }]);
      const types = r.text.split('\n').filter((l) => l.startsWith('# TYPE '));
      assert.equal(new Set(types.map((l) => l.split(' ')[2])).size, types.length);
      const samples = r.text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
      assert.equal(new Set(samples).size, samples.length);
    }),
    { numRuns: 200 },
  );
});
