// Heap held by a sidecar's xDS configuration at scale: a synthetic mesh of N services (two ports, a DestinationRule
// with two subsets each, one pod each) translated for one sidecar, encoded, decoded with decodeAny and applied to the
// proxy's ConfigState type by type, with the heap after a full GC after each, with and without the decoded objects
// also held (ConfigState keeps each resource's wire bytes and decodes them again for config_dump).
// Usage: node --expose-gc bench/proxy/config-state-memory.ts [--services 300]
import { generateResources } from '../../src/discovery/translate/index.ts';
import { parseYaml, sidecarProxy, snapshotOf } from '../../src/discovery/translate/fixtures.test.ts';
import { ConfigState } from '../../src/proxy/config/config-state.ts';
import { TypeUrl, decodeAny, encodeAny, type AnyMessage } from '../../src/xds/protos.ts';

const i = process.argv.indexOf('--services');
const n = i >= 0 ? Number(process.argv[i + 1]) || 300 : 300;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const heap = (): number => {
  gc();
  gc();
  // ArrayBuffer contents (the kept wire bytes) live outside the V8 heap: count them too.
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / 1048576;
};

let yaml = '';
for (let s = 0; s < n; s++) {
  const ns = `ns${s % 20}`;
  yaml += `---
apiVersion: v1
kind: Service
metadata: { name: svc${s}, namespace: ${ns} }
spec: { clusterIP: 10.96.${s >> 8}.${s & 255}, selector: { app: svc${s} }, ports: [{ name: http, port: 8080 }, { name: grpc, port: 9090 }] }
---
apiVersion: v1
kind: Pod
metadata: { name: svc${s}-0, namespace: ${ns}, labels: { app: svc${s}, version: v1, security.istio.io/tlsMode: istio } }
spec: { containers: [{ name: c }] }
status: { podIP: 10.${1 + (s >> 16)}.${(s >> 8) & 255}.${s & 255}, phase: Running }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: dr${s}, namespace: ${ns} }
spec: { host: svc${s}.${ns}.svc.cluster.local, subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }] }
`;
}
const snap = snapshotOf(parseYaml(yaml));
const proxy = sidecarProxy({ ip: '10.200.0.1', name: 'client-0', namespace: 'ns0', labels: { app: 'client' } });
const byType: [string, AnyMessage[]][] = [TypeUrl.cluster, TypeUrl.endpoint, TypeUrl.listener, TypeUrl.route].map((t) => [
  t,
  generateResources(proxy, snap, t).map((r) => {
    const a = encodeAny(t, r.resource);
    return { type_url: a.type_url, value: Buffer.from(a.value) };
  }),
]);

console.log(`${n} services, one sidecar (Node ${process.versions.node}); heap used + ArrayBuffers after a full GC:`);
console.log('| type | resources | wire KB | ConfigState MB | + the decoded objects MB |');
console.log('|---|---:|---:|---:|---:|');
const start = heap();
const state = new ConfigState();
let total = 0;
let totalDecoded = 0;
for (const [t, list] of byType) {
  const before = heap();
  const decoded = list.map((a) => decodeAny(a));
  const errors = state.apply(t, decoded, '1');
  if (errors.length > 0) throw new Error(`${t}: ${JSON.stringify(errors[0])}`);
  // ConfigState keeps each resource's bytes and decodes them for config_dump; holding the decoded objects as well
  // is what it did before (and still does for objects that did not come from decodeAny()).
  const withDecoded = heap();
  decoded.length = 0;
  const after = heap();
  total += after - before;
  totalDecoded += withDecoded - before;
  console.log(`| ${t.slice(t.lastIndexOf('.') + 1)} | ${list.length} | ${(list.reduce((x, a) => x + a.value.length, 0) / 1024).toFixed(0)} | ${(after - before).toFixed(2)} | ${(withDecoded - before).toFixed(2)} |`);
}
console.log(`total ${total.toFixed(2)} MB (${(heap() - start).toFixed(2)} MB at the end); with the decoded objects held too ${totalDecoded.toFixed(2)} MB`);
(globalThis as { keep?: unknown }).keep = state;
