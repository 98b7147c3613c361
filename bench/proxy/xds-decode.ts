// CPU cost of decoding the xDS resources a sidecar receives: protobufjs (an on-demand root, decode + toObject, as
// decodeAny did before) against src/xds/wire-codec.ts (what decodeAny uses now), on the resources the discovery server
// generates for a Bookinfo reviews-v1 sidecar (all of Bookinfo's networking samples), in interleaved rounds.
// Encoding is measured the same way (protobufjs encode(fromObject()) against the wire codec's encode()).
// Usage: node bench/proxy/xds-decode.ts [--rounds 5] [--iterations 300]
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { loadText } from '../../src/config/api/load.ts';
import type { Resource } from '../../src/config/api/resource.ts';
import { generateResources } from '../../src/discovery/translate/index.ts';
import { samples, sidecarProxy, snapshotOf } from '../../src/discovery/translate/fixtures.test.ts';
import { LazyXdsRoot } from '../../src/xds/lazy-root.ts';
import { TypeUrl, encodeAny, xdsDescriptor, type AnyMessage } from '../../src/xds/protos.ts';
import { WireCodec } from '../../src/xds/wire-codec.ts';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) || dflt : dflt;
};
const rounds = arg('--rounds', 5);
const iterations = arg('--iterations', 300);

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return f.endsWith('.yaml') ? [p] : [];
  });
}

const byKey = new Map<string, Resource>();
for (const f of yamlFiles(join(samples, 'bookinfo'))) {
  for (const l of loadText(readFileSync(f, 'utf8'), f)) if (l.valid && l.support === 'mesh') byKey.set(`${l.key.kind}/${l.key.namespace}/${l.key.name}`, l.resource);
}
const snap = snapshotOf([...byKey.values()]);
const proxy = sidecarProxy({ ip: '10.1.0.7', name: 'reviews-v1-0', labels: { app: 'reviews', version: 'v1' } });
const anys: AnyMessage[] = [];
for (const t of [TypeUrl.cluster, TypeUrl.endpoint, TypeUrl.listener, TypeUrl.route]) {
  for (const r of generateResources(proxy, snap, t)) {
    const a = encodeAny(t, r.resource);
    anys.push({ type_url: a.type_url, value: Buffer.from(a.value) });
  }
}
const bytes = anys.reduce((n, a) => n + a.value.length, 0);

const lazy = new LazyXdsRoot(xdsDescriptor(), protobuf);
const codec = new WireCodec(xdsDescriptor());
const options: protobuf.IConversionOptions = { enums: String, longs: Number, defaults: false, json: true };
const decoders: Record<string, () => void> = {
  protobufjs: () => {
    for (const a of anys) {
      const t = lazy.root.lookupType(a.type_url.slice(a.type_url.lastIndexOf('/') + 1));
      t.toObject(t.decode(a.value), options);
    }
  },
  'wire codec': () => {
    for (const a of anys) codec.decode(a.type_url, a.value);
  },
};

const objects = anys.map((a) => [a.type_url, codec.decode(a.type_url, a.value)] as const);
const encoders: Record<string, () => void> = {
  'protobufjs encode': () => {
    for (const [url, o] of objects) {
      const t = lazy.root.lookupType(url.slice(url.lastIndexOf('/') + 1));
      t.encode(t.fromObject(o)).finish();
    }
  },
  'wire codec encode': () => {
    for (const [url, o] of objects) codec.encode(url, o);
  },
};
Object.assign(decoders, encoders);

console.log(`${anys.length} resources, ${bytes} bytes; ${rounds} interleaved rounds of ${iterations} decodes (and encodes) of the whole set each`);
const results: Record<string, number[]> = {};
for (const f of Object.values(decoders)) for (let i = 0; i < 50; i++) f(); // warm-up
for (let r = 0; r < rounds; r++) {
  for (const [name, f] of Object.entries(decoders)) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < iterations; i++) f();
    const cpu = process.cpuUsage(t0);
    (results[name] ??= []).push((cpu.user + cpu.system) / iterations / 1000);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [name, xs] of Object.entries(results)) {
  console.log(`${name.padEnd(18)} median ${median(xs).toFixed(3)} ms CPU per set (${(bytes / median(xs) / 1000).toFixed(1)} MB/s); rounds ${xs.map((x) => x.toFixed(3)).join(' ')}`);
}
