// Requests/s through Weft's proxy with authorization policy against none, in ONE run, interleaved rounds, medians.
// Two `weft proxy router` processes with the same static listener → nginx, one with the RBAC filter of 100 ALLOW rules
// (translated by the control plane's security translation) and one without; wrk on core 0, the proxies on core 1.
// The request matches the last rule (path /api/v99/…, header x-tenant: tenant-99): the worst case for evaluation.
// Needs Debian packages nginx and wrk, and a proxy with the security chain wired into its HTTP connection manager.
//   node_modules/.bin/node bench/authz/proxy.ts [--rounds 3] [--duration 8] [--connections 32]
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Resource } from '../../src/config/api/resource.ts';
import { buildWorkloadSecurity } from '../../src/discovery/translate/security/index.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = join(root, 'bench/out/authz');
mkdirSync(out, { recursive: true });
const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const ROUNDS = arg('rounds', 3);
const DURATION = arg('duration', 8);
const CONNECTIONS = arg('connections', 32);
const node = join(root, 'node_modules/.bin/node');
const P = { nginx: 28180, none: 28181, hundred: 28182 };

const write = (name: string, text: string): string => {
  const p = join(out, name);
  writeFileSync(p, text);
  return p;
};
const nginxConf = write('nginx.conf', `worker_processes 1;\ndaemon off;\npid ${out}/nginx.pid;\nerror_log ${out}/nginx-error.log;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n  keepalive_requests 10000000;\n  keepalive_timeout 300s;\n  server { listen 127.0.0.1:${P.nginx}; location / { return 200 "ok"; } }\n}\n`);

const hundred: Resource = {
  apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'allow-100', namespace: 'bench' },
  spec: { rules: Array.from({ length: 100 }, (_, i) => ({ to: [{ operation: { methods: ['GET', 'POST'], paths: [`/api/v${i}/*`] } }], when: [{ key: 'request.headers[x-tenant]', values: [`tenant-${i}`, 'shared'] }] })) },
};
const security = buildWorkloadSecurity({ workload: { namespace: 'bench', labels: {} }, configs: [hundred], rootNamespace: 'istio-system', trustDomain: 'cluster.local' });

function bootstrap(port: number, filters: unknown[]): string {
  return write(`weft-${port}.json`, JSON.stringify({
    static_resources: {
      listeners: [{
        name: 'bench', address: { socket_address: { address: '127.0.0.1', port_value: port } },
        filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          stat_prefix: 'bench', normalize_path: true,
          route_config: { name: 'bench', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'nginx', timeout: '0s' } }] }] },
          http_filters: [...filters, { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
        } }] }],
      }],
      clusters: [{ name: 'nginx', type: 'STATIC', connect_timeout: '1s', load_assignment: { cluster_name: 'nginx', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: P.nginx } } } }] }] } }],
    },
  }, null, 1));
}

const children: ChildProcess[] = [];
function start(cmd: string, args: string[], readyText?: string): Promise<ChildProcess> {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(c);
  let err = '';
  c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    if (!readyText) return setTimeout(() => resolve(c), 500);
    let buf = '';
    c.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes(readyText)) resolve(c);
    });
    c.once('exit', (code) => reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`)));
  });
}
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
});
process.on('SIGINT', () => process.exit(130));

const cpuTicks = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]);
};
const ticksPerSec = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  await start('nginx', ['-c', nginxConf]);
  const weft = (port: number, filters: unknown[]) =>
    start('taskset', ['-c', '1', node, join(root, 'bin/weft.js'), 'proxy', 'router', '--bootstrap', bootstrap(port, filters), '--admin-port', '-1', '--stats-port', '-1', '--readiness-port', '-1', '--status-port', '0'], 'weft proxy ready');
  const targets = [
    { name: 'no policy', port: P.none, proc: await weft(P.none, []) },
    { name: '100 ALLOW rules (last one matches)', port: P.hundred, proc: await weft(P.hundred, security.httpFilters) },
  ];
  // Each proxy must answer 200 to the benchmark request and 403 to one outside the rules, or the figures mean nothing.
  for (const t of targets) {
    const probe = async (path: string) => (await fetch(`http://127.0.0.1:${t.port}${path}`, { headers: { 'x-tenant': 'tenant-99' } })).status;
    const ok = await probe('/api/v99/items');
    const other = await probe('/other');
    if (ok !== 200 || other !== (t.port === P.none ? 200 : 403)) throw new Error(`${t.name}: probe answered ${ok} / ${other}; is the security chain wired into the proxy?`);
  }
  // Warm-up (discarded): the JIT optimises the request path and the RBAC closures before anything is measured.
  for (const t of targets) execFileSync('taskset', ['-c', '0', 'wrk', '-t1', `-c${CONNECTIONS}`, '-d3s', '-H', 'x-tenant: tenant-99', `http://127.0.0.1:${t.port}/api/v99/items`]);
  const results = new Map<string, { rps: number[]; cpuUs: number[] }>(targets.map((t) => [t.name, { rps: [], cpuUs: [] }]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const t of targets) {
      const before = cpuTicks(t.proc.pid!);
      const text = execFileSync('taskset', ['-c', '0', 'wrk', '-t1', `-c${CONNECTIONS}`, `-d${DURATION}s`, '-H', 'x-tenant: tenant-99', `http://127.0.0.1:${t.port}/api/v99/items`], { encoding: 'utf8' });
      const cpuSec = (cpuTicks(t.proc.pid!) - before) / ticksPerSec;
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)![1]);
      const requests = Number(/(\d+) requests in/.exec(text)![1]);
      if (/Non-2xx/.test(text)) throw new Error(`${t.name}: non-2xx responses during the run`);
      results.get(t.name)!.rps.push(rps);
      results.get(t.name)!.cpuUs.push((cpuSec * 1e6) / requests);
      console.error(`round ${r + 1} ${t.name}: ${Math.round(rps)} req/s`);
    }
  }
  const base = results.get('no policy')!;
  console.log(`| target | req/s (median) | vs no policy (median of in-round ratios) | CPU µs per request |`);
  console.log(`|---|---:|---:|---:|`);
  for (const t of targets) {
    const x = results.get(t.name)!;
    const ratios = x.rps.map((v, i) => v / base.rps[i]!);
    console.log(`| ${t.name} | ${Math.round(median(x.rps)).toLocaleString('en-US')} | ${median(ratios).toFixed(2)} | ${median(x.cpuUs).toFixed(1)} |`);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  },
);
