// xDS push benchmark: `weft up` (a real process) serving 1,000 services × 4 endpoints to 2,000 simulated proxies
// (bench/xds/clients.ts, another process). For each kind of change — an endpoint change (EDS fast path) and a
// DestinationRule change (full push) — it writes the config file and measures, per client, the time from the
// write to the client's ACK of the response carrying the change; plus the control plane's memory (RSS) and the CPU
// it spent per push. Usage:
//   node_modules/.bin/node bench/xds/run.ts [--services 1000] [--clients 2000] [--protocol delta|sotw] [--rounds 5]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startWeft } from '../../test/xds-interop/harness.ts';

const argv = process.argv.slice(2);
const opt = (flag: string, dflt: string): string => {
  const i = argv.indexOf(flag);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : dflt;
};
const services = Number(opt('--services', '1000'));
const clientCount = Number(opt('--clients', '2000'));
const protocol = opt('--protocol', 'delta');
const rounds = Number(opt('--rounds', '5'));
const nodeBin = fileURLToPath(new URL('../../node_modules/.bin/node', import.meta.url));

const host = (i: number): string => `svc-${i}.bench.svc.cluster.local`;
function serviceEntry(i: number, generation: number): string {
  const eps = [0, 1, 2, 3].map((k) => `  - address: 10.${(i >> 8) & 255}.${i & 255}.${k + 1 + generation * 4}\n    labels: {version: v${k % 2}}`);
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: svc-${i}
  namespace: bench
spec:
  hosts: [${host(i)}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - number: 8080
    name: http
    protocol: HTTP
  endpoints:
${eps.join('\n')}
`;
}
function destinationRule(i: number, maxConnections: number): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: svc-${i}
  namespace: bench
spec:
  host: ${host(i)}
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: ${maxConnections}}
`;
}

async function writeAtomically(dir: string, name: string, text: string): Promise<void> {
  const tmp = join(dir, `.${name}.tmp`);
  await writeFile(tmp, text);
  await rename(tmp, join(dir, name));
}

/** RSS (MB) and CPU seconds (user + system) of a process, from /proc. */
function procStats(pid: number): { rssMb: number; cpuS: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssMb: rssKb / 1024, cpuS: ticks / 100 };
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
const median = (xs: number[]): number => pct([...xs].sort((a, b) => a - b), 50);

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-bench-xds-'));
  const configDir = join(dir, 'config');
  await mkdir(configDir);
  for (let i = 0; i < services; i++) await writeFile(join(configDir, `svc-${String(i).padStart(4, '0')}.yaml`), serviceEntry(i, 0));
  const weft = await startWeft(configDir, join(dir, 'state'), [], 120_000, { ...(opt('--debug', '') ? { WEFT_LOG_LEVEL: 'debug' } : {}), ...(opt('--cpu-prof', '') ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${opt('--cpu-prof', '')}` } : {}) });
  const pid = weft.child.pid!;
  let peakRss = procStats(pid).rssMb;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, procStats(pid).rssMb)), 100);
  const idleRss = procStats(pid).rssMb;

  const t0 = Date.now();
  const clients = spawn(nodeBin, [fileURLToPath(new URL('./clients.ts', import.meta.url)), '--address', `127.0.0.1:${weft.xdsPort}`, '--count', String(clientCount), '--protocol', protocol], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: clients.stdout! });
  const waiters: Array<(msg: Record<string, unknown>) => void> = [];
  lines.on('line', (l) => waiters.shift()?.(JSON.parse(l) as Record<string, unknown>));
  const nextMessage = (): Promise<Record<string, unknown>> => new Promise((resolve) => waiters.push(resolve));
  await nextMessage(); // {"ready": n}: every client holds CDS and EDS
  const connectS = (Date.now() - t0) / 1000;
  const connectedRss = procStats(pid).rssMb;
  process.stderr.write(`${clientCount} clients connected and synced in ${connectS.toFixed(1)} s (control plane RSS ${connectedRss.toFixed(0)} MB)\n`);

  const results: Record<string, Array<{ p50: number; p99: number; max: number; missing: number; cpuS: number }>> = { endpoint: [], full: [] };
  let id = 0;
  for (let round = 0; round < rounds; round++) {
    for (const kind of ['endpoint', 'full'] as const) {
      const svc = (round * 7 + (kind === 'full' ? 3 : 0)) % services;
      const watchName = `outbound|8080||${host(svc)}`;
      const cpuBefore = procStats(pid).cpuS;
      clients.stdin!.write(JSON.stringify({ watch: watchName, id: ++id, timeoutMs: 60_000 }) + '\n');
      const written = Date.now();
      if (opt('--debug', '')) process.stderr.write(`${new Date(written).toISOString()} wrote the ${kind} change\n`);
      if (kind === 'endpoint') await writeAtomically(configDir, `svc-${String(svc).padStart(4, '0')}.yaml`, serviceEntry(svc, round + 1));
      else await writeAtomically(configDir, `dr-${svc}.yaml`, destinationRule(svc, 100 + round));
      const r = (await nextMessage()) as { acks: number[]; missing: number };
      const lat = r.acks.map((t) => t - written).sort((a, b) => a - b);
      const cpuS = procStats(pid).cpuS - cpuBefore;
      results[kind]!.push({ p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1] ?? NaN, missing: r.missing, cpuS });
      process.stderr.write(`round ${round + 1} ${kind}: p50 ${pct(lat, 50)} ms, p99 ${pct(lat, 99)} ms, max ${lat[lat.length - 1]} ms, missing ${r.missing}, control-plane CPU ${cpuS.toFixed(2)} s\n`);
      // Let the control plane settle (ACKs drained) before the next change.
      await new Promise((res) => setTimeout(res, 500));
    }
  }
  clearInterval(sampler);
  const finalRss = procStats(pid).rssMb;
  const metrics = await (await fetch(`http://127.0.0.1:${weft.monitoringPort}/metrics`)).text();
  const metric = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(metrics)?.[1] ?? NaN);
  const heapUsedMb = Math.round(metric('nodejs_heap_size_used_bytes') / 1048576);
  const externalMb = Math.round(metric('nodejs_external_memory_bytes') / 1048576);
  clients.stdin!.end();
  await new Promise((res) => clients.once('exit', res));
  const code = await weft.stop();
  await rm(dir, { recursive: true, force: true });
  if (opt('--debug', '')) process.stderr.write(weft.stderr());

  const summary = {
    machine: `${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
    services,
    endpointsPerService: 4,
    clients: clientCount,
    protocol,
    rounds,
    connectAndSyncS: Number(connectS.toFixed(1)),
    rssMb: { idle: Math.round(idleRss), connected: Math.round(connectedRss), peak: Math.round(peakRss), end: Math.round(finalRss) },
    heapUsedMbAtEnd: heapUsedMb,
    heapTotalMbAtEnd: Math.round(metric('nodejs_heap_size_total_bytes') / 1048576),
    externalMbAtEnd: externalMb,
    endpointChange: {
      p50MsMedian: median(results['endpoint']!.map((r) => r.p50)),
      p99MsMedian: median(results['endpoint']!.map((r) => r.p99)),
      maxMsWorst: Math.max(...results['endpoint']!.map((r) => r.max)),
      cpuSMedian: Number(median(results['endpoint']!.map((r) => r.cpuS)).toFixed(2)),
      missing: results['endpoint']!.reduce((n, r) => n + r.missing, 0),
    },
    fullPush: {
      p50MsMedian: median(results['full']!.map((r) => r.p50)),
      p99MsMedian: median(results['full']!.map((r) => r.p99)),
      maxMsWorst: Math.max(...results['full']!.map((r) => r.max)),
      cpuSMedian: Number(median(results['full']!.map((r) => r.cpuS)).toFixed(2)),
      missing: results['full']!.reduce((n, r) => n + r.missing, 0),
    },
    weftExit: code,
  };
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
}

void main();
