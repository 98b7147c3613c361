// Idle memory and start-up time of `weft up` (Bookinfo config) and of one `weft proxy sidecar` connected to it with
// a workload certificate from the control plane's CA. Prints, per run, the time from spawn to each process's ready line
// and its RSS (VmRSS from /proc) after 3 s idle; then the medians.
// Usage: node bench/proxy/memory.ts [--runs 3] [--bin bin/weft.js]
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { bookinfoMeshConfig } from '../../src/samples/bookinfo/workloads.ts';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
};
const runs = Number(arg('--runs', '3')) || 3;
const weft = fileURLToPath(new URL(`../../${arg('--bin', 'bin/weft.js')}`, import.meta.url));
const samples = '/work/shared/istio-samples/bookinfo/networking';

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function start(args: string[]): { child: ChildProcess; out: () => string; waitFor: (re: RegExp) => Promise<RegExpMatchArray> } {
  const child = spawn(process.execPath, [weft, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const waitFor = (re: RegExp): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${re} in 30 s:\n${out}\n${err}`)), 30_000);
      const check = (): void => {
        const m = re.exec(out);
        if (!m) return;
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(m);
      };
      child.stdout!.on('data', check);
      child.once('exit', (c) => reject(new Error(`exited ${c}:\n${out}\n${err}`)));
      check();
    });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, out: () => out, waitFor };
}

async function run(cmd: string[]): Promise<string> {
  const c = spawn(process.execPath, [weft, ...cmd], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  c.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await once(c, 'close');
  return out;
}

async function stop(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = once(c, 'exit');
  c.kill('SIGTERM');
  await exited;
}

interface Sample {
  upReadyMs: number;
  upRss: number;
  sidecarReadyMs: number;
  sidecarRss: number;
}

async function once1(dir: string): Promise<Sample> {
  const config = join(dir, 'config');
  const state = join(dir, 'state');
  const t0 = performance.now();
  const up = start(['up', '--config-dir', config, '--state-dir', state, '--xds-port', '0', '--xds-tls-port', '0', '--monitoring-port', '0']);
  let sidecar: ReturnType<typeof start> | undefined;
  try {
    const [, tlsPort] = await up.waitFor(/xDS \+ CA \(TLS\) listening on 127\.0\.0\.1:(\d+)/);
    await up.waitFor(/control plane ready/);
    const upReadyMs = performance.now() - t0;
    writeFileSync(join(dir, 'root.pem'), await run(['ca', 'root', '--state-dir', state]));
    writeFileSync(join(dir, 'token'), (await run(['ca', 'token', '--namespace', 'default', '--service-account', 'bookinfo-reviews', '--state-dir', state])).trim());
    const t1 = performance.now();
    sidecar = start(['proxy', 'sidecar', '--discovery-address', `127.0.0.1:${tlsPort}`, '--discovery-ca', join(dir, 'root.pem'),
      '--ca-address', `127.0.0.1:${tlsPort}`, '--ca-root-cert', join(dir, 'root.pem'), '--token-file', join(dir, 'token'),
      '--name', 'reviews-v1', '--labels', 'app=reviews,version=v1', '--service-account', 'bookinfo-reviews',
      '--admin-port', '0', '--outbound-port', '0', '--inbound-port', '0', '--inbound-address', '127.0.0.1', '--stats-port', '0', '--readiness-port', '0']);
    await sidecar.waitFor(/weft proxy ready/);
    const sidecarReadyMs = performance.now() - t1;
    await new Promise((r) => setTimeout(r, 3000)); // idle: let start-up garbage be collected and timers settle
    return { upReadyMs, upRss: rssMb(up.child.pid!), sidecarReadyMs, sidecarRss: rssMb(sidecar.child.pid!) };
  } finally {
    if (sidecar) await stop(sidecar.child);
    await stop(up.child);
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = mkdtempSync(join(tmpdir(), 'weft-mem-bench-'));
try {
  mkdirSync(join(dir, 'config'));
  writeFileSync(join(dir, 'config', 'bookinfo-mesh.yaml'), bookinfoMeshConfig().map((d) => stringify(d)).join('---\n'));
  for (const f of ['destination-rule-all.yaml', 'virtual-service-all-v1.yaml', 'bookinfo-gateway.yaml']) copyFileSync(join(samples, f), join(dir, 'config', f));
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.versions.node}, bin ${weft}`);
  const all: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    const s = await once1(dir);
    all.push(s);
    console.log(`run ${i + 1}: weft up ready ${Math.round(s.upReadyMs)} ms, ${s.upRss.toFixed(1)} MB; sidecar ready ${Math.round(s.sidecarReadyMs)} ms, ${s.sidecarRss.toFixed(1)} MB`);
  }
  const m = (k: keyof Sample): number => median(all.map((s) => s[k]));
  console.log(`median: weft up ready ${Math.round(m('upReadyMs'))} ms, idle RSS ${m('upRss').toFixed(1)} MB; sidecar ready ${Math.round(m('sidecarReadyMs'))} ms, idle RSS ${m('sidecarRss').toFixed(1)} MB`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
