// Interleaved A/B of Weft proxy builds (or V8 flags) on the bench/proxy/bench.ts shape: wrk on core 0 → proxy
// pinned to core 1 → nginx (core 0), HTTP/1.1 keep-alive, tiny GET responses. Per round and target it reports
// req/s, CPU µs per request split into user and system (/proc/<pid>/stat utime, stime), minor page faults per
// request, context switches per request, and optionally HAProxy and a paced p50 (~1,000 req/s).
// Needs Debian packages nginx, haproxy, wrk.
//   node_modules/.bin/node bench/proxy/hotpath-ab.ts --target base=/tmp/wt-base --target new=. \
//       [--target 'semi=.|--max-semi-space-size=16'] [--haproxy] [--latency] [--rounds 5] [--duration 5] [--connections 32]
// A target is NAME=TREE or NAME=TREE|NODE_FLAGS (space-separated flags for the proxy process); a TREE ending in .ts is a
// probe script started as `node FILE LISTEN_PORT UPSTREAM_PORT ARGS` (bench/proxy/hotpath-probe.ts), given as
// NAME=FILE|NODE_FLAGS|ARGS.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = join(root, 'bench/out/hotpath');
mkdirSync(out, { recursive: true });
const argv = process.argv.slice(2);
const num = (name: string, def: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const ROUNDS = num('rounds', 5);
const DURATION = num('duration', 5);
const CONNECTIONS = num('connections', 32);
const BASE_PORT = num('port', 29080);
const WITH_HAPROXY = argv.includes('--haproxy');
const WITH_LATENCY = argv.includes('--latency');
const node = join(root, 'node_modules/.bin/node');

interface TargetSpec {
  name: string;
  tree: string;
  flags: string[];
  args: string[];
}
const specs: TargetSpec[] = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] !== '--target') continue;
  const v = argv[i + 1]!;
  const eq = v.indexOf('=');
  const [tree, flags, args] = v.slice(eq + 1).split('|');
  const words = (w: string | undefined): string[] => (w ? w.split(' ').filter(Boolean) : []);
  specs.push({ name: v.slice(0, eq), tree: resolve(tree!), flags: words(flags), args: words(args) });
}
if (specs.length === 0) specs.push({ name: 'current', tree: root, flags: [], args: [] });

function write(name: string, text: string): string {
  const p = join(out, name);
  writeFileSync(p, text);
  return p;
}

const nginxPort = BASE_PORT;
const haproxyPort = BASE_PORT + 1;
const nginxConf = write(
  'nginx.conf',
  `worker_processes 1;\ndaemon off;\npid ${out}/nginx.pid;\nerror_log ${out}/nginx-error.log;\nevents { worker_connections 4096; }\n` +
    `http {\n  access_log off;\n  keepalive_requests 10000000;\n  keepalive_timeout 300s;\n  server { listen 127.0.0.1:${nginxPort}; location / { return 200 "ok"; } }\n}\n`,
);
const haproxyConf = write(
  'haproxy.cfg',
  `global\n  nbthread 1\n  maxconn 4000\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n  http-reuse always\n` +
    `frontend f\n  bind 127.0.0.1:${haproxyPort}\n  default_backend b\nbackend b\n  server s1 127.0.0.1:${nginxPort}\n`,
);
const bootstrap = (port: number): string =>
  write(
    `weft-${port}.yaml`,
    `static_resources:
  listeners:
  - name: bench
    address: { socket_address: { address: 127.0.0.1, port_value: ${port} } }
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
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${nginxPort} } } }
`,
  );
// Each tree runs from its src/ (never a dist/ build another session may have left, fresh or not).
const runner = write('run-src.mjs', "const [tree, ...args] = process.argv.slice(2);\nconst { main } = await import(`${tree}/src/cli/main.ts`);\nprocess.exitCode = await main(args);\n");
const latencyLua = write('pause.lua', 'function delay()\n  return math.random(0, 20)\nend\n');

const children: ChildProcess[] = [];
function start(cmd: string, args: string[], readyText?: string): Promise<ChildProcess> {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(c);
  return new Promise((res, rej) => {
    if (!readyText) return setTimeout(() => res(c), 500);
    let buf = '';
    c.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes(readyText)) res(c);
    });
    c.once('exit', (code) => rej(new Error(`${cmd} ${args.join(' ')} exited ${code}`)));
  });
}
function cleanup(): void {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

interface Proc {
  utime: number;
  stime: number;
  minflt: number;
  ctxsw: number;
}
function procStat(pid: number): Proc {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const vol = Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(st)?.[1] ?? 0);
  const nonvol = Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(st)?.[1] ?? 0);
  // fields after the comm: state(3) ppid … minflt is field 10 → index 7; utime 14 → 11; stime 15 → 12
  return { minflt: Number(f[7]), utime: Number(f[11]), stime: Number(f[12]), ctxsw: vol + nonvol };
}
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : NaN;
}
function wrk(port: number, extra: string[]): string {
  return execFileSync('taskset', ['-c', '0', 'wrk', '-t1', ...extra, `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
}
const parseRps = (t: string): { rps: number; requests: number } => ({ rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(t)![1]), requests: Number(/(\d+) requests in/.exec(t)![1]) });
function parseP50Ms(text: string): number {
  const m = /50%\s+([\d.]+)(us|ms|s)/.exec(text)!;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const tck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

interface Row {
  rps: number[];
  user: number[];
  sys: number[];
  cpu: number[];
  minflt: number[];
  ctxsw: number[];
  p50: number[];
}

async function main(): Promise<void> {
  await start('taskset', ['-c', '0', 'nginx', '-c', nginxConf]);
  const targets: { name: string; port: number; pid: number; idleRss?: number }[] = [];
  if (WITH_HAPROXY) {
    const h = await start('taskset', ['-c', '1', 'haproxy', '-f', haproxyConf]);
    targets.push({ name: 'HAProxy', port: haproxyPort, pid: h.pid! });
  }
  let port = BASE_PORT + 2;
  for (const s of specs) {
    const p = port++;
    // A TREE that is a .ts file is a probe script: `node FILE LISTEN_PORT UPSTREAM_PORT`, ready when it prints "ready".
    const c = s.tree.endsWith('.ts')
      ? await start('taskset', ['-c', '1', node, ...s.flags, s.tree, String(p), String(nginxPort), ...s.args], 'ready')
      : await start('taskset', ['-c', '1', node, ...s.flags, runner, s.tree, 'proxy', 'router', '--bootstrap', bootstrap(p), '--admin-port', '-1', '--stats-port', '-1', '--readiness-port', '-1', '--status-port', '0'], 'weft proxy ready');
    await new Promise((r) => setTimeout(r, 1500));
    targets.push({ name: s.name, port: p, pid: c.pid!, idleRss: rssMb(c.pid!) });
  }
  for (const t of targets) wrk(t.port, ['-c', String(CONNECTIONS), '-d', '3s']);
  const rows = new Map<string, Row>(targets.map((t) => [t.name, { rps: [], user: [], sys: [], cpu: [], minflt: [], ctxsw: [], p50: [] }]));
  for (let round = 1; round <= ROUNDS; round++) {
    // Rotate the order every round so no target always runs first or last.
    const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
    for (const t of order) {
      const a = procStat(t.pid);
      const r = parseRps(wrk(t.port, ['-c', String(CONNECTIONS), '-d', `${DURATION}s`]));
      const b = procStat(t.pid);
      const row = rows.get(t.name)!;
      const us = (ticks: number): number => ((ticks / tck) * 1e6) / r.requests;
      row.rps.push(r.rps);
      row.user.push(us(b.utime - a.utime));
      row.sys.push(us(b.stime - a.stime));
      row.cpu.push(us(b.utime - a.utime + b.stime - a.stime));
      row.minflt.push((b.minflt - a.minflt) / r.requests);
      row.ctxsw.push((b.ctxsw - a.ctxsw) / r.requests);
      let lat = NaN;
      if (WITH_LATENCY) {
        lat = parseP50Ms(wrk(t.port, ['-c', '10', '-d', `${DURATION}s`, '--latency', '-s', latencyLua]));
        row.p50.push(lat);
      }
      process.stderr.write(
        `round ${round} ${t.name}: ${Math.round(r.rps)} req/s, ${row.cpu.at(-1)!.toFixed(1)} µs CPU/req (user ${row.user.at(-1)!.toFixed(1)}, sys ${row.sys.at(-1)!.toFixed(1)}), ` +
          `${row.minflt.at(-1)!.toFixed(3)} minflt/req, ${row.ctxsw.at(-1)!.toFixed(3)} ctxsw/req${WITH_LATENCY ? `, p50 ${lat.toFixed(3)} ms` : ''}\n`,
      );
    }
  }
  const lines = ['| target | req/s | vs HAProxy | CPU µs/req | user | sys | minflt/req | ctxsw/req | p50 @1k req/s | idle RSS |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
  const h = rows.get('HAProxy');
  for (const t of targets) {
    const r = rows.get(t.name)!;
    const ratio = h ? median(r.rps.map((x, i) => x / h.rps[i]!)).toFixed(2) : '-';
    lines.push(
      `| ${t.name} | ${Math.round(median(r.rps))} | ${ratio} | ${median(r.cpu).toFixed(1)} | ${median(r.user).toFixed(1)} | ${median(r.sys).toFixed(1)} | ${median(r.minflt).toFixed(3)} | ${median(r.ctxsw).toFixed(3)} | ${WITH_LATENCY ? `${median(r.p50).toFixed(3)} ms` : '-'} | ${t.idleRss ?? '-'} MB |`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
  cleanup();
}

main().catch((e: unknown) => {
  process.stderr.write(`hotpath-ab failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
