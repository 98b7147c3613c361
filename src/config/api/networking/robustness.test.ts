// Property: no networking validator throws, whatever the spec holds (the schema layer normally runs first, but a
// validator must report, never crash, on odd input).
import { test } from 'node:test';
import fc from 'fast-check';
import { networkingValidators, type NetworkingKind } from './index.ts';
import { loadNetworking, run } from './test-helpers.ts';

const kinds = Object.keys(networkingValidators) as NetworkingKind[];

/** Values shaped roughly like specs: objects keyed by real field names, so deep paths are reached. */
const fieldNames = ['hosts', 'gateways', 'http', 'tls', 'tcp', 'route', 'match', 'destination', 'host', 'subset', 'port', 'number', 'name', 'protocol',
  'uri', 'prefix', 'exact', 'regex', 'headers', 'request', 'set', 'add', 'remove', 'weight', 'timeout', 'retries', 'attempts', 'retryOn', 'fault', 'abort',
  'delay', 'percentage', 'value', 'httpStatus', 'fixedDelay', 'mirror', 'mirrors', 'redirect', 'rewrite', 'uriRegexRewrite', 'corsPolicy', 'allowOrigins',
  'trafficPolicy', 'loadBalancer', 'consistentHash', 'httpCookie', 'localityLbSetting', 'distribute', 'failover', 'to', 'from', 'connectionPool', 'tcp',
  'outlierDetection', 'interval', 'subsets', 'labels', 'exportTo', 'servers', 'bind', 'resolution', 'endpoints', 'address', 'ports', 'addresses',
  'workloadSelector', 'egress', 'ingress', 'defaultEndpoint', 'template', 'probe', 'httpGet', 'outboundTrafficPolicy', 'egressProxy', 'mode', 'credentialName'];
const specLike = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), tie('obj'), fc.array(tie('value'), { maxLength: 3 })),
  obj: fc.dictionary(fc.constantFrom(...fieldNames), tie('value'), { maxKeys: 5 }),
})).obj;

test('property: validators never throw on arbitrary specs', () => {
  fc.assert(
    fc.property(fc.constantFrom(...kinds), fc.oneof(specLike, fc.anything()), (kind, spec) => {
      run(kind, spec);
      return true;
    }),
    { numRuns: 2000 },
  );
});

const SAMPLES = new URL('../../../../../shared/istio-samples/', import.meta.url).pathname;
const sampleFiles = ['pilot-testdata-config/virtual-service-all.yaml', 'pilot-testdata-config/destination-rule-all.yaml', 'pilot-testdata-config/se-example.yaml',
  'pilot-testdata-config/none.yaml', 'pilot-testdata-config/gateway-all.yaml', 'pilot-testdata-config/egressgateway.yaml', 'pilot-testdata-config/rule-fault-injection.yaml'];
const samples = sampleFiles.flatMap((f) => loadNetworking(SAMPLES + f));

/** Replace the value reached by following `steps` (indexes into the keys of each level) with `replacement`. */
function mutate(value: unknown, steps: number[], replacement: unknown): unknown {
  if (steps.length === 0 || value === null || typeof value !== 'object') return replacement;
  const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? [...value] : { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  if (keys.length === 0) return replacement;
  const key = keys[(steps[0] ?? 0) % keys.length] ?? '';
  (copy as Record<string, unknown>)[key] = mutate((copy as Record<string, unknown>)[key], steps.slice(1), replacement);
  return copy;
}

test('property: validators never throw on mutated real samples', () => {
  fc.assert(
    fc.property(fc.nat(samples.length - 1), fc.array(fc.nat(50), { maxLength: 8 }), fc.anything(), (i, steps, replacement) => {
      const r = samples[i];
      if (r === undefined) return true;
      run(r.kind as NetworkingKind, mutate(r.spec, steps, replacement));
      return true;
    }),
    { numRuns: 3000 },
  );
});
