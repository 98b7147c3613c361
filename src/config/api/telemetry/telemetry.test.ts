import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateResource } from '../validate.ts';

const run = (spec: unknown, apiVersion = 'telemetry.istio.io/v1'): { errors: string[]; warnings: string[] } => {
  const r = validateResource({ apiVersion, kind: 'Telemetry', metadata: { name: 't', namespace: 'istio-system' }, spec }, { file: 't.yaml', document: 0 });
  return { errors: r.errors.map((e) => `${e.path}: ${e.message}`), warnings: r.warnings.map((w) => `${w.path}: ${w.message}`) };
};

test('Telemetry v1 and v1alpha1 accept providers, sampling, overrides and access-log filters', () => {
  const spec = {
    selector: { matchLabels: { app: 'reviews' } },
    tracing: [{ providers: [{ name: 'otel-tracing' }], randomSamplingPercentage: 10, customTags: { env: { environment: { name: 'ENV' } } } }],
    metrics: [{ providers: [{ name: 'prometheus' }], reportingInterval: '10s', overrides: [{ match: { metric: 'REQUEST_COUNT', mode: 'CLIENT' }, tagOverrides: { request_host: { value: 'request.host' }, response_code: { operation: 'REMOVE' } } }] }],
    accessLogging: [{ providers: [{ name: 'envoy' }], filter: { expression: 'response.code >= 400' } }],
  };
  assert.deepEqual(run(spec), { errors: [], warnings: [] });
  assert.deepEqual(run(spec, 'telemetry.istio.io/v1alpha1'), { errors: [], warnings: [] });
});

test('Telemetry webhook rules', () => {
  assert.match(run({ tracing: [{ randomSamplingPercentage: 101 }] }).errors[0] ?? '', /^spec.tracing\[0\].randomSamplingPercentage: /);
  assert.match(run({ accessLogging: [{ filter: { expression: 'response.code >=' } }] }).errors[0] ?? '', /^spec.accessLogging\[0\].filter.expression: must be a valid CEL expression/);
  assert.match(run({ metrics: [{ overrides: [{ tagOverrides: { x: { operation: 'UPSERT' } } }] }] }).errors[0] ?? '', /^spec.metrics\[0\].overrides\[0\].tagOverrides\[x\].*value must be set when operation is UPSERT/);
  assert.match(run({ metrics: [{ overrides: [{ tagOverrides: { x: { operation: 'REMOVE', value: 'a' } } }] }] }).errors[0] ?? '', /(may only be set when operation is UPSERT|must not be set when operation is REMOVE)/);
  assert.match(run({ tracing: [{ customTags: { a: { literal: { value: '' } } } }] }).errors[0] ?? '', /^spec.tracing\[0\].customTags\[a\].literal.value: (literal tag value may not be empty|.*at least 1 characters)/);
  assert.match(run({ metrics: [{ reportingInterval: '0.1ms' }] }).errors[0] ?? '', /^spec.metrics\[0\].reportingInterval/);
  assert.match(run({ selector: { matchLabels: { a: 'b' } }, targetRefs: [{ kind: 'Service', name: 's' }] }).errors[0] ?? '', /only one of/);
  const w = run({ tracing: [{ providers: [{ name: 'a' }, { name: 'b' }] }, {}] });
  assert.deepEqual(w.errors, []);
  assert.equal(w.warnings.length, 2, w.warnings.join('\n'));
});
