// Interleaved A/B of the full sidecar path (bench/proxy/mesh.ts: wrk → sidecar A → mTLS → sidecar B → nginx, Istio
// metrics on both) for several Weft trees or V8 flag sets. Every target gets its own mesh (control plane, `weft run`
// nginx with sidecar B, client sidecar A) on its own ports; the rounds alternate the targets (order rotated every
// round), each measuring maximum throughput (wrk -c32) and the paced rate (wrk -c10 pausing 0–20 ms: ~1,000 req/s).
// Per target and round: req/s, CPU µs per request of each sidecar (user + system from /proc/<pid>/stat), vCPU per
// 1,000 req/s paced (A + B), and context switches per request (all threads). Sidecars on core 1, the rest on core 0.
// Needs Debian packages nginx and wrk.
//   node_modules/.bin/node bench/proxy/mesh-ab.ts --target base=/tmp/fp-base --target new=. \
//       [--target 'flags=.|--single-threaded-gc'] [--rounds 5] [--duration 6] [--paced-only] [--max-only] [--refs]
// A target is NAME=TREE or NAME=TREE|NODE_OPTIONS (space-separated flags for every Weft process of that mesh).
// --refs adds, in the same rounds, the HAProxy pair with TLS between them (bench.ts's peer), two Node TCP pipes in a
// row (bench/proxy/tcp-pipe.ts) and two Node pipes with mutual TLS between them (bench/proxy/tls-pipe.ts): the floor
// of any design with two Node processes per request (needs haproxy too).
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanup, median, wrk } from './lib.ts';
import { startHaproxyPair, startNodePipePairs, startWeftMesh, type MeshTarget } from './mesh.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = join(root, 'bench/out/mesh-ab');
mkdirSync(out, { recursive: true });
const argv = process.argv.slice(2);
const num = (name: string, def: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const ROUNDS = num('rounds', 5);
const DURATION = num('duration', 6);
const BASE_PORT = num('port', 29190);
const MAX = !argv.includes('--paced-only');
const PACED = !argv.includes('--max-only');
const REFS = argv.includes('--refs');
const node = join(root, 'node_modules/.bin/node');

interface Spec {
  name: string;
  tree: string;
  nodeOptions: string;
}
const specs: Spec[] = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] !== '--target') continue;
  const v = argv[i + 1]!;
  const eq = v.indexOf('=');
  const [tree, flags] = v.slice(eq + 1).split('|');
  specs.push({ name: v.slice(0, eq), tree: resolve(tree!), nodeOptions: flags ?? '' });
}
if (specs.length === 0) specs.push({ name: 'current', tree: root, nodeOptions: '' });

const ticksPerSec = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
interface Cpu {
  user: number;
  sys: number;
  ctx: number;
}
/** utime, stime (seconds) and context switches (voluntary + involuntary, all threads) of one process. */
function usage(pid: number): Cpu {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  let ctx = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const st = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
    ctx += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(st)![1]) + Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(st)![1]);
  }
  return { user: Number(f[11]) / ticksPerSec, sys: Number(f[12]) / ticksPerSec, ctx };
}

interface Sample {
  rps: number;
  /** µs per request, sidecar A and B, user and system. */
  aUser: number;
  aSys: number;
  bUser: number;
  bSys: number;
  ctxPerReq: number;
}

function run(m: MeshTarget, lua: string, connections: number): Sample & { seconds: number } {
  const [a, b] = m.pids as [number, number];
  const ua0 = usage(a);
  const ub0 = usage(b);
  const r = wrk(m.url, connections, DURATION, lua);
  const ua = usage(a);
  const ub = usage(b);
  const per = (x: number): number => (x / r.requests) * 1e6;
  if (r.errors) process.stderr.write(`  ${r.errors} errors\n`);
  return {
    rps: r.rps,
    seconds: r.seconds,
    aUser: per(ua.user - ua0.user),
    aSys: per(ua.sys - ua0.sys),
    bUser: per(ub.user - ub0.user),
    bSys: per(ub.sys - ub0.sys),
    ctxPerReq: (ua.ctx - ua0.ctx + ub.ctx - ub0.ctx) / r.requests,
  };
}

const total = (s: Sample): number => s.aUser + s.aSys + s.bUser + s.bSys;

async function main(): Promise<void> {
  const meshes: Array<{ spec: Spec; m: MeshTarget; lua: string; paced: string }> = [];
  let firstMesh: { state: string; caAddress: string } | undefined;
  for (const [i, spec] of specs.entries()) {
    const env = { ...process.env, NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} ${spec.nodeOptions}`.trim() };
    const { weft, state, caAddress } = await startWeftMesh({
      root,
      node,
      weft: join(spec.tree, 'bin/weft.js'),
      dir: join(out, spec.name),
      appPort: BASE_PORT + 2 * i,
      outboundPort: BASE_PORT + 2 * i + 1,
      env,
    });
    const lua = join(out, `${spec.name}.lua`);
    writeFileSync(lua, weft.lua);
    const paced = join(out, `${spec.name}-paced.lua`);
    writeFileSync(paced, weft.lua + 'function delay()\n  return math.random(0, 20)\nend\n');
    meshes.push({ spec, m: weft, lua, paced });
    firstMesh ??= { state, caAddress };
    process.stderr.write(`${spec.name}: mesh up (sidecar A ${weft.pids[0]}, B ${weft.pids[1]})\n`);
  }
  if (REFS) {
    const first = firstMesh!;
    const refPort = BASE_PORT + 2 * specs.length;
    const setup = { root, node, weft: join(specs[0]!.tree, 'bin/weft.js'), dir: join(out, specs[0]!.name), appPort: BASE_PORT, outboundPort: BASE_PORT + 1 };
    const ha = await startHaproxyPair(setup, first, { a: refPort, b: refPort + 1 });
    const pipes = await startNodePipePairs(setup, first, { tcpA: refPort + 2, tcpB: refPort + 3, tlsA: refPort + 4, tlsB: refPort + 5 });
    const ref = (name: string, m: MeshTarget): void => {
      const lua = join(out, `${name}.lua`);
      writeFileSync(lua, '');
      const paced = join(out, `${name}-paced.lua`);
      writeFileSync(paced, 'function delay()\n  return math.random(0, 20)\nend\n');
      meshes.push({ spec: { name, tree: '', nodeOptions: '' }, m, lua, paced });
    };
    ref('haproxy-pair', ha);
    ref('node-pipe-pair', pipes.tcp);
    ref('node-tls-pipe-pair', pipes.tls);
    for (const r of ['haproxy-pair', 'node-pipe-pair', 'node-tls-pipe-pair']) specs.push({ name: r, tree: '', nodeOptions: '' });
  }
  for (const x of meshes) {
    wrk(x.m.url, 32, 3, x.lua); // warm-up: JIT, pools, TLS sessions
    await x.m.verify();
  }
  const maxS = new Map<string, Sample[]>(specs.map((s) => [s.name, []]));
  const pacedS = new Map<string, Array<Sample & { vcpu: number }>>(specs.map((s) => [s.name, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    const order = meshes.map((_, i) => meshes[(i + round - 1) % meshes.length]!);
    for (const x of order) {
      const parts: string[] = [];
      if (MAX) {
        const s = run(x.m, x.lua, 32);
        maxS.get(x.spec.name)!.push(s);
        parts.push(`max ${Math.round(s.rps)} req/s ${total(s).toFixed(1)} µs/req (A ${(s.aUser + s.aSys).toFixed(1)}, B ${(s.bUser + s.bSys).toFixed(1)}), ${s.ctxPerReq.toFixed(2)} cs/req`);
      }
      if (PACED) {
        const s = run(x.m, x.paced, 10);
        const vcpu = total(s) / 1000; // CPU s per wall s ÷ (req/s ÷ 1000) = µs per request ÷ 1000
        pacedS.get(x.spec.name)!.push({ ...s, vcpu });
        parts.push(
          `paced ${Math.round(s.rps)} req/s ${vcpu.toFixed(3)} vCPU/1k (A ${(s.aUser + s.aSys).toFixed(1)} [u ${s.aUser.toFixed(1)} s ${s.aSys.toFixed(1)}], ` +
            `B ${(s.bUser + s.bSys).toFixed(1)} [u ${s.bUser.toFixed(1)} s ${s.bSys.toFixed(1)}] µs/req), ${s.ctxPerReq.toFixed(2)} cs/req`,
        );
      }
      process.stderr.write(`round ${round} ${x.spec.name}: ${parts.join('; ')}\n`);
    }
  }
  const lines = ['| target | max req/s | max µs/req (A + B) | paced req/s | paced vCPU per 1k req/s (A + B) | paced cs/req |', '|---|---:|---:|---:|---:|---:|'];
  for (const s of specs) {
    const mx = maxS.get(s.name)!;
    const pc = pacedS.get(s.name)!;
    const f = (xs: number[], d: number): string => (xs.length ? median(xs).toFixed(d) : '–');
    lines.push(
      `| ${s.name} | ${f(mx.map((x) => x.rps), 0)} | ${f(mx.map(total), 1)} (${f(mx.map((x) => x.aUser + x.aSys), 1)} + ${f(mx.map((x) => x.bUser + x.bSys), 1)}) | ` +
        `${f(pc.map((x) => x.rps), 0)} | ${f(pc.map((x) => x.vcpu), 3)} (${f(pc.map((x) => (x.aUser + x.aSys) / 1000), 3)} + ${f(pc.map((x) => (x.bUser + x.bSys) / 1000), 3)}) | ${f(pc.map((x) => x.ctxPerReq), 2)} |`,
    );
  }
  for (const x of meshes) await x.m.verify();
  process.stdout.write(lines.join('\n') + '\n');
  cleanup();
}

main().catch((e: unknown) => {
  process.stderr.write(`mesh-ab failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
  cleanup();
});
