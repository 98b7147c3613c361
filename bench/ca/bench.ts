// CSR signing throughput and latency over the real gRPC API (TLS, bootstrap-token auth), 50 concurrent callers.
// The CA runs in a child process; the callers run here, each on its own connection. Prints one JSON line per run
// and, with --write, the median of the runs into bench/ca/RESULTS.md.
//   node_modules/.bin/node bench/ca/bench.ts [--callers 50] [--seconds 5] [--runs 3] [--key-type ecdsa-p256] [--write]
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { cpus, loadavg } from 'node:os';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { createKeyAndCsr } from '../../src/agent/identity/csr.ts';
import { newCertificateClient } from '../../src/ca/proto/service.ts';
import { mintBootstrapToken } from '../../src/ca/server/auth/token.ts';
import { requireTokenKeys } from '../../src/ca/server/store.ts';
import { tempDir } from '../../src/ca/testing/harness.ts';
import { H2Caller, decodeResponse, frameRequest } from './h2-caller.ts';

const { values } = parseArgs({
  options: {
    callers: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    'key-type': { type: 'string', default: 'ecdsa-p256' },
    write: { type: 'boolean', default: false },
    client: { type: 'string', default: 'h2' },
  },
});
const callers = Number(values.callers);
const seconds = Number(values.seconds);
const runs = Number(values.runs);
const keyType = values['key-type'] === 'rsa-2048' ? 'rsa-2048' : 'ecdsa-p256';
/** `h2`: lean node:http2 gRPC callers (default); `grpc-js`: @grpc/grpc-js clients (costlier per call). */
const clientKind = values.client === 'grpc-js' ? 'grpc-js' : 'h2';

interface RunResult {
  signings: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  /** CPU time of the CA process per signing, µs (user + system, all threads). */
  caCpuMicrosPerSigning: number;
  /** CPU time of the calling process per signing, µs. */
  clientCpuMicrosPerSigning: number;
  /** 1-minute load average at the end of the run. */
  load: number;
}

function ask<T>(child: ChildProcess, msg: string): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as T));
    child.send(msg);
  });
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function oneRun(mode: 'ca' | 'echo'): Promise<RunResult> {
  const tmp = tempDir('weft-ca-bench-');
  const child = fork(new URL('./ca-server.ts', import.meta.url).pathname, [tmp.dir, keyType, mode], {
    execArgv: process.env['CA_BENCH_PROF'] ? ['--cpu-prof', '--cpu-prof-dir=/tmp/ca-prof'] : [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const [{ port, roots }] = (await once(child, 'message')) as [{ port: number; roots: string }];
    const keys = requireTokenKeys(tmp.dir);
    const workers = await Promise.all(
      Array.from({ length: callers }, async (_, i) => {
        const sa = `bench-${i}`;
        const csr = (await createKeyAndCsr('ecdsa-p256', `spiffe://cluster.local/ns/bench/sa/${sa}`)).csrPem;
        const token = await mintBootstrapToken({ keys, identity: { namespace: 'bench', serviceAccount: sa }, ttlSeconds: 3600 });
        if (clientKind === 'h2') {
          const caller = new H2Caller(port, roots, token, frameRequest(csr, 0));
          return { call: () => caller.call(), close: () => caller.close() };
        }
        const client = newCertificateClient(`127.0.0.1:${port}`, grpc.credentials.createSsl(Buffer.from(roots)), { 'grpc.use_local_subchannel_pool': 1, 'grpc.enable_channelz': 0 });
        const md = new grpc.Metadata();
        md.set('authorization', `Bearer ${token}`);
        const call = (): Promise<void> =>
          new Promise((resolve, reject) => client.CreateCertificate({ csr, validity_duration: 0 }, md, { deadline: Date.now() + 10_000 }, (e) => (e ? reject(e) : resolve())));
        return { call, close: () => client.close() };
      }),
    );
    const call = (w: (typeof workers)[number]): Promise<unknown> => w.call();
    // Warm up: connect every caller and sign a few; check that real certificates come back.
    await Promise.all(workers.map(async (w) => { for (let i = 0; i < 5; i++) await call(w); }));
    if (clientKind === 'h2') {
      const chain = decodeResponse((await workers[0]!.call()) as Buffer);
      if (mode === 'ca' && (chain.length !== 2 || !chain[0]!.includes('BEGIN CERTIFICATE'))) throw new Error('the CA did not return a certificate chain');
    }
    const latencies: number[] = [];
    let errors = 0;
    const caCpu0 = await ask<{ cpuMicros: number }>(child, 'cpu');
    const clientCpu0 = process.cpuUsage();
    const start = performance.now();
    const end = start + seconds * 1000;
    await Promise.all(
      workers.map(async (w) => {
        // Bounded in time (end) and in count (1e6 per caller).
        for (let i = 0; i < 1e6 && performance.now() < end; i++) {
          const t0 = performance.now();
          try {
            await call(w);
            latencies.push(performance.now() - t0);
          } catch {
            errors++;
          }
        }
      }),
    );
    const elapsed = (performance.now() - start) / 1000;
    const clientCpu = process.cpuUsage(clientCpu0);
    const caCpu1 = await ask<{ cpuMicros: number }>(child, 'cpu');
    for (const w of workers) w.close();
    latencies.sort((a, b) => a - b);
    const n = latencies.length;
    return {
      signings: n,
      perSecond: n / elapsed,
      p50ms: pct(latencies, 50),
      p99ms: pct(latencies, 99),
      errors,
      caCpuMicrosPerSigning: (caCpu1.cpuMicros - caCpu0.cpuMicros) / n,
      clientCpuMicrosPerSigning: (clientCpu.user + clientCpu.system) / n,
      load: loadavg()[0]!,
    };
  } finally {
    const exited = once(child, 'exit');
    child.send('stop');
    await exited;
    tmp.remove();
  }
}

const results: RunResult[] = [];
const floor: RunResult[] = [];
for (let r = 0; r < runs; r++) {
  const res = await oneRun('ca');
  results.push(res);
  const echo = await oneRun('echo');
  floor.push(echo);
  process.stdout.write(
    JSON.stringify({ run: r + 1, mode: 'echo', perSecond: Math.round(echo.perSecond), p99ms: +echo.p99ms.toFixed(2), serverCpuMicrosPerCall: Math.round(echo.caCpuMicrosPerSigning) }) + '\n',
  );
  process.stdout.write(
    JSON.stringify({ run: r + 1, mode: 'ca', keyType, callers, seconds, ...res, perSecond: Math.round(res.perSecond), p50ms: +res.p50ms.toFixed(2), p99ms: +res.p99ms.toFixed(2), caCpuMicrosPerSigning: Math.round(res.caCpuMicrosPerSigning), clientCpuMicrosPerSigning: Math.round(res.clientCpuMicrosPerSigning) }) + '\n',
  );
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = {
  perSecond: median(results.map((r) => r.perSecond)),
  p50ms: median(results.map((r) => r.p50ms)),
  p99ms: median(results.map((r) => r.p99ms)),
  caCpuMicrosPerSigning: median(results.map((r) => r.caCpuMicrosPerSigning)),
  clientCpuMicrosPerSigning: median(results.map((r) => r.clientCpuMicrosPerSigning)),
  floorPerSecond: median(floor.map((r) => r.perSecond)),
  floorCpuMicros: median(floor.map((r) => r.caCpuMicrosPerSigning)),
  floorP99ms: median(floor.map((r) => r.p99ms)),
};
process.stdout.write(JSON.stringify({ median: true, keyType, ...summary }) + '\n');

if (values.write) {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const md = `# CA benchmark: CSR signings over the real gRPC API

Command: \`node_modules/.bin/node bench/ca/bench.ts --callers ${callers} --seconds ${seconds} --runs ${runs} --key-type ${keyType} --client ${clientKind} --write\`

Machine: ${cpus().length} × ${cpu}, Node ${process.versions.node}, ${new Date().toISOString().slice(0, 10)}.

Setup: the CA (\`startCaForControlPlane\`, self-signed ${keyType} root) runs in its own process behind a grpc-js server with the
15012 TLS credentials. ${callers} callers (${clientKind === 'h2' ? 'lean node:http2 gRPC callers, bench/ca/h2-caller.ts' : '@grpc/grpc-js clients'}), each on its own TLS connection, send \`CreateCertificate\` back to back for ${seconds} s
after a warm-up, authenticated by bootstrap tokens; each request carries an ECDSA P-256 CSR that the CA parses,
checks (proof of possession, SAN = proven identity) and signs into a fresh 24 h certificate. Callers and CA share the machine.

| run | signings/s | p50 latency | p99 latency | CA CPU per signing | caller CPU per signing | load (1 min) | errors |
|---|---|---|---|---|---|---|---|
${results.map((r, i) => `| ${i + 1} | ${Math.round(r.perSecond)} | ${r.p50ms.toFixed(2)} ms | ${r.p99ms.toFixed(2)} ms | ${Math.round(r.caCpuMicrosPerSigning)} µs | ${Math.round(r.clientCpuMicrosPerSigning)} µs | ${r.load.toFixed(1)} | ${r.errors} |`).join('\n')}
| **median** | **${Math.round(summary.perSecond)}** | **${summary.p50ms.toFixed(2)} ms** | **${summary.p99ms.toFixed(2)} ms** | **${Math.round(summary.caCpuMicrosPerSigning)} µs** | **${Math.round(summary.clientCpuMicrosPerSigning)} µs** | | |

Side by side, same harness, same TLS credentials, a handler that answers a fixed chain without authenticating or signing
(the floor grpc-js and TLS cost on this machine): median ${Math.round(summary.floorPerSecond)} calls/s, p99 ${summary.floorP99ms.toFixed(2)} ms,
${Math.round(summary.floorCpuMicros)} µs server CPU per call. The CA reaches ${(summary.perSecond / summary.floorPerSecond).toFixed(2)} × the floor's
throughput; authentication, CSR checks and signing add ${Math.round(summary.caCpuMicrosPerSigning - summary.floorCpuMicros)} µs of CPU per call.

CA capacity implied by its CPU cost: ${Math.round(1e6 / summary.caCpuMicrosPerSigning)} signings/s per fully available core
(the CA process's user + system CPU time, all threads, divided by the signings it made).

Goal: ≥ 2,000 signings/s with ECDSA — ${summary.perSecond >= 2000 ? 'met' : 'not met'} on this run (${(summary.perSecond / 2000).toFixed(2)} × the goal).

How to read this: callers and CA share the machine's ${cpus().length} cores with everything else running on it; the load column is
the 1-minute load average at the end of each run (above ${cpus().length} means other processes were competing for the CPU).
Throughput then depends on the share of CPU the benchmark gets, so compare the CA with the floor measured in the same
run, and use the CPU cost per signing for capacity planning: CA and callers together need
${Math.round(summary.caCpuMicrosPerSigning + summary.clientCpuMicrosPerSigning)} µs of CPU per signing, which on ${cpus().length} otherwise idle cores
is ${Math.round((cpus().length * 1e6) / (summary.caCpuMicrosPerSigning + summary.clientCpuMicrosPerSigning))} signings/s.
Where the CA's time goes (V8 CPU profile of the CA process): ECDSA verification of the CSR (proof of possession) and
parsing its public key, then the ECDSA signature — native OpenSSL work — then grpc-js and HTTP/2; the DER encoding and
checks in \`src/ca/pki\` are a few percent.
`;
  writeFileSync(new URL('./RESULTS.md', import.meta.url), md);
}
