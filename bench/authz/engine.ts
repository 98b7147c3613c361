// Authorization cost per request at the engine level, in one run: no policy, one ALLOW rule, 100 ALLOW rules (request
// matching the last one — the worst case — and matching none), a DENY + ALLOW pair, and path normalisation alone.
// Policies go through the real translation and protos, as the proxy receives them.
//   node bench/authz/engine.ts [--seconds 1] [--runs 5]
import { cpus } from 'node:os';
import type { Resource } from '../../src/config/api/resource.ts';
import { buildWorkloadSecurity } from '../../src/discovery/translate/security/index.ts';
import type { AuthzRequest } from '../../src/proxy/filters/rbac/request.ts';
import { buildHttpSecurity } from '../../src/proxy/security/http-security.ts';
import { normalizePath } from '../../src/proxy/security/path-normalize.ts';
import { decodeAny, encodeAny } from '../../src/xds/protos.ts';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const seconds = arg('seconds', 1);
const runs = arg('runs', 5);

type Json = Record<string, unknown>;
const ap = (name: string, spec: Json): Resource => ({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name, namespace: 'foo' }, spec });

function chainFor(policies: Resource[]) {
  const sec = buildWorkloadSecurity({ workload: { namespace: 'foo', labels: {} }, configs: policies, rootNamespace: 'istio-system', trustDomain: 'cluster.local' });
  const filters = sec.httpFilters.map((f) => {
    const tc = f['typed_config'] as Json;
    return { name: f['name'], typed_config: decodeAny(encodeAny(String(tc['@type']), tc)) };
  });
  const chain = buildHttpSecurity(filters);
  return (req: AuthzRequest & { method: string; path: string; host: string; headers: string[] }) => (chain ? chain.run(req) : { kind: 'continue' });
}

// 100 rules as a platform team writes them: one per service account, with methods and a path prefix.
const hundred = ap('allow-100', {
  rules: Array.from({ length: 100 }, (_, i) => ({
    from: [{ source: { principals: [`cluster.local/ns/foo/sa/client-${i}`] } }],
    to: [{ operation: { methods: ['GET', 'POST'], paths: [`/api/v${i}/*`] } }],
    when: [{ key: 'request.headers[x-tenant]', values: [`tenant-${i}`, 'shared'] }],
  })),
});
// The same without identities: 100 rules told apart by path prefix and a header (what a gateway often has).
const hundredByPath = ap('allow-100-paths', {
  rules: Array.from({ length: 100 }, (_, i) => ({
    to: [{ operation: { methods: ['GET', 'POST'], paths: [`/api/v${i}/*`] } }],
    when: [{ key: 'request.headers[x-tenant]', values: [`tenant-${i}`, 'shared'] }],
  })),
});
const base = { method: 'GET', host: 'httpbin.foo:8000', sourceIp: '10.0.0.7', destinationPort: 8000 };
const cases: Array<{ name: string; run: () => unknown }> = [];
const add = (name: string, policies: Resource[], req: AuthzRequest & { method: string; path: string; host: string; headers: string[] }) => {
  const c = chainFor(policies);
  cases.push({ name, run: () => c(req) });
};
add('no policy', [], { ...base, path: '/api/v99/items', headers: ['x-tenant', 'tenant-99'] });
add('1 ALLOW rule (match)', [ap('one', { rules: [{ from: [{ source: { principals: ['cluster.local/ns/foo/sa/client-0'] } }], to: [{ operation: { paths: ['/api/*'] } }] }] })], { ...base, path: '/api/v0/items', headers: [], peerPrincipal: 'spiffe://cluster.local/ns/foo/sa/client-0' });
add('100 ALLOW rules (last matches)', [hundred], { ...base, path: '/api/v99/items', headers: ['x-tenant', 'tenant-99'], peerPrincipal: 'spiffe://cluster.local/ns/foo/sa/client-99' });
add('100 ALLOW rules (none match)', [hundred], { ...base, path: '/other', headers: ['x-tenant', 'nobody'], peerPrincipal: 'spiffe://cluster.local/ns/bar/sa/stranger' });
add('100 ALLOW rules by path (last matches)', [hundredByPath], { ...base, path: '/api/v99/items', headers: ['x-tenant', 'tenant-99'] });
add('DENY /admin + 100 ALLOW', [ap('deny', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin', '/admin/*'] } }] }] }), hundred], { ...base, path: '/api/v50/x', headers: ['x-tenant', 'shared'], peerPrincipal: 'spiffe://cluster.local/ns/foo/sa/client-50' });
cases.push({ name: 'path normalisation (DECODE_AND_MERGE)', run: () => normalizePath('/api/v1/../v2//items%2Fa?q=1', 'DECODE_AND_MERGE_SLASHES') });

/**
 * CPU nanoseconds per evaluation (process.cpuUsage, not the wall clock): the machine is shared, and time spent
 * descheduled must not count. Runs for `seconds` of wall time.
 */
function measure(run: () => unknown): number {
  let n = 0;
  let sink = 0;
  const end = performance.now() + seconds * 1000;
  const cpu0 = process.cpuUsage();
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) if (run()) sink++;
    n += 1000;
  }
  const cpu = process.cpuUsage(cpu0);
  if (sink < 0) console.log(sink);
  return ((cpu.user + cpu.system) * 1000) / n; // µs → ns, per evaluation
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const c of cases) measure(c.run); // warm-up, JIT
const results = new Map<string, number[]>(cases.map((c) => [c.name, []]));
for (let r = 0; r < runs; r++) for (const c of cases) results.get(c.name)!.push(measure(c.run)); // interleaved runs
const none = median(results.get('no policy')!);
console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}; ${runs} interleaved runs of ${seconds}s per case; median CPU ns per request`);
console.log(`${'case'.padEnd(40)} ${'CPU ns'.padStart(8)} ${'per core/s'.padStart(15)} ${'vs none'.padStart(8)}`);
for (const c of cases) {
  const m = median(results.get(c.name)!);
  console.log(`${c.name.padEnd(40)} ${m.toFixed(0).padStart(8)} ${Math.round(1e9 / m).toLocaleString('en-US').padStart(15)} ${(m / none).toFixed(1).padStart(7)}x`);
}
