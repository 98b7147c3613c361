// Benchmark of the structural layer: validate N varied, valid VirtualServices and DestinationRules (half each)
// against Istio's CRD schemas, CEL rules included, and report the median of several runs.
// Usage: node_modules/.bin/node bench/schema/structural.bench.ts [count=10000] [runs=5]
import { validateStructure } from '../../src/config/api/schema/structural.ts';

const count = Number(process.argv[2] ?? 10_000);
const runs = Number(process.argv[3] ?? 5);

/** Seeded PRNG (mulberry32) so every run validates the same documents. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = rng(42);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
const durations = ['1s', '250ms', '2.5s', '1m', '1h30m', '100ms', '10s'];

function virtualService(i: number): Record<string, unknown> {
  const host = `svc-${i}.ns-${i % 50}.svc.cluster.local`;
  const routes = Array.from({ length: int(1, 3) }, (_, r) => {
    const http: Record<string, unknown> = {
      name: `r${r}`,
      match: [{ uri: pick([{ prefix: '/api' }, { exact: '/health' }, { regex: '^/v[0-9]+/.*' }]), headers: { 'x-user': { exact: `u${r}` } } }],
      route: [
        { destination: { host, subset: 'v1', port: { number: 9080 } }, weight: 70 },
        { destination: { host, subset: 'v2' }, weight: 30, headers: { request: { set: { 'x-route': 'v2' } } } },
      ],
      timeout: pick(durations),
    };
    if (rand() < 0.5) http['retries'] = { attempts: int(1, 5), perTryTimeout: pick(durations), retryOn: 'gateway-error,connect-failure' };
    if (rand() < 0.3) http['fault'] = { delay: { fixedDelay: pick(durations), percentage: { value: 10 } }, abort: { httpStatus: 503, percentage: { value: 1.5 } } };
    if (rand() < 0.3) http['corsPolicy'] = { allowOrigins: [{ exact: 'https://example.com' }], allowMethods: ['GET', 'POST'], maxAge: '24h' };
    if (rand() < 0.2) http['mirror'] = { host: `mirror-${i}`, port: { number: 8080 } };
    return http;
  });
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: `vs-${i}`, namespace: `ns-${i % 50}`, labels: { app: `svc-${i}`, 'app.kubernetes.io/part-of': 'bench' } },
    spec: { hosts: [host], gateways: rand() < 0.3 ? ['mesh', 'istio-system/gw'] : undefined, http: routes },
  };
}

function destinationRule(i: number): Record<string, unknown> {
  const trafficPolicy: Record<string, unknown> = {
    connectionPool: { tcp: { maxConnections: int(10, 1000), connectTimeout: pick(durations) }, http: { http1MaxPendingRequests: int(1, 100), idleTimeout: pick(durations) } },
    outlierDetection: { consecutive5xxErrors: int(1, 10), interval: pick(durations), baseEjectionTime: pick(durations), maxEjectionPercent: int(10, 100) },
    tls: { mode: pick(['ISTIO_MUTUAL', 'DISABLE', 'SIMPLE']) },
  };
  trafficPolicy['loadBalancer'] = rand() < 0.5 ? { simple: pick(['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM']) } : { consistentHash: { httpHeaderName: 'x-user' } };
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: `dr-${i}`, namespace: `ns-${i % 50}` },
    spec: {
      host: `svc-${i}.ns-${i % 50}.svc.cluster.local`,
      trafficPolicy,
      subsets: Array.from({ length: int(1, 4) }, (_, s) => ({ name: `v${s + 1}`, labels: { version: `v${s + 1}` } })),
      exportTo: ['.'],
    },
  };
}

const docs = Array.from({ length: count }, (_, i) => (i % 2 === 0 ? virtualService(i) : destinationRule(i)));
const stripUndefined = (o: unknown): unknown => JSON.parse(JSON.stringify(o)) as unknown;
const inputs = docs.map(stripUndefined);
const vsGvk = { group: 'networking.istio.io', version: 'v1', kind: 'VirtualService' };
const drGvk = { group: 'networking.istio.io', version: 'v1', kind: 'DestinationRule' };

let t = performance.now();
validateStructure(inputs[0], vsGvk);
validateStructure(inputs[1], drGvk);
const compileMs = performance.now() - t;

const times: number[] = [];
const cpuTimes: number[] = [];
for (let r = 0; r < runs; r++) {
  t = performance.now();
  const cpu = process.cpuUsage();
  let errors = 0;
  for (let i = 0; i < inputs.length; i++) errors += validateStructure(inputs[i], i % 2 === 0 ? vsGvk : drGvk).errors.length;
  const used = process.cpuUsage(cpu);
  times.push(performance.now() - t);
  // CPU time of this process: steadier than wall time on a machine shared with other work.
  cpuTimes.push((used.user + used.system) / 1000);
  if (errors !== 0) throw new Error(`benchmark documents must be valid, got ${errors} errors`);
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const wall = median(times);
process.stdout.write(
  `${count} documents (VirtualService/DestinationRule), ${runs} runs\n` +
    `first call (compile both schemas): ${compileMs.toFixed(1)} ms\n` +
    `runs (wall): ${times.map((x) => x.toFixed(1)).join(', ')} ms\n` +
    `median wall: ${wall.toFixed(1)} ms (${((wall * 1000) / count).toFixed(1)} µs per document); ` +
    `median CPU: ${median(cpuTimes).toFixed(1)} ms\n`,
);
