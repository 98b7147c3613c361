// Property tests: random VirtualServices and DestinationRules always translate to resources that encode, that
// grpc-js-xds accepts for proxyless clients, and whose weighted splits keep the weights written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Resource } from '../../config/api/resource.ts';
import { TypeUrl } from '../../xds/protos.ts';
import { parseProxy } from '../proxy.ts';
import { parseDurationMillis } from '../../config/api/validation/common/duration.ts';
import { generateResources } from './index.ts';
import { simulate } from './simulate.ts';
import { assertEncodes, assertGrpcAccepts, parseYaml, sidecarProxy, snapshotOf } from './fixtures.test.ts';

const base = parseYaml(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: svc, namespace: default }
spec:
  hosts: [svc.default.svc.cluster.local]
  ports: [{ number: 8080, name: grpc, protocol: GRPC }]
  resolution: STATIC
  location: MESH_INTERNAL
  endpoints: [{ address: 10.0.0.1, labels: { v: a } }, { address: 10.0.0.2, labels: { v: b } }, { address: 10.0.0.3, labels: { v: c } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: svc, namespace: default }
spec: { host: svc, subsets: [{ name: a, labels: { v: a } }, { name: b, labels: { v: b } }, { name: c, labels: { v: c } }] }
`);

const subset = fc.constantFrom('a', 'b', 'c');
const match = fc.record(
  {
    uri: fc.oneof(fc.record({ prefix: fc.constantFrom('/', '/x', '/svc.Api/') }), fc.record({ exact: fc.constantFrom('/svc.Api/Get', '/y') })),
    headers: fc.dictionary(fc.constantFrom('x-a', 'x-b'), fc.oneof(fc.record({ exact: fc.string({ minLength: 1, maxLength: 5 }).filter((s) => /^[a-z0-9]+$/.test(s)) }), fc.record({ prefix: fc.constantFrom('p', 'q') }))),
  },
  { requiredKeys: [] },
);
const route = fc.record({
  match: fc.array(match, { maxLength: 2 }),
  weights: fc.array(fc.tuple(subset, fc.integer({ min: 1, max: 100 })), { minLength: 1, maxLength: 3 }),
  retries: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
  abort: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
});

interface DrawnRoute {
  match: unknown[];
  weights: Array<[string, number]>;
  retries: number | undefined;
  abort: number | undefined;
}

function virtualService(routes: DrawnRoute[]): Resource {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'svc', namespace: 'default' },
    spec: {
      hosts: ['svc'],
      http: routes.map((r) => {
        // Weights must sum to 100 in Istio; scale what was drawn.
        const total = r.weights.reduce((s, [, w]) => s + w, 0);
        const scaled = r.weights.map(([s, w]) => [s, Math.floor((w * 100) / total)] as const);
        const fix = 100 - scaled.reduce((s, [, w]) => s + w, 0);
        const dests = scaled.map(([s, w], i) => ({ destination: { host: 'svc', subset: s }, weight: i === 0 ? w + fix : w }));
        return {
          ...(r.match.length > 0 ? { match: r.match } : {}),
          route: dests.length === 1 ? [{ destination: dests[0]!.destination }] : dests,
          ...(r.retries !== undefined ? { retries: { attempts: r.retries, retryOn: 'unavailable' } } : {}),
          ...(r.abort !== undefined ? { fault: { abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: r.abort } } } } : {}),
        };
      }),
    },
  };
}

test('random VirtualServices: proxyless output is accepted by grpc-js-xds, sidecar output encodes, weights survive', () => {
  const grpc = parseProxy({ id: 'prop', metadata: { GENERATOR: 'grpc' } });
  assert.ok(grpc.ok);
  const sidecar = sidecarProxy({ ip: '10.9.0.1', name: 'client' });
  fc.assert(
    fc.property(fc.array(route, { minLength: 1, maxLength: 4 }), (routes) => {
      const vs = virtualService(routes);
      const snap = snapshotOf([...base, vs]);
      const [rc] = generateResources(grpc.value, snap, TypeUrl.route, ['svc:8080']);
      assert.ok(rc);
      assertGrpcAccepts(TypeUrl.route, rc.resource);
      const sidecarRoutes = generateResources(sidecar, snap, TypeUrl.route).map((r) => r.resource);
      for (const r of sidecarRoutes) assertEncodes(TypeUrl.route, r);
      // The first route's split, as the simulator reads it, is the split written (when it is reachable by `/`).
      const first = (vs.spec as { http: Array<{ match?: unknown; route: Array<{ destination: { subset: string }; weight?: number }> }> }).http[0]!;
      if (!first.match) {
        const listeners = generateResources(sidecar, snap, TypeUrl.listener).map((r) => r.resource);
        const got = simulate(listeners, sidecarRoutes, { port: 8080, host: 'svc', path: '/' });
        const want = first.route.map((d) => ({ name: `outbound|8080|${d.destination.subset}|svc.default.svc.cluster.local`, weight: d.weight ?? 100 })).filter((d) => d.weight > 0);
        assert.deepEqual(got.clusters, want);
      }
    }),
    { numRuns: 30, seed: 7 },
  );
});

test('Go durations: h/m/s/ms compositions parse to the milliseconds they spell', () => {
  fc.assert(
    fc.property(fc.nat(99), fc.nat(59), fc.nat(59), fc.nat(999), (h, m, s, ms) => {
      const text = `${h}h${m}m${s}s${ms}ms`;
      assert.equal(parseDurationMillis(text), ((h * 60 + m) * 60 + s) * 1000 + ms);
    }),
    { seed: 7 },
  );
});
