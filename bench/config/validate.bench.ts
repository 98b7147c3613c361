// Benchmark: 10,000 resources through the full config pipeline (YAML parse → envelope → CRD schema → webhook
// rules), as `weft validate`, `weft apply` and the directory store run it. Reports the median of several runs.
//   node_modules/.bin/node bench/config/validate.bench.ts [count=10000] [runs=5]
import { performance } from 'node:perf_hooks';
import { LineCounter, parseAllDocuments } from 'yaml';
import { loadText } from '../../src/config/api/load.ts';

const count = Number(process.argv[2] ?? 10_000);
const runs = Number(process.argv[3] ?? 5);

/** A realistic mix: VirtualServices (routes, retries, weights), DestinationRules (subsets, TLS), Gateways, ServiceEntries. */
function resource(i: number): string {
  const ns = `team-${i % 20}`;
  switch (i % 4) {
    case 0:
      return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: svc-${i}, namespace: ${ns}}
spec:
  hosts: [svc-${i}]
  http:
  - match:
    - uri: {prefix: /api/v${i % 3}}
      headers: {end-user: {exact: user-${i}}}
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "5xx,reset"}
    timeout: 10s
    route:
    - destination: {host: svc-${i}, subset: v1}
      weight: 90
    - destination: {host: svc-${i}, subset: v2}
      weight: 10
  - route:
    - destination: {host: svc-${i}, subset: v1, port: {number: 9080}}
`;
    case 1:
      return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc-${i}, namespace: ${ns}}
spec:
  host: svc-${i}.${ns}.svc.cluster.local
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 100}, http: {http1MaxPendingRequests: 10}}
    outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s}
    tls: {mode: ISTIO_MUTUAL}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
    trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}
`;
    case 2:
      return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw-${i}, namespace: ${ns}}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["svc-${i}.example.com"]
  - port: {number: 443, name: https-${i}, protocol: HTTPS}
    hosts: ["svc-${i}.example.com"]
    tls: {mode: SIMPLE, credentialName: cert-${i}}
`;
    default:
      return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext-${i}, namespace: ${ns}}
spec:
  hosts: [api-${i}.example.com]
  location: MESH_EXTERNAL
  resolution: DNS
  ports:
  - {number: 443, name: https, protocol: TLS}
`;
  }
}

const text = Array.from({ length: count }, (_, i) => resource(i)).join('---\n');
const seconds: number[] = [];
for (let r = 0; r < runs + 1; r++) {
  const t0 = performance.now();
  const out = loadText(text, 'bench.yaml');
  const dt = (performance.now() - t0) / 1000;
  const invalid = out.filter((x) => !x.valid);
  if (out.length !== count || invalid.length > 0) throw new Error(`expected ${count} valid resources, got ${out.length} (${invalid.length} invalid: ${JSON.stringify(invalid[0]?.errors)})`);
  if (r > 0) seconds.push(dt); // the first run warms up the JIT and the compiled schemas
}
// The YAML layer alone (parse + toJS, the loader's parser settings), to split the total between parsing and validation.
const parseSeconds: number[] = [];
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  for (const d of parseAllDocuments(text, { lineCounter: new LineCounter(), uniqueKeys: true }) as { toJS(): unknown }[]) d.toJS();
  parseSeconds.push((performance.now() - t0) / 1000);
}
parseSeconds.sort((a, b) => a - b);
const parseMedian = parseSeconds[Math.floor(parseSeconds.length / 2)] ?? 0;
seconds.sort((a, b) => a - b);
const median = seconds[Math.floor(seconds.length / 2)] ?? 0;
process.stdout.write(
  `pipeline: ${count} resources, ${(text.length / 1e6).toFixed(1)} MB YAML, ${runs} runs after 1 warm-up\n` +
    `  median ${median.toFixed(3)} s  →  ${Math.round(count / median)} resources/s  (min ${(seconds[0] ?? 0).toFixed(3)} s, max ${(seconds[seconds.length - 1] ?? 0).toFixed(3)} s)\n` +
    `  of which YAML parsing (yaml package) median ${parseMedian.toFixed(3)} s (${Math.round((100 * parseMedian) / median)}%), validation the rest\n`,
);
