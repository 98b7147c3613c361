// Translation cost at scale: N Kubernetes services × 4 Pods each (a VirtualService and DestinationRule with two
// subsets on every tenth), then the snapshot build, and per-proxy generation (and protobuf encoding) of every xDS
// type for a sidecar and for a proxyless gRPC client. Usage: node bench/discovery/translate.ts [services=1000] [rounds=5]
import { performance } from 'node:perf_hooks';
import type { Resource } from '../../src/config/api/resource.ts';
import { type Proxy, parseProxy } from '../../src/discovery/proxy.ts';
import { buildSnapshot } from '../../src/discovery/snapshot/snapshot.ts';
import { generateResources } from '../../src/discovery/translate/index.ts';
import { buildRegistryState } from '../../src/registry/registry.ts';
import { TypeUrl, encodeAny } from '../../src/xds/protos.ts';

const services = Number(process.argv[2] ?? 1000);
const rounds = Number(process.argv[3] ?? 5);

function configs(): Resource[] {
  const out: Resource[] = [];
  for (let i = 0; i < services; i++) {
    const name = `svc-${i}`;
    out.push({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 8080 }] } });
    for (let k = 0; k < 4; k++) {
      out.push({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `${name}-${k}`, namespace: 'default', labels: { app: name, version: k % 2 === 0 ? 'v1' : 'v2', 'security.istio.io/tlsMode': 'istio' } },
        spec: { containers: [{ name: 'app' }] },
        status: { podIP: `10.${(i >> 8) & 255}.${i & 255}.${k + 1}`, phase: 'Running' },
      });
    }
    if (i % 10 === 0) {
      out.push({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace: 'default' }, spec: { host: name, subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] } });
      out.push({
        apiVersion: 'networking.istio.io/v1',
        kind: 'VirtualService',
        metadata: { name, namespace: 'default' },
        spec: { hosts: [name], http: [{ route: [{ destination: { host: name, subset: 'v1' }, weight: 90 }, { destination: { host: name, subset: 'v2' }, weight: 10 }] }] },
      });
    }
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const cfg = configs();
const snapTimes: number[] = [];
for (let r = 0; r < rounds; r++) {
  const t0 = performance.now();
  const registry = buildRegistryState(cfg, [], 'cluster.local');
  buildSnapshot({ configs: cfg, registry, mesh: {}, domainSuffix: 'cluster.local' });
  snapTimes.push(performance.now() - t0);
}

const sidecarParsed = parseProxy({ id: 'sidecar~10.0.0.1~svc-0-0.default~default.svc.cluster.local', metadata: { LABELS: { app: 'svc-0' } } });
const grpcParsed = parseProxy({ id: 'client', metadata: { GENERATOR: 'grpc' } });
if (!sidecarParsed.ok || !grpcParsed.ok) throw new Error('bad proxy');
const sidecar = sidecarParsed.value;
const grpc = grpcParsed.value;

function measure(proxy: Proxy, names: Record<string, string[] | undefined>) {
  const gen: number[] = [];
  const enc: number[] = [];
  let counts = '';
  for (let r = 0; r < rounds; r++) {
    let g = 0;
    let e = 0;
    const c: string[] = [];
    // A fresh snapshot each round: translation memoizes per snapshot, and this measures a cold push.
    const fresh = buildSnapshot({ configs: cfg, registry: buildRegistryState(cfg, [], 'cluster.local'), mesh: {}, domainSuffix: 'cluster.local' });
    for (const [typeUrl, requested] of Object.entries(names)) {
      const t0 = performance.now();
      const res = generateResources(proxy, fresh, typeUrl as (typeof TypeUrl)[keyof typeof TypeUrl], requested);
      const t1 = performance.now();
      for (const x of res) encodeAny(typeUrl, x.resource);
      e += performance.now() - t1;
      g += t1 - t0;
      c.push(`${typeUrl.split('.').pop()}=${res.length}`);
    }
    gen.push(g);
    enc.push(e);
    counts = c.join(' ');
  }
  return { gen: median(gen), enc: median(enc), counts };
}

const s = measure(sidecar, { [TypeUrl.listener]: undefined, [TypeUrl.route]: undefined, [TypeUrl.cluster]: undefined, [TypeUrl.endpoint]: undefined });
const g = measure(grpc, {
  [TypeUrl.listener]: ['svc-0.default.svc.cluster.local:8080'],
  [TypeUrl.route]: ['svc-0.default.svc.cluster.local:8080'],
  [TypeUrl.cluster]: ['outbound|8080|v1|svc-0.default.svc.cluster.local', 'outbound|8080|v2|svc-0.default.svc.cluster.local'],
  [TypeUrl.endpoint]: ['outbound|8080|v1|svc-0.default.svc.cluster.local', 'outbound|8080|v2|svc-0.default.svc.cluster.local'],
});
// A fleet: 200 sidecars with distinct IPs in 10 label classes; encoding memoized by object as the server's encoder does.
const fleet = Array.from({ length: 200 }, (_, i) => {
  const p = parseProxy({ id: `sidecar~10.250.${i >> 8}.${i & 255}~f-${i}.default~default.svc.cluster.local`, metadata: { LABELS: { app: `svc-${i % 10}` } } });
  if (!p.ok) throw new Error(p.error);
  return p.value;
});
const fleetTimes: number[] = [];
for (let r = 0; r < Math.min(rounds, 3); r++) {
  const registry = buildRegistryState(cfg, [], 'cluster.local');
  const fresh = buildSnapshot({ configs: cfg, registry, mesh: {}, domainSuffix: 'cluster.local' });
  const encoded = new WeakMap<object, unknown>();
  const t0 = performance.now();
  for (const p of fleet) {
    for (const typeUrl of [TypeUrl.listener, TypeUrl.route, TypeUrl.cluster, TypeUrl.endpoint]) {
      for (const x of generateResources(p, fresh, typeUrl)) if (!encoded.has(x.resource)) encoded.set(x.resource, encodeAny(typeUrl, x.resource));
    }
  }
  fleetTimes.push(performance.now() - t0);
}

console.log(`services=${services} endpoints=${services * 4} rounds=${rounds} node=${process.version}`);
console.log(`snapshot build (registry + indexes): median ${median(snapTimes).toFixed(1)} ms`);
console.log(`sidecar, all types: generate ${s.gen.toFixed(1)} ms, encode ${s.enc.toFixed(1)} ms (${s.counts})`);
console.log(`proxyless gRPC, one target: generate ${g.gen.toFixed(2)} ms, encode ${g.enc.toFixed(2)} ms (${g.counts})`);
console.log(`fleet of 200 sidecars (10 label classes), all types, generate + encode once per object: ${median(fleetTimes).toFixed(0)} ms`);
console.log(`heap used: ${(process.memoryUsage().heapUsed / 1048576).toFixed(0)} MB`);
