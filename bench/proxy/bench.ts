// Side-by-side proxy benchmark in ONE run, interleaved rounds, medians and in-round ratios (bench/proxy/RESULTS.md).
// HTTP/1.1 (wrk): direct to nginx, HAProxy, one Weft hop (`weft proxy router`, static resources), node:http + undici,
// a Node TCP pipe (the latency floor of any Node proxy), the full Weft sidecar path (two sidecars, mTLS, metrics; see
// mesh.ts) and its peer, two HAProxy with TLS between them. HTTP/2 (h2load, h2c prior knowledge): nginx, HAProxy
// (`proto h2` frontend), Weft with an HTTP/1.1 upstream and with an h2c upstream. Load generator and nginx on core 0,
// proxies on core 1. Needs Debian packages nginx, haproxy, wrk, nghttp2-client (h2load).
//   node_modules/.bin/node bench/proxy/bench.ts [--rounds 3] [--duration 8] [--connections 32]
//     [--only direct,haproxy,weft,node,pipe,mesh,haproxy-tls,node-pipes,node-tls-pipes,h2-direct,h2-haproxy,h2-weft,h2-weft-h2 | h1 | h2 | full]
//     [--weft DIR]   (the Weft tree under test, default this one: for A/B against a git worktree)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanup, cpuSeconds, h2load, median, rssMb, start, wrk, type LoadResult } from './lib.ts';
import { startHaproxyPair, startNodePipePairs, startWeftMesh, type MeshTarget } from './mesh.ts';

const t0 = performance.now();
const root = fileURLToPath(new URL('../../', import.meta.url));
const out = join(root, 'bench/out/proxy');
mkdirSync(out, { recursive: true });
const flag = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? def) : def;
};
const ROUNDS = Number(flag('rounds', '3'));
const DURATION = Number(flag('duration', '8'));
const CONNECTIONS = Number(flag('connections', '32'));
const weftTree = flag('weft', root);
const node = join(root, 'node_modules/.bin/node');
const weftBin = join(weftTree, 'bin/weft.js');
const P = { nginx: 28080, haproxy: 28081, weft: 28082, nodeHttp: 28083, pipe: 28084, nginxH2: 28085, haproxyH2: 28086, weftH2up: 28087, haA: 28088, haB: 28089, app: 28090, outbound: 28091, pipeA: 28092, pipeB: 28093, tlsPipeA: 28094, tlsPipeB: 28095 };

type Kind = 'h1' | 'h2';
interface Target {
  id: string;
  name: string;
  kind: Kind;
  /** The row its ratios are taken against (same round). */
  peer: string;
  /** Hops between client and nginx (added p50 per hop). */
  hops: number;
}
const ALL: Target[] = [
  { id: 'direct', name: 'direct to nginx', kind: 'h1', peer: 'haproxy', hops: 0 },
  { id: 'haproxy', name: 'HAProxy (http, 1 thread)', kind: 'h1', peer: 'haproxy', hops: 1 },
  { id: 'weft', name: 'Weft, one hop', kind: 'h1', peer: 'haproxy', hops: 1 },
  { id: 'node', name: 'node:http + undici', kind: 'h1', peer: 'haproxy', hops: 1 },
  { id: 'pipe', name: 'Node TCP pipe (no HTTP)', kind: 'h1', peer: 'haproxy', hops: 1 },
  { id: 'haproxy-tls', name: 'HAProxy → TLS → HAProxy', kind: 'h1', peer: 'haproxy-tls', hops: 2 },
  { id: 'mesh', name: 'Weft sidecar → mTLS → Weft sidecar', kind: 'h1', peer: 'haproxy-tls', hops: 2 },
  // The floor of any design with two Node.js processes per request (mesh.ts startNodePipePairs).
  { id: 'node-pipes', name: 'Node TCP pipe → Node TCP pipe', kind: 'h1', peer: 'haproxy-tls', hops: 2 },
  { id: 'node-tls-pipes', name: 'Node pipe → mTLS → Node pipe', kind: 'h1', peer: 'haproxy-tls', hops: 2 },
  { id: 'h2-direct', name: 'h2c direct to nginx', kind: 'h2', peer: 'h2-haproxy', hops: 0 },
  { id: 'h2-haproxy', name: 'HAProxy h2c → HTTP/1.1', kind: 'h2', peer: 'h2-haproxy', hops: 1 },
  { id: 'h2-weft', name: 'Weft h2c → HTTP/1.1', kind: 'h2', peer: 'h2-haproxy', hops: 1 },
  { id: 'h2-weft-h2', name: 'Weft h2c → h2c', kind: 'h2', peer: 'h2-haproxy', hops: 1 },
];
const GROUPS: Record<string, string[]> = {
  h1: ['direct', 'haproxy', 'weft', 'node', 'pipe', 'haproxy-tls', 'mesh', 'node-pipes', 'node-tls-pipes'],
  h2: ['h2-direct', 'h2-haproxy', 'h2-weft', 'h2-weft-h2'],
  full: ['direct', 'haproxy-tls', 'mesh', 'node-pipes', 'node-tls-pipes'],
};
const onlyArg = flag('only', '');
const wanted = new Set(onlyArg ? onlyArg.split(',').flatMap((x) => GROUPS[x] ?? [x]) : ALL.map((t) => t.id));
for (const w of wanted) if (!ALL.some((t) => t.id === w)) throw new Error(`--only: unknown target ${w} (known: ${ALL.map((t) => t.id).join(', ')}, or h1, h2, full)`);
const targets = ALL.filter((t) => wanted.has(t.id));
const has = (id: string): boolean => wanted.has(id);

function write(name: string, text: string): string {
  const p = join(out, name);
  writeFileSync(p, text);
  return p;
}

const nginxConf = write(
  'nginx.conf',
  `worker_processes 1;\ndaemon off;\npid ${out}/nginx.pid;\nerror_log ${out}/nginx-error.log;\nevents { worker_connections 4096; }\n` +
    `http {\n  access_log off;\n  keepalive_requests 10000000;\n  keepalive_timeout 300s;\n` +
    `  server { listen 127.0.0.1:${P.nginx}; location / { return 200 "ok"; } }\n` +
    `  server { listen 127.0.0.1:${P.nginxH2} http2; location / { return 200 "ok"; } }\n}\n`,
);
const haproxyConf = write(
  'haproxy.cfg',
  `global\n  nbthread 1\n  maxconn 4000\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n  http-reuse always\n` +
    `frontend f\n  bind 127.0.0.1:${P.haproxy}\n  default_backend b\nfrontend f2\n  bind 127.0.0.1:${P.haproxyH2} proto h2\n  default_backend b\n` +
    `backend b\n  server s1 127.0.0.1:${P.nginx}\n`,
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
// One listener per upstream protocol: HTTP/1.1 downstream and h2c (prior knowledge) share the first.
const weftBootstrap = write(
  'weft.yaml',
  `static_resources:\n  listeners:\n${listener('bench', P.weft, 'nginx')}${listener('bench_h2', P.weftH2up, 'nginx_h2')}  clusters:\n${cluster('nginx', P.nginx, false)}${cluster('nginx_h2', P.nginxH2, true)}`,
);
const pause = 'function delay()\n  return math.random(0, 20)\nend\n';

interface Running {
  t: Target;
  url: string;
  pids: number[];
  /** Lua for the throughput run and for the paced (~1,000 req/s) run. */
  lua: string | undefined;
  paced: string;
  verify?: () => Promise<void>;
}

async function setUp(): Promise<{ running: Running[]; weftPid: number | undefined }> {
  // nginx shares core 0 with the load generator so that core 1 belongs to the proxies alone.
  await start('taskset', ['-c', '0', 'nginx', '-c', nginxConf]);
  const nginxWorker = Number(execFileSync('pgrep', ['-P', readFileSync(join(out, 'nginx.pid'), 'utf8').trim()], { encoding: 'utf8' }).trim().split('\n')[0]);
  const pidsOf: Record<string, number[]> = { direct: [nginxWorker], 'h2-direct': [nginxWorker] };
  const urls: Record<string, string> = { direct: `http://127.0.0.1:${P.nginx}/`, 'h2-direct': `http://127.0.0.1:${P.nginxH2}/` };
  if (has('haproxy') || has('h2-haproxy')) {
    const h = await start('taskset', ['-c', '1', 'haproxy', '-f', haproxyConf]);
    pidsOf['haproxy'] = pidsOf['h2-haproxy'] = [h.child.pid!];
    urls['haproxy'] = `http://127.0.0.1:${P.haproxy}/`;
    urls['h2-haproxy'] = `http://127.0.0.1:${P.haproxyH2}/`;
  }
  let weftPid: number | undefined;
  if (has('weft') || has('h2-weft') || has('h2-weft-h2')) {
    const w = await start('taskset', ['-c', '1', node, weftBin, 'proxy', 'router', '--bootstrap', weftBootstrap, '--admin-port', '-1', '--stats-port', '-1', '--readiness-port', '-1', '--status-port', '0'], 'weft proxy ready');
    weftPid = w.child.pid!;
    pidsOf['weft'] = pidsOf['h2-weft'] = pidsOf['h2-weft-h2'] = [weftPid];
    urls['weft'] = urls['h2-weft'] = `http://127.0.0.1:${P.weft}/`;
    urls['h2-weft-h2'] = `http://127.0.0.1:${P.weftH2up}/`;
  }
  if (has('node')) {
    const n = await start('taskset', ['-c', '1', node, join(root, 'bench/proxy/node-http-proxy.ts'), String(P.nodeHttp), String(P.nginx)], 'ready');
    pidsOf['node'] = [n.child.pid!];
    urls['node'] = `http://127.0.0.1:${P.nodeHttp}/`;
  }
  if (has('pipe')) {
    const p = await start('taskset', ['-c', '1', node, join(root, 'bench/proxy/tcp-pipe.ts'), String(P.pipe), String(P.nginx)], 'ready');
    pidsOf['pipe'] = [p.child.pid!];
    urls['pipe'] = `http://127.0.0.1:${P.pipe}/`;
  }
  const mesh: Record<string, MeshTarget> = {};
  if (has('mesh') || has('haproxy-tls') || has('node-pipes') || has('node-tls-pipes')) {
    const setup = { root, node, weft: weftBin, dir: join(out, 'mesh'), appPort: P.app, outboundPort: P.outbound };
    const m = await startWeftMesh(setup);
    mesh['mesh'] = m.weft;
    if (has('haproxy-tls')) mesh['haproxy-tls'] = await startHaproxyPair(setup, m, { a: P.haA, b: P.haB });
    if (has('node-pipes') || has('node-tls-pipes')) {
      const pipes = await startNodePipePairs(setup, m, { tcpA: P.pipeA, tcpB: P.pipeB, tlsA: P.tlsPipeA, tlsB: P.tlsPipeB });
      mesh['node-pipes'] = pipes.tcp;
      mesh['node-tls-pipes'] = pipes.tls;
    }
  }
  const running = targets.map((t): Running => {
    const m = mesh[t.id];
    const lua = m?.lua || undefined;
    return {
      t,
      url: m?.url ?? urls[t.id]!,
      pids: m?.pids ?? pidsOf[t.id]!,
      lua: lua ? write(`${t.id}.lua`, lua) : undefined,
      paced: write(`${t.id}-paced.lua`, (lua ?? '') + pause),
      ...(m ? { verify: m.verify } : {}),
    };
  });
  return { running, weftPid };
}

interface Sample {
  rps: number;
  cpuUsPerReq: number;
  /** Paced run (~1,000 req/s, 10 connections). */
  pacedRps: number;
  pacedVcpuPer1k: number;
  p50: number;
  p99: number;
  errors: number;
}

function measure(r: Running): Sample {
  const before = cpuSeconds(r.pids);
  const load: LoadResult = r.t.kind === 'h2' ? h2load(r.url, CONNECTIONS, 10, DURATION) : wrk(r.url, CONNECTIONS, DURATION, r.lua);
  const cpu = cpuSeconds(r.pids) - before;
  if (r.t.kind === 'h2') return { rps: load.rps, cpuUsPerReq: (cpu / load.requests) * 1e6, pacedRps: NaN, pacedVcpuPer1k: NaN, p50: NaN, p99: NaN, errors: load.errors };
  const b2 = cpuSeconds(r.pids);
  const paced = wrk(r.url, 10, DURATION, r.paced);
  const cpu2 = cpuSeconds(r.pids) - b2;
  return {
    rps: load.rps,
    cpuUsPerReq: (cpu / load.requests) * 1e6,
    pacedRps: paced.rps,
    pacedVcpuPer1k: cpu2 / paced.seconds / (paced.rps / 1000),
    p50: paced.p50Ms,
    p99: paced.p99Ms,
    errors: load.errors + paced.errors,
  };
}

const f = (x: number, digits: number): string => (Number.isNaN(x) ? '–' : x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));

async function main(): Promise<void> {
  process.stderr.write(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.versions.node}; targets: ${targets.map((t) => t.id).join(', ')}; ${ROUNDS} rounds × ${DURATION} s\n`);
  const { running, weftPid } = await setUp();
  const weftIdleRss = weftPid ? rssMb(weftPid) : NaN;
  // Warm up (JIT, pools, TLS sessions), then check that the full paths really use mutual TLS.
  for (const r of running) {
    if (r.t.kind === 'h2') h2load(r.url, CONNECTIONS, 10, 2);
    else wrk(r.url, CONNECTIONS, 2, r.lua);
    await r.verify?.();
  }
  const samples = new Map<string, Sample[]>(running.map((r) => [r.t.id, []]));
  const ratios = new Map<string, { rps: number[]; cpu: number[] }>(running.map((r) => [r.t.id, { rps: [], cpu: [] }]));
  for (let round = 1; round <= ROUNDS; round++) {
    const got = new Map<string, Sample>();
    for (const r of running) {
      const s = measure(r);
      got.set(r.t.id, s);
      samples.get(r.t.id)!.push(s);
      process.stderr.write(
        `round ${round} ${r.t.id}: ${Math.round(s.rps)} req/s, ${s.cpuUsPerReq.toFixed(1)} µs CPU/req` +
          (r.t.kind === 'h1' ? `; paced ${Math.round(s.pacedRps)} req/s, ${s.pacedVcpuPer1k.toFixed(3)} vCPU per 1k req/s, p50 ${s.p50.toFixed(3)} ms, p99 ${s.p99.toFixed(3)} ms` : '') +
          (s.errors ? `; ${s.errors} ERRORS` : '') +
          '\n',
      );
    }
    for (const r of running) {
      const peer = got.get(r.t.peer);
      if (!peer) continue;
      const s = got.get(r.t.id)!;
      ratios.get(r.t.id)!.rps.push(s.rps / peer.rps);
      ratios.get(r.t.id)!.cpu.push(s.cpuUsPerReq / peer.cpuUsPerReq);
    }
    await Promise.all(running.map((r) => r.verify?.()));
  }
  const med = (id: string, k: keyof Sample): number => median(samples.get(id)?.map((s) => s[k]) ?? []);
  const lines: string[] = [];
  const h1 = running.filter((r) => r.t.kind === 'h1');
  const directP50 = med('direct', 'p50');
  if (h1.length > 0) {
    lines.push(
      '| HTTP/1.1 target | req/s | req/s vs peer | CPU µs/req | CPU vs peer | vCPU per 1k req/s at max | at ~1k req/s (paced req/s) | p50 | p99 | added p50 per hop |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const r of h1) {
      const id = r.t.id;
      const rt = ratios.get(id)!;
      const p50 = med(id, 'p50');
      const added = r.t.hops === 0 || Number.isNaN(directP50) ? (r.t.hops === 0 ? '0' : '–') : `+${f((p50 - directP50) / r.t.hops, 3)} ms`;
      lines.push(
        `| ${r.t.name} | ${f(med(id, 'rps'), 0)} | ${id === r.t.peer ? '1.00' : f(median(rt.rps), 2)} (${r.t.peer}) | ${f(med(id, 'cpuUsPerReq'), 1)} | ${id === r.t.peer ? '1.00' : f(median(rt.cpu), 2)} | ` +
          `${f(med(id, 'cpuUsPerReq') / 1000, 3)} | ${f(med(id, 'pacedVcpuPer1k'), 3)} (${f(med(id, 'pacedRps'), 0)}) | ${f(p50, 3)} ms | ${f(med(id, 'p99'), 3)} ms | ${added} |`,
      );
    }
  }
  const h2 = running.filter((r) => r.t.kind === 'h2');
  if (h2.length > 0) {
    lines.push('', `| HTTP/2 target (h2load -c ${CONNECTIONS} -m 10) | req/s | req/s vs HAProxy h2c | CPU µs/req | CPU vs HAProxy h2c |`, '|---|---:|---:|---:|---:|');
    for (const r of h2) {
      const rt = ratios.get(r.t.id)!;
      const self = r.t.id === r.t.peer;
      lines.push(`| ${r.t.name} | ${f(med(r.t.id, 'rps'), 0)} | ${self ? '1.00' : f(median(rt.rps), 2)} | ${f(med(r.t.id, 'cpuUsPerReq'), 1)} | ${self ? '1.00' : f(median(rt.cpu), 2)} |`);
    }
  }
  lines.push('', 'Medians over rounds; "vs peer" = median of in-round ratios (req/s: higher is better; CPU: lower is better).');
  lines.push('vCPU per 1k req/s = CPU seconds of the proxies ÷ wall seconds ÷ (req/s ÷ 1000); at max it equals CPU µs/req ÷ 1000.');
  if (has('mesh')) {
    const full = med('mesh', 'pacedVcpuPer1k');
    lines.push(`Full sidecar path: ${f(full, 3)} vCPU per 1k req/s at ~1k req/s, ${f(med('mesh', 'cpuUsPerReq') / 1000, 3)} at max (goal ≤ 0.10).`);
  }
  if (weftPid) lines.push(`Weft one-hop idle RSS after start-up: ${weftIdleRss} MB; after the run: ${rssMb(weftPid)} MB.`);
  const errors = [...samples.values()].flat().reduce((a, s) => a + s.errors, 0);
  if (errors) lines.push(`**${errors} failed requests or socket errors in the runs** (see stderr).`);
  lines.push(`Run time: ${((performance.now() - t0) / 1000).toFixed(0)} s (${ROUNDS} rounds × ${DURATION} s, ${running.length} targets).`);
  const report = lines.join('\n') + '\n';
  process.stdout.write(report);
  writeFileSync(join(out, 'results.md'), report);
  writeFileSync(join(out, 'results.json'), JSON.stringify(Object.fromEntries(samples), null, 2));
  cleanup();
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
  cleanup();
});
