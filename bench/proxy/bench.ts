// Side-by-side proxy benchmark in ONE run, interleaved rounds, medians (see bench/proxy/RESULTS.md).
// Targets: direct to nginx, HAProxy (http mode, nbthread 1, http-reuse always), one Weft hop (`weft proxy router`
// with static xDS resources), and a node:http + undici proxy. wrk is pinned to core 0, the server under test to
// core 1. Needs Debian packages nginx, haproxy, wrk.
//   node_modules/.bin/node bench/proxy/bench.ts [--rounds 3] [--duration 10] [--connections 32]
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = join(root, 'bench/out/proxy');
mkdirSync(out, { recursive: true });
const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const ROUNDS = arg('rounds', 3);
const DURATION = arg('duration', 10);
const CONNECTIONS = arg('connections', 32);
const node = join(root, 'node_modules/.bin/node');
const P = { nginx: 28080, haproxy: 28081, weft: 28082, nodeHttp: 28083 };

function write(name: string, text: string): string {
  const p = join(out, name);
  writeFileSync(p, text);
  return p;
}

const nginxConf = write(
  'nginx.conf',
  `worker_processes 1;\ndaemon off;\npid ${out}/nginx.pid;\nerror_log ${out}/nginx-error.log;\nevents { worker_connections 4096; }\n` +
    `http {\n  access_log off;\n  keepalive_requests 10000000;\n  keepalive_timeout 300s;\n  server { listen 127.0.0.1:${P.nginx}; location / { return 200 "ok"; } }\n}\n`,
);
const haproxyConf = write(
  'haproxy.cfg',
  `global\n  nbthread 1\n  maxconn 4000\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n  http-reuse always\n` +
    `frontend f\n  bind 127.0.0.1:${P.haproxy}\n  default_backend b\nbackend b\n  server s1 127.0.0.1:${P.nginx}\n`,
);
const weftBootstrap = write(
  'weft.yaml',
  `static_resources:
  listeners:
  - name: bench
    address: { socket_address: { address: 127.0.0.1, port_value: ${P.weft} } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          route_config:
            name: bench
            virtual_hosts:
            - name: all
              domains: ['*']
              routes:
              - match: { prefix: / }
                route: { cluster: nginx, timeout: 0s }
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { '@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: nginx
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: nginx
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${P.nginx} } } }
`,
);
const latencyLua = write('pause.lua', 'function delay()\n  return math.random(0, 20)\nend\n');

const children: ChildProcess[] = [];
function start(cmd: string, args: string[], readyText?: string): Promise<ChildProcess> {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(c);
  return new Promise((resolve, reject) => {
    if (!readyText) return setTimeout(() => resolve(c), 500);
    let buf = '';
    c.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes(readyText)) resolve(c);
    });
    c.once('exit', (code) => reject(new Error(`${cmd} exited ${code}`)));
  });
}

function cleanup(): void {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

function wrk(port: number, extra: string[]): string {
  return execFileSync('taskset', ['-c', '0', 'wrk', '-t1', ...extra, `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
}

function parseRps(text: string): { rps: number; requests: number } {
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)![1]), requests: Number(/(\d+) requests in/.exec(text)![1]) };
}

function parseP50Ms(text: string): number {
  const m = /50%\s+([\d.]+)(us|ms|s)/.exec(text)!;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const ticksPerSec = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

async function main(): Promise<void> {
  // nginx shares core 0 with wrk so that core 1 belongs to the server under test alone.
  await start('taskset', ['-c', '0', 'nginx', '-c', nginxConf]);
  const nginxWorker = Number(execFileSync('pgrep', ['-P', String(Number(readFileSync(join(out, 'nginx.pid'), 'utf8')))], { encoding: 'utf8' }).trim().split('\n')[0]);
  const haproxy = await start('taskset', ['-c', '1', 'haproxy', '-f', haproxyConf]);
  const weft = await start('taskset', ['-c', '1', node, join(root, 'bin/weft.js'), 'proxy', 'router', '--bootstrap', weftBootstrap, '--admin-port', '-1', '--stats-port', '-1', '--readiness-port', '-1'], 'weft proxy ready');
  const weftIdleRss = rssMb(weft.pid!);
  const nodeHttp = await start('taskset', ['-c', '1', node, join(root, 'bench/proxy/node-http-proxy.ts'), String(P.nodeHttp), String(P.nginx)], 'ready');
  const targets = [
    { name: 'direct to nginx', port: P.nginx, pid: nginxWorker },
    { name: 'HAProxy (http, 1 thread)', port: P.haproxy, pid: haproxy.pid! },
    { name: 'Weft, one hop', port: P.weft, pid: weft.pid! },
    { name: 'node:http + undici', port: P.nodeHttp, pid: nodeHttp.pid! },
  ];
  // Warm up every target (JIT, pools).
  for (const t of targets) wrk(t.port, ['-c', String(CONNECTIONS), '-d', '2s']);
  const rows = new Map<string, { rps: number[]; cpu: number[]; p50: number[]; ratio: number[] }>(targets.map((t) => [t.name, { rps: [], cpu: [], p50: [], ratio: [] }]));
  for (let round = 1; round <= ROUNDS; round++) {
    const roundRps = new Map<string, number>();
    for (const t of targets) {
      const before = cpuTicks(t.pid);
      const r = parseRps(wrk(t.port, ['-c', String(CONNECTIONS), '-d', `${DURATION}s`]));
      const cpuUs = ((cpuTicks(t.pid) - before) / ticksPerSec) * 1e6;
      const lat = parseP50Ms(wrk(t.port, ['-c', '10', '-d', `${DURATION}s`, '--latency', '-s', latencyLua]));
      const row = rows.get(t.name)!;
      row.rps.push(r.rps);
      row.cpu.push(cpuUs / r.requests);
      row.p50.push(lat);
      roundRps.set(t.name, r.rps);
      process.stderr.write(`round ${round} ${t.name}: ${Math.round(r.rps)} req/s, ${(cpuUs / r.requests).toFixed(1)} µs CPU/req, p50 ${lat.toFixed(3)} ms at ~1000 req/s\n`);
    }
    const h = roundRps.get('HAProxy (http, 1 thread)')!;
    for (const t of targets) rows.get(t.name)!.ratio.push(roundRps.get(t.name)! / h);
  }
  const directP50 = median(rows.get('direct to nginx')!.p50);
  const lines = [
    `| target | req/s (median) | vs HAProxy (median of in-round ratios) | CPU µs per request | p50 at ~1000 req/s | added p50 |`,
    `|---|---:|---:|---:|---:|---:|`,
  ];
  for (const t of targets) {
    const r = rows.get(t.name)!;
    const p50 = median(r.p50);
    lines.push(`| ${t.name} | ${Math.round(median(r.rps))} | ${median(r.ratio).toFixed(2)} | ${median(r.cpu).toFixed(1)} | ${p50.toFixed(3)} ms | ${t.name.startsWith('direct') ? '0' : `+${(p50 - directP50).toFixed(3)} ms`} |`);
  }
  const weftRow = rows.get('Weft, one hop')!;
  const nodeRow = rows.get('node:http + undici')!;
  const ratioNode = median(weftRow.rps.map((x, i) => x / nodeRow.rps[i]!));
  lines.push('', `Weft vs node:http + undici (median of in-round ratios): ${ratioNode.toFixed(2)}×`);
  const cpuOf = (name: string): number => median(rows.get(name)!.cpu);
  lines.push(`By CPU per request (single-core capacity): Weft is ${(cpuOf('HAProxy (http, 1 thread)') / cpuOf('Weft, one hop')).toFixed(2)}× HAProxy and ${(cpuOf('node:http + undici') / cpuOf('Weft, one hop')).toFixed(2)}× node:http + undici`);
  lines.push(`Weft idle RSS after start-up: ${weftIdleRss} MB; after the run: ${rssMb(weft.pid!)} MB`);
  const report = lines.join('\n') + '\n';
  process.stdout.write(report);
  writeFileSync(join(out, 'results.md'), report);
  writeFileSync(join(out, 'results.json'), JSON.stringify(Object.fromEntries(rows), null, 2));
  cleanup();
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
