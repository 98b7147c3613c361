// Interleaved A/B of the HTTP/2 path: h2load (h2c prior knowledge, -c 32 -m 10, a fixed request count) on core 0 →
// target pinned to core 1 → nginx (core 0), over an HTTP/1.1 upstream ("h1") and an h2c upstream ("h2"). Per round and
// target: req/s and CPU µs per request from /proc/<pid>/stat (user and system), medians at the end. Targets are Weft
// trees (run from their src/), probe scripts (bench/proxy/h2-probe.ts: node:http2 floors, built up step by step), or
// HAProxy. Needs Debian packages nginx, nghttp2-client (h2load), haproxy (for --haproxy).
//   node_modules/.bin/node bench/proxy/h2-ab.ts --target base=/tmp/h2-base --target new=. \
//       [--target 'bare=bench/proxy/h2-probe.ts||bare'] [--haproxy] [--paths h1,h2] [--rounds 5] [--requests 100000]
// A target is NAME=TREE, NAME=TREE|NODE_FLAGS or NAME=FILE.ts|NODE_FLAGS|ARGS (a probe started as
// `node FILE LISTEN_PORT UPSTREAM_H1_PORT UPSTREAM_H2_PORT ARGS`, ready when it prints "ready"; it serves one path).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = join(root, 'bench/out/h2-ab');
mkdirSync(out, { recursive: true });
const argv = process.argv.slice(2);
const num = (name: string, def: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const str = (name: string, def: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? (argv[i + 1] ?? def) : def;
};
const ROUNDS = num('rounds', 5);
const REQUESTS = num('requests', 100_000);
const CLIENTS = num('clients', 32);
const STREAMS = num('streams', 10);
const BASE_PORT = num('port', 29180);
const PATHS = str('paths', 'h1,h2').split(',') as ('h1' | 'h2')[];
const WITH_HAPROXY = argv.includes('--haproxy');
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

const nginxH1 = BASE_PORT;
const nginxH2 = BASE_PORT + 1;
const haproxyPort = BASE_PORT + 2;
const nginxConf = write(
  'nginx.conf',
  `worker_processes 1;\ndaemon off;\npid ${out}/nginx.pid;\nerror_log ${out}/nginx-error.log;\nevents { worker_connections 4096; }\n` +
    `http {\n  access_log off;\n  keepalive_requests 10000000;\n  keepalive_timeout 300s;\n` +
    `  server { listen 127.0.0.1:${nginxH1}; location / { return 200 "ok"; } }\n` +
    `  server { listen 127.0.0.1:${nginxH2} http2; location / { return 200 "ok"; } }\n}\n`,
);
const haproxyConf = write(
  'haproxy.cfg',
  `global\n  nbthread 1\n  maxconn 4000\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n  http-reuse always\n` +
    `frontend f2\n  bind 127.0.0.1:${haproxyPort} proto h2\n  default_backend b\nbackend b\n  server s1 127.0.0.1:${nginxH1}\n`,
);
const listener = (name: string, port: number, cluster: string): string => `  - name: ${name}
    address: { socket_address: { address: 127.0.0.1, port_value: ${port} } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ${name}
          route_config:
            name: ${name}
            virtual_hosts:
            - name: all
              domains: ['*']
              routes:
              - match: { prefix: / }
                route: { cluster: ${cluster}, timeout: 0s }
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { '@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
`;
const cluster = (name: string, port: number, h2: boolean): string => `  - name: ${name}
    type: STATIC
    connect_timeout: 1s
${h2 ? '    http2_protocol_options: {}\n' : ''}    load_assignment:
      cluster_name: ${name}
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${port} } } }
`;
/** Weft's two listeners: port → HTTP/1.1 cluster, port + 1 → h2c cluster (the shape of bench.ts). */
const bootstrap = (port: number): string =>
  write(
    `weft-${port}.yaml`,
    `static_resources:\n  listeners:\n${listener('h1up', port, 'nginx')}${listener('h2up', port + 1, 'nginx_h2')}  clusters:\n${cluster('nginx', nginxH1, false)}${cluster('nginx_h2', nginxH2, true)}`,
  );
// Each tree runs from its src/ (never a dist/ build another session may have left).
const runner = write('run-src.mjs', "const [tree, ...args] = process.argv.slice(2);\nconst { main } = await import(`${tree}/src/cli/main.ts`);\nprocess.exitCode = await main(args);\n");

const children: ChildProcess[] = [];
function start(cmd: string, args: string[], readyText?: string): Promise<ChildProcess> {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(c);
  return new Promise((res, rej) => {
    if (!readyText) return setTimeout(() => res(c), 500);
    let buf = '';
    const on = (d: Buffer): void => {
      buf += d.toString();
      if (buf.includes(readyText)) res(c);
    };
    c.stdout!.on('data', on);
    c.stderr!.on('data', on);
    c.once('exit', (code) => rej(new Error(`${cmd} ${args.join(' ')} exited ${code}\n${buf}`)));
  });
}
function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

const tck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
function procStat(pid: number): { utime: number; stime: number } {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return { utime: Number(f[11]), stime: Number(f[12]) };
}
function h2load(port: number, n: number): { rps: number; done: number; failed: number } {
  const text = execFileSync('taskset', ['-c', '0', 'h2load', '-t1', '-c', String(CLIENTS), '-m', String(STREAMS), '-n', String(n), `http://127.0.0.1:${port}/`], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  const fin = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(text);
  const req = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(text);
  const codes = /status codes: (\d+) 2xx/.exec(text);
  if (!fin || !req) throw new Error(`h2load output not understood:\n${text}`);
  const done = Number(req[1]);
  return { rps: Number(fin[1]), done, failed: done - Number(codes?.[1] ?? 0) + Number(req[3]) + Number(req[4]) + Number(req[5]) };
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

interface Run {
  name: string;
  port: number;
  pid: number;
}

async function main(): Promise<void> {
  await start('taskset', ['-c', '0', 'nginx', '-c', nginxConf]);
  const runs: Run[] = [];
  if (WITH_HAPROXY) {
    const h = await start('taskset', ['-c', '1', 'haproxy', '-f', haproxyConf]);
    runs.push({ name: 'HAProxy h1', port: haproxyPort, pid: h.pid! });
  }
  let port = BASE_PORT + 10;
  for (const s of specs) {
    const p = port;
    port += 2;
    if (s.tree.endsWith('.ts')) {
      const c = await start('taskset', ['-c', '1', node, ...s.flags, s.tree, String(p), String(nginxH1), String(nginxH2), ...s.args], 'ready');
      runs.push({ name: s.name, port: p, pid: c.pid! });
      continue;
    }
    const c = await start(
      'taskset',
      ['-c', '1', node, ...s.flags, runner, s.tree, 'proxy', 'router', '--bootstrap', bootstrap(p), '--admin-port', '-1', '--stats-port', '-1', '--readiness-port', '-1', '--status-port', '0'],
      'weft proxy ready',
    );
    for (const path of PATHS) runs.push({ name: `${s.name} ${path}`, port: path === 'h1' ? p : p + 1, pid: c.pid! });
  }
  // Warm-up: JIT, upstream pools.
  for (const r of runs) h2load(r.port, Math.min(REQUESTS, 30_000));
  const rows = new Map<string, { rps: number[]; cpu: number[]; user: number[]; sys: number[] }>(runs.map((r) => [r.name, { rps: [], cpu: [], user: [], sys: [] }]));
  for (let round = 1; round <= ROUNDS; round++) {
    // Rotate the order every round so no target always runs first or last.
    const order = runs.map((_, i) => runs[(i + round) % runs.length]!);
    for (const r of order) {
      const a = procStat(r.pid);
      const l = h2load(r.port, REQUESTS);
      const b = procStat(r.pid);
      const us = (ticks: number): number => ((ticks / tck) * 1e6) / l.done;
      const row = rows.get(r.name)!;
      row.rps.push(l.rps);
      row.user.push(us(b.utime - a.utime));
      row.sys.push(us(b.stime - a.stime));
      row.cpu.push(us(b.utime - a.utime + b.stime - a.stime));
      process.stderr.write(
        `round ${round} ${r.name}: ${Math.round(l.rps)} req/s, ${row.cpu.at(-1)!.toFixed(1)} µs CPU/req (user ${row.user.at(-1)!.toFixed(1)}, sys ${row.sys.at(-1)!.toFixed(1)})${l.failed ? `, ${l.failed} FAILED` : ''}\n`,
      );
    }
  }
  const lines = [`| target (h2load -c ${CLIENTS} -m ${STREAMS} -n ${REQUESTS}, ${ROUNDS} rounds) | req/s | CPU µs/req | user | sys |`, '|---|---:|---:|---:|---:|'];
  for (const r of runs) {
    const row = rows.get(r.name)!;
    lines.push(`| ${r.name} | ${Math.round(median(row.rps))} | ${median(row.cpu).toFixed(1)} | ${median(row.user).toFixed(1)} | ${median(row.sys).toFixed(1)} |`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  cleanup();
}

main().catch((e: unknown) => {
  process.stderr.write(`h2-ab failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
  cleanup();
});
