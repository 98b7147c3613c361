// Soak: N minutes of mixed traffic through real sidecars over mutual TLS, sampling each proxy's RSS, V8 heap, open
// descriptors and event-loop delay every 5 s, then the memory slope (MB per 10 minutes) over the whole run and over
// its second half (does it flatten?). Setup as users run it: `weft up` on a config directory, two workloads started by
// `weft run` (an HTTP/1.1 app and a gRPC app, each with its sidecar), and a client sidecar (`weft proxy sidecar`) that
// the traffic goes through as an app's HTTP proxy / h2c sidecar:
//
//   client ─► client sidecar (explicit) ─► ISTIO_MUTUAL ─► web sidecar (inbound) ─► http-app
//                                       └► ISTIO_MUTUAL ─► grpc sidecar (inbound) ─► grpc-app
//
// Traffic (paced to --rate requests/s in total): HTTP/1.1 keep-alive and new connections, h2c with concurrent streams,
// gRPC unary, server-streaming and bidi, aborted downloads, 503s from the app and route timeouts (504 UT), and a
// VirtualService rewritten every --push-every seconds (routes change through the control plane).
//
//   node_modules/.bin/node bench/proxy/soak.ts [--minutes 5] [--rate 150] [--push-every 3] [--out bench/proxy/SOAK.md]
import * as http from 'node:http';
import * as http2 from 'node:http2';
import { cpus, loadavg } from 'node:os';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Mesh, appsDir, freePort, service, startSidecar, startWorkload, stopAll, until } from '../../test/e2e/harness.ts';
import { loadStreams, type Msg } from '../../test/e2e/apps/grpc-proto.ts';

// ---------------------------------------------------------------------------------------------------------------
// Flags.

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} expects a positive number`);
  return v;
}
const MINUTES = flag('minutes', 5);
const RATE = flag('rate', 150);
const PUSH_EVERY_S = flag('push-every', 3);
const SAMPLE_EVERY_MS = 5000;
/** RSS growth over the second half of the run below which a proxy counts as flat. */
const FLAT_MB_PER_10_MIN = 5;
const outArg = process.argv.indexOf('--out');
const OUT = outArg >= 0 ? process.argv[outArg + 1]! : join(import.meta.dirname, 'SOAK.md');

// ---------------------------------------------------------------------------------------------------------------
// Probes.

/** The pid whose descriptors hold the TCP socket listening on 127.0.0.1:`port`. */
function pidOfPort(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const line = readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .find((l) => {
      const f = l.trim().split(/\s+/);
      return f[1]?.endsWith(`:${hex}`) && f[3] === '0A';
    });
  if (!line) throw new Error(`nothing listens on port ${port}`);
  const inode = line.trim().split(/\s+/)[9];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      for (const fd of readdirSync(`/proc/${pid}/fd`)) if (readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) return Number(pid);
    } catch {
      // not ours, or gone
    }
  }
  throw new Error(`no process holds the socket of port ${port}`);
}

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    });
    r.setTimeout(10_000, () => r.destroy(new Error(`admin ${path} timed out`)));
    r.on('error', reject);
  });
}

interface Sample {
  t: number;
  rssMb: number;
  heapMb: number;
  fds: number;
  /** Round trip of the admin /ready endpoint (same event loop as the data path): event-loop delay + ~0.3 ms. */
  loopMs: number;
}

async function sample(pid: number, admin: number, t: number): Promise<Sample> {
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const rtts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await get(admin, '/ready');
    rtts.push(performance.now() - t0);
  }
  const stats = await get(admin, '/stats');
  const heap = Number(/^server\.memory_allocated: (\d+)$/m.exec(stats)?.[1] ?? NaN) / 1048576;
  return { t, rssMb: rss, heapMb: heap, fds, loopMs: Math.min(...rtts) };
}

/** Least-squares slope of y over t (seconds), in units per 10 minutes. */
function slopePer10Min(points: ReadonlyArray<{ t: number; y: number }>): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.y - my);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? NaN : (num / den) * 600;
}

// ---------------------------------------------------------------------------------------------------------------
// Traffic.

const counts = new Map<string, number>();
const count = (what: string): void => void counts.set(what, (counts.get(what) ?? 0) + 1);

let nextSlot = performance.now();
/** Global pacing: all workers together start at most RATE operations per second. */
async function paced(): Promise<void> {
  nextSlot = Math.max(nextSlot + 1000 / RATE, performance.now() - 1000);
  const wait = nextSlot - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

function h1(outbound: number, path: string, agent: http.Agent | false, abortAfterFirstChunk = false): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: outbound, path: `http://web:9080${path}`, headers: { host: 'web:9080' }, agent }, (res) => {
      if (abortAfterFirstChunk) {
        res.once('data', () => {
          req.destroy();
          resolve(-1);
        });
        return;
      }
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(-2));
    });
    req.setTimeout(10_000, () => req.destroy());
    req.on('error', () => resolve(abortAfterFirstChunk ? -1 : -2));
  });
}

async function worker(deadline: number, body: () => Promise<void>): Promise<void> {
  while (performance.now() < deadline) {
    await paced();
    try {
      await body();
    } catch {
      count('client error');
    }
  }
}

function h2Get(session: http2.ClientHttp2Session, path: string): Promise<number> {
  return new Promise((resolve) => {
    const st = session.request({ ':authority': 'web:9080', ':path': path });
    let status = -2;
    st.on('response', (h) => (status = Number(h[':status'])));
    st.on('error', () => undefined);
    st.resume();
    st.on('close', () => resolve(status));
    st.setTimeout(10_000, () => st.close(http2.constants.NGHTTP2_CANCEL));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The run.

function virtualService(gen: number): string {
  const prefix = ['/hello', '/headers', '/status'][gen % 3]!;
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: default }
spec:
  hosts: [web]
  http:
  - match: [{ uri: { prefix: /slow } }]
    timeout: 1s
    route: [{ destination: { host: web } }]
  - match: [{ uri: { prefix: ${prefix} } }]
    headers: { response: { set: { x-soak-gen: "${gen}" } } }
    route: [{ destination: { host: web } }]
  - route: [{ destination: { host: web } }]
`;
}

async function main(): Promise<void> {
  const mesh = new Mesh();
  process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    mesh.write('services.yaml', `${service('web', 9080, 'http')}---\n${service('grpc-echo', 9090, 'grpc')}`);
    mesh.write('vs.yaml', virtualService(0));
    await mesh.start();
    const [webPort, grpcPort] = [await freePort(), await freePort()];
    const [web, grpcWl, client] = await Promise.all([
      startWorkload(mesh, 'web-v1', 'app=web,version=v1', 'http', webPort, [process.execPath, join(appsDir, 'http-app.ts'), String(webPort), 'web-v1']),
      startWorkload(mesh, 'grpc-echo-v1', 'app=grpc-echo,version=v1', 'grpc', grpcPort, [process.execPath, join(appsDir, 'grpc-app.ts'), String(grpcPort), 'grpc-echo-v1']),
      startSidecar(mesh, 'client'),
    ]);
    await until('the client sidecar to know both workloads', async () => {
      const c = await client.admin_('/clusters');
      return c.includes(`outbound|9080||web.default.svc.cluster.local::${web.address}:`) && c.includes(`outbound|9090||grpc-echo.default.svc.cluster.local::${grpcWl.address}:`) ? true : undefined;
    });
    const proxies = [
      { name: 'client sidecar (weft proxy sidecar)', admin: client.admin },
      { name: 'web sidecar (weft run)', admin: web.admin },
      { name: 'grpc sidecar (weft run)', admin: grpcWl.admin },
    ].map((p) => ({ ...p, pid: pidOfPort(p.admin), samples: [] as Sample[] }));

    const started = performance.now();
    const deadline = started + MINUTES * 60_000;
    const out = client.outbound;
    process.stderr.write(`soak: ${MINUTES} min at ~${RATE} ops/s, config push every ${PUSH_EVERY_S} s; proxies ${proxies.map((p) => `${p.name} pid ${p.pid}`).join(', ')}\n`);

    // Sampler and config pusher.
    const sampler = (async () => {
      while (performance.now() < deadline + 1) {
        const t = (performance.now() - started) / 1000;
        for (const p of proxies) p.samples.push(await sample(p.pid, p.admin, t));
        const last = proxies.map((p) => p.samples.at(-1)!);
        process.stderr.write(`t=${t.toFixed(0)}s ${last.map((s) => `rss ${s.rssMb.toFixed(1)} heap ${s.heapMb.toFixed(1)} fds ${s.fds} loop ${s.loopMs.toFixed(1)}ms`).join(' | ')}\n`);
        const wait = started + (proxies[0]!.samples.length * SAMPLE_EVERY_MS) - performance.now();
        if (performance.now() + wait > deadline + 1) break;
        await new Promise((r) => setTimeout(r, Math.max(0, wait)));
      }
    })();
    let gen = 0;
    const pusher = (async () => {
      while (performance.now() + PUSH_EVERY_S * 1000 < deadline) {
        await new Promise((r) => setTimeout(r, PUSH_EVERY_S * 1000));
        mesh.write('vs.yaml', virtualService(++gen));
        count('config pushes');
      }
    })();

    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const { Client } = loadStreams();
    const rpc = new Client(`127.0.0.1:${out}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'grpc-echo:9090' }) as grpc.Client & Record<string, (...a: unknown[]) => unknown>;
    const deadlineOf = (): Date => new Date(Date.now() + 10_000);
    let h2session = http2.connect(`http://127.0.0.1:${out}`);
    h2session.on('error', () => undefined);
    let h2uses = 0;
    const tally = (kind: string, status: number): void => count(`${kind} → ${status === -1 ? 'aborted' : status === -2 ? 'failed' : status}`);

    const workers = [
      // HTTP/1.1 keep-alive (x3) and new connections.
      ...[0, 1, 2].map(() => worker(deadline, async () => tally('h1 keep-alive', await h1(out, '/hello', keepAlive)))),
      worker(deadline, async () => tally('h1 new-conn', await h1(out, '/headers', false))),
      // h2c: 8 concurrent streams per op on one session, a new session every 100 ops.
      worker(deadline, async () => {
        if (++h2uses % 100 === 0) {
          h2session.close();
          h2session = http2.connect(`http://127.0.0.1:${out}`);
          h2session.on('error', () => undefined);
        }
        for (const s of await Promise.all(Array.from({ length: 8 }, () => h2Get(h2session, '/hello')))) tally('h2 stream', s);
      }),
      // gRPC unary, server streaming (20 messages) and bidi (10 round trips).
      worker(deadline, async () => {
        await new Promise<void>((resolve) =>
          rpc['Unary']!({ text: 'hi', n: 1 }, { deadline: deadlineOf() }, (err: grpc.ServiceError | null) => {
            count(`grpc unary ${err ? grpc.status[err.code] : 'OK'}`);
            resolve();
          }),
        );
      }),
      worker(deadline, async () => {
        const call = rpc['ServerStream']!({ text: 's', n: 20 }, { deadline: deadlineOf() }) as grpc.ClientReadableStream<Msg>;
        let n = 0;
        await new Promise<void>((resolve) => {
          call.on('data', () => n++);
          call.on('error', (e: grpc.ServiceError) => (count(`grpc server-stream ${grpc.status[e.code]}`), resolve()));
          call.on('end', () => (count(`grpc server-stream ${n === 20 ? 'OK' : 'SHORT'}`), resolve()));
        });
      }),
      worker(deadline, async () => {
        const call = rpc['Bidi']!({ deadline: deadlineOf() }) as grpc.ClientDuplexStream<Msg, Msg>;
        let n = 0;
        await new Promise<void>((resolve) => {
          call.on('data', () => {
            if (++n < 10) call.write({ text: 'b', n });
            else call.end();
          });
          call.on('error', (e: grpc.ServiceError) => (count(`grpc bidi ${grpc.status[e.code]}`), resolve()));
          call.on('end', () => (count(`grpc bidi ${n === 10 ? 'OK' : 'SHORT'}`), resolve()));
          call.write({ text: 'b', n: 0 });
        });
      }),
      // Failures: aborted downloads, 503 from the app, a slow app cut by the route timeout (504 UT).
      worker(deadline, async () => {
        const r = Math.floor(Math.random() * 3);
        if (r === 0) tally('h1 abort mid-download', await h1(out, '/download?bytes=1048576', false, true));
        else if (r === 1) tally('h1 app 503', await h1(out, '/status/503', keepAlive));
        else tally('h1 route timeout (app answers after 3 s, route timeout 1 s)', await h1(out, '/slow?ms=3000', false));
      }),
    ];
    await Promise.all([...workers, pusher]);
    await sampler;
    keepAlive.destroy();
    rpc.close();
    h2session.close();
    report(proxies, performance.now() - started, gen);
  } finally {
    await stopAll();
    await mesh.close();
  }
}

interface Proxy {
  name: string;
  pid: number;
  samples: Sample[];
}

function report(proxies: Proxy[], ms: number, pushes: number): void {
  const mb = (v: number): string => v.toFixed(1);
  const lines: string[] = [];
  lines.push('# Proxy soak', '');
  lines.push(`Command: \`node_modules/.bin/node bench/proxy/soak.ts --minutes ${MINUTES} --rate ${RATE} --push-every ${PUSH_EVERY_S}\``, '');
  lines.push(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')} (shared with other work); Node ${process.version}; run ended ${new Date().toISOString()}.`, '');
  lines.push(`Duration ${(ms / 60_000).toFixed(1)} min, ${pushes} VirtualService changes pushed through \`weft up\`, samples every ${SAMPLE_EVERY_MS / 1000} s.`, '');
  lines.push('## Memory, descriptors, event loop', '');
  lines.push('| proxy | RSS start → end (min–max) MB | RSS slope, whole run / 2nd half (MB per 10 min) | heap used start → end MB | heap slope, whole / 2nd half | fds start → end (max) | admin RTT p50 / max ms |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const p of proxies) {
    const s = p.samples;
    // The first minute is warm-up (JIT, pools, first connections): slopes are fitted after it.
    const warm = s.filter((x) => x.t >= Math.min(60, s.at(-1)!.t / 4));
    const half = s.filter((x) => x.t >= s.at(-1)!.t / 2);
    const rss = (l: Sample[]): { t: number; y: number }[] => l.map((x) => ({ t: x.t, y: x.rssMb }));
    const heap = (l: Sample[]): { t: number; y: number }[] => l.map((x) => ({ t: x.t, y: x.heapMb }));
    const loops = s.map((x) => x.loopMs).sort((a, b) => a - b);
    lines.push(
      `| ${p.name} | ${mb(s[0]!.rssMb)} → ${mb(s.at(-1)!.rssMb)} (${mb(Math.min(...s.map((x) => x.rssMb)))}–${mb(Math.max(...s.map((x) => x.rssMb)))}) | ${mb(slopePer10Min(rss(warm)))} / ${mb(slopePer10Min(rss(half)))} | ${mb(s[0]!.heapMb)} → ${mb(s.at(-1)!.heapMb)} | ${mb(slopePer10Min(heap(warm)))} / ${mb(slopePer10Min(heap(half)))} | ${s[0]!.fds} → ${s.at(-1)!.fds} (${Math.max(...s.map((x) => x.fds))}) | ${loops[Math.floor(loops.length / 2)]!.toFixed(1)} / ${loops.at(-1)!.toFixed(1)} |`,
    );
  }
  lines.push('');
  for (const p of proxies) {
    const half = p.samples.filter((x) => x.t >= p.samples.at(-1)!.t / 2);
    const slope = slopePer10Min(half.map((x) => ({ t: x.t, y: x.rssMb })));
    lines.push(`- ${p.name}: ${slope <= FLAT_MB_PER_10_MIN ? 'flat' : 'still growing'} — RSS ${mb(slope)} MB per 10 min over the second half (flat means ≤ ${FLAT_MB_PER_10_MIN}).`);
  }
  lines.push('', '## Traffic', '', '| operation → outcome | count |', '|---|---|');
  for (const [k, v] of [...counts.entries()].sort()) lines.push(`| ${k} | ${v} |`);
  lines.push('', '## Samples (every 30 s)', '', `| t (s) | ${proxies.map((p) => `${p.name}: RSS / heap MB, fds, RTT ms`).join(' | ')} |`, `|---|${proxies.map(() => '---').join('|')}|`);
  const n = proxies[0]!.samples.length;
  for (let i = 0; i < n; i += 6) {
    lines.push(`| ${proxies[0]!.samples[i]!.t.toFixed(0)} | ${proxies.map((p) => { const x = p.samples[i]!; return `${mb(x.rssMb)} / ${mb(x.heapMb)}, ${x.fds}, ${x.loopMs.toFixed(1)}`; }).join(' | ')} |`);
  }
  const text = lines.join('\n') + '\n';
  writeFileSync(OUT, text);
  process.stdout.write(text);
}

await main();
