// Cost of tracing in the proxy: CPU µs per request and RSS of a `weft proxy router` process (static bootstrap: one
// HCM routing to a local backend), with tracing off, on with 0% sampling (context propagation only) and on with 100%
// sampling (a span per request exported as OTLP/HTTP protobuf to a local sink), and the same exported over TLS (the
// sink cluster's transport socket: a test CA, as a DestinationRule SIMPLE gives it). Rounds are interleaved and the
// medians reported; CPU comes from /proc/<pid>/stat, so load from other processes moves it little.
//   node bench/tracing/overhead.ts [requests-per-round=20000] [rounds=3] [variants=off,on-0%,on-100%,on-100%-tls]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCa, makeLeaf } from '../../test/gateway-tls/certs.ts';

const N = Number(process.argv[2] ?? 20_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const CONCURRENCY = 8;
const weftBin = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'weft-bench-tracing-'));

async function listen(handler: http.RequestListener): Promise<number> {
  const s = http.createServer({ keepAliveTimeout: 60_000 }, handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  s.unref();
  return (s.address() as AddressInfo).port;
}

let spansReceived = 0;
const backend = await listen((req, res) => {
  req.resume();
  res.end('ok');
});
const sink = await listen((req, res) => {
  let n = 0;
  req.on('data', (d: Buffer) => (n += d.length));
  req.on('end', () => {
    if (n > 0) spansReceived++;
    res.end();
  });
});

// The TLS sink: the same, over HTTPS with a certificate from a test CA.
makeCa(dir);
makeLeaf(dir, 'sink', 'sink');
const tlsSink = https.createServer({ key: readFileSync(join(dir, 'sink.key')), cert: readFileSync(join(dir, 'sink.crt')), keepAliveTimeout: 60_000 }, (req, res) => {
  let n = 0;
  req.on('data', (d: Buffer) => (n += d.length));
  req.on('end', () => {
    if (n > 0) spansReceived++;
    res.end();
  });
});
await new Promise<void>((r) => tlsSink.listen(0, '127.0.0.1', r));
tlsSink.unref();
const tlsSinkPort = (tlsSink.address() as AddressInfo).port;

type Variant = 'off' | 'on-0%' | 'on-100%' | 'on-100%-tls';

function bootstrap(v: Variant, port: number): string {
  const tracing = v === 'off' ? '' : `
          tracing:
            random_sampling: { value: ${v === 'on-0%' ? 0 : 100} }
            custom_tags: [{ tag: istio.canonical_service, literal: { value: bench } }, { tag: istio.namespace, literal: { value: default } }]
            provider:
              name: envoy.tracers.opentelemetry
              typed_config:
                '@type': type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig
                service_name: bench.default
                http_service: { http_uri: { uri: sink/v1/traces, cluster: sink, timeout: 5s } }`;
  const tls = `
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        '@type': type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: sink
        common_tls_context: { validation_context: { trusted_ca: { filename: ${join(dir, 'ca.crt')} } } }`;
  const cluster = (name: string, p: number, withTls = false): string => `
  - name: ${name}
    type: STATIC
    connect_timeout: 1s${withTls ? tls : ''}
    load_assignment: { cluster_name: ${name}, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${p} } } } }] }] }`;
  const file = join(dir, `${v}.yaml`);
  writeFileSync(file, `static_resources:
  listeners:
  - name: bench
    address: { socket_address: { address: 127.0.0.1, port_value: ${port} } }
    traffic_direction: OUTBOUND
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          route_config: { name: bench, virtual_hosts: [{ name: all, domains: ['*'], routes: [{ match: { prefix: / }, route: { cluster: backend, timeout: 0s } }] }] }
          http_filters: [{ name: envoy.filters.http.router, typed_config: { '@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]${tracing}
  clusters:${cluster('backend', backend)}${v === 'on-100%-tls' ? cluster('sink', tlsSinkPort, true) : cluster('sink', sink)}
`);
  return file;
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

function startProxy(file: string): Promise<ChildProcess> {
  const c = spawn(process.execPath, [weftBin, 'proxy', 'router', '--bootstrap', file, '--admin-port', '-1', '--stats-port', '-1', '--readiness-port', '-1', '--status-port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    c.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('weft proxy ready')) resolve(c);
    });
    c.once('exit', (code) => reject(new Error(`proxy exited ${code}`)));
  });
}

/** Resolves once `port` accepts a connection (the listener may bind just after the ready line); bounded. */
async function listening(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`proxy listener on ${port} never accepted a connection`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** utime + stime in ms, and RSS in MiB, of a process. */
function usage(pid: number): { cpuMs: number; rssMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuMs: ticks * 10, rssMiB: Number(rss?.[1] ?? 0) / 1024 };
}

async function load(port: number, n: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      await new Promise<void>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/x', agent, headers: { host: 'bench' } }, (res) => {
          res.resume();
          res.on('end', resolve);
        }).on('error', reject);
      });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  agent.destroy();
}

const variants = (process.argv[4] ?? 'off,on-0%,on-100%,on-100%-tls').split(',') as Variant[];
const results = new Map<Variant, Array<{ usPerReq: number; rssMiB: number }>>(variants.map((v) => [v, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const v of variants) {
    const port = await freePort();
    const proxy = await startProxy(bootstrap(v, port));
    await listening(port);
    await load(port, 2000); // warm-up: JIT, pools, the tracing module's first load
    const before = usage(proxy.pid!);
    await load(port, N);
    await new Promise((r) => setTimeout(r, 1200)); // the exporter's last flush is part of the cost
    const after = usage(proxy.pid!);
    results.get(v)!.push({ usPerReq: ((after.cpuMs - before.cpuMs) * 1000) / N, rssMiB: after.rssMiB });
    proxy.kill('SIGTERM');
    await new Promise((r) => proxy.once('exit', r));
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base = median((results.get('off') ?? results.get(variants[0]!)!).map((r) => r.usPerReq));
console.log(`requests per round ${N}, rounds ${ROUNDS}, concurrency ${CONCURRENCY}; spans batches received ${spansReceived}`);
console.log('variant    CPU µs/request (median)   vs off   RSS MiB (median)   rounds µs/request');
for (const v of variants) {
  const rs = results.get(v)!;
  const us = median(rs.map((r) => r.usPerReq));
  console.log(`${v.padEnd(10)} ${us.toFixed(1).padStart(10)}               ${(us / base).toFixed(2)}×   ${median(rs.map((r) => r.rssMiB)).toFixed(1).padStart(8)}           ${rs.map((r) => r.usPerReq.toFixed(1)).join(', ')}`);
}
