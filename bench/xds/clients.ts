// Lightweight simulated proxies for the xDS benchmark, run as their own process: N ADS streams (delta or state of
// the world), each a sidecar that subscribes to all clusters (CDS wildcard) and to the endpoints of every EDS
// cluster it gets, and ACKs every response at once. Each stream has its own TCP connection, as real proxies do.
//
// Protocol with the driver (JSON lines): stdout {"ready":n,...} once every client holds CDS and EDS; stdin
// {"watch":"<resource name>","id":k} → stdout {"id":k,"acks":[ms since epoch, one per client that received
// the name],"missing":m} when every client has it (or after the timeout).
import * as grpc from '@grpc/grpc-js';
import { createInterface } from 'node:readline';
import { adsGrpcPackage, TypeUrl } from '../../src/xds/protos.ts';
import { jsonToStruct } from '../../src/discovery/serve/node.ts';

interface Args {
  address: string;
  count: number;
  protocol: 'delta' | 'sotw';
  ramp: number;
}

function parseArgs(argv: string[]): Args {
  const get = (flag: string, dflt: string): string => {
    const i = argv.indexOf(flag);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : dflt;
  };
  return { address: get('--address', '127.0.0.1:15010'), count: Number(get('--count', '2000')), protocol: get('--protocol', 'delta') === 'sotw' ? 'sotw' : 'delta', ramp: Number(get('--ramp', '50')) };
}

type Ctor = new (address: string, creds: grpc.ChannelCredentials, options?: grpc.ClientOptions) => grpc.Client & {
  StreamAggregatedResources(): grpc.ClientDuplexStream<unknown, Resp>;
  DeltaAggregatedResources(): grpc.ClientDuplexStream<unknown, Resp>;
};
interface Resp {
  type_url: string;
  nonce: string;
  version_info?: string;
  resources: Array<{ name?: string; type_url?: string; value?: Buffer }>;
  removed_resources?: string[];
}

const args = parseArgs(process.argv.slice(2));
const pkg = adsGrpcPackage() as unknown as { envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: Ctor } } } } };
const Ads = pkg.envoy.service.discovery.v3.AggregatedDiscoveryService;

/** Interned names: the clients share one copy of each cluster name. */
const interned = new Map<string, string>();
const intern = (s: string): string => {
  const hit = interned.get(s);
  if (hit !== undefined) return hit;
  interned.set(s, s);
  return s;
};

let watch: { name: string; id: number; acks: number[]; deadline: NodeJS.Timeout } | undefined;
const clients: SimClient[] = [];

function finishWatch(): void {
  if (!watch) return;
  clearTimeout(watch.deadline);
  process.stdout.write(JSON.stringify({ id: watch.id, acks: watch.acks, missing: clients.length - watch.acks.length }) + '\n');
  watch = undefined;
}

class SimClient {
  readonly i: number;
  readonly client: grpc.Client;
  readonly call: grpc.ClientDuplexStream<unknown, Resp>;
  edsNames = new Set<string>();
  haveCds = false;
  haveEds = false;
  sawWatch = false;
  first = true;
  lastEdsNonce = '';
  readonly onReady: () => void;

  constructor(i: number, onReady: () => void) {
    this.i = i;
    this.onReady = onReady;
    this.client = new Ads(args.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': 64 << 20 });
    const c = this.client as InstanceType<Ctor>;
    this.call = args.protocol === 'delta' ? c.DeltaAggregatedResources() : c.StreamAggregatedResources();
    this.call.on('data', (r: Resp) => this.onResponse(r));
    this.call.on('error', (e: Error) => process.stderr.write(`client ${i}: ${e.message}\n`));
    if (args.protocol === 'delta') this.send({ type_url: TypeUrl.cluster, resource_names_subscribe: [] });
    else this.send({ type_url: TypeUrl.cluster, resource_names: [] });
  }

  send(req: Record<string, unknown>): void {
    if (this.first) {
      this.first = false;
      const ip = `10.100.${(this.i >> 8) & 255}.${this.i & 255}`;
      req['node'] = { id: `sidecar~${ip}~bench-${this.i}.bench~bench.svc.cluster.local`, metadata: jsonToStruct({ NAMESPACE: 'bench', ISTIO_VERSION: 'bench', LABELS: { app: 'bench-client' } }) };
    }
    this.call.write(req);
  }

  names(r: Resp): string[] {
    if (args.protocol === 'delta') return r.resources.map((x) => x.name ?? '');
    return [];
  }

  onResponse(r: Resp): void {
    const delta = args.protocol === 'delta';
    // ACK first, as a proxy does once it has applied the config.
    if (delta) this.send({ type_url: r.type_url, response_nonce: r.nonce });
    else this.send({ type_url: r.type_url, response_nonce: r.nonce, version_info: r.version_info, resource_names: r.type_url === TypeUrl.endpoint ? [...this.edsNames] : [] });
    const ackAt = Date.now();
    if (watch && !this.sawWatch && r.resources.some((x) => x.name === watch!.name || (x.value !== undefined && x.value.includes(watch!.name)))) {
      this.sawWatch = true;
      watch.acks.push(ackAt);
      if (watch.acks.length === clients.length) finishWatch();
    }
    if (r.type_url === TypeUrl.cluster) {
      const names = delta ? this.names(r) : r.resources.map((x) => clusterNameOf(x.value));
      const want = new Set(delta ? this.edsNames : []);
      for (const n of names) if (n.startsWith('outbound|')) want.add(intern(n));
      for (const n of r.removed_resources ?? []) want.delete(n);
      const added = [...want].filter((n) => !this.edsNames.has(n));
      const removed = [...this.edsNames].filter((n) => !want.has(n));
      this.edsNames = want;
      if (added.length > 0 || removed.length > 0) {
        if (delta) this.send({ type_url: TypeUrl.endpoint, resource_names_subscribe: added, resource_names_unsubscribe: removed });
        else this.send({ type_url: TypeUrl.endpoint, resource_names: [...want], response_nonce: this.lastEdsNonce });
      }
      if (!this.haveCds) {
        this.haveCds = true;
      }
    } else if (r.type_url === TypeUrl.endpoint) {
      this.lastEdsNonce = r.nonce;
      if (!this.haveEds) {
        this.haveEds = true;
        this.onReady();
      }
    }
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

/** In SotW a CDS response carries no names outside the Any: read the name (field 1) from the Cluster bytes. */
function clusterNameOf(value: Buffer | undefined): string {
  if (!value || value[0] !== 0x0a) return '';
  let len = 0;
  let shift = 0;
  let i = 1;
  for (;;) {
    const b = value[i++]!;
    len |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
    shift += 7;
  }
  return intern(value.subarray(i, i + len).toString('utf8'));
}

async function main(): Promise<void> {
  const t0 = Date.now();
  let ready = 0;
  let started = 0;
  await new Promise<void>((resolve) => {
    const startOne = (): void => {
      if (started >= args.count) return;
      const i = started++;
      clients.push(
        new SimClient(i, () => {
          ready++;
          if (ready === args.count) resolve();
          else startOne();
        }),
      );
    };
    for (let k = 0; k < Math.min(args.ramp, args.count); k++) startOne();
  });
  process.stdout.write(JSON.stringify({ ready, connectMs: Date.now() - t0, rssMb: Math.round(process.memoryUsage().rss / 1048576) }) + '\n');
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const cmd = JSON.parse(line) as { watch?: string; id: number; timeoutMs?: number };
    if (cmd.watch === undefined) return;
    for (const c of clients) c.sawWatch = false;
    watch = { name: cmd.watch, id: cmd.id, acks: [], deadline: setTimeout(finishWatch, cmd.timeoutMs ?? 30_000) };
  });
  rl.on('close', () => {
    for (const c of clients) c.close();
    process.exit(0);
  });
}

void main();
