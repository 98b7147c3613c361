// Time from `weft demo` to the first successful /productpage through its ingress gateway, on a warm install
// (the state dir, and so the CA root, already exist from a warm-up run). Also the time to the ready line and to a
// clean stop. Prints one row per run and the medians.
// Usage: node bench/demo/startup.ts [--runs 3]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const weft = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] ?? 3) || 3;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen({ host: '0.0.0.0', port: 0 }, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function ok(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await r.arrayBuffer();
    return r.status === 200;
  } catch {
    return false;
  }
}

interface Run {
  firstPageMs: number;
  readyLineMs: number;
  stopMs: number;
}

async function once(stateDir: string): Promise<Run> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/productpage`;
  const t0 = performance.now();
  const child = spawn(process.execPath, [weft, 'demo', '--ingress-port', String(port), '--state-dir', stateDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let readyLineMs = NaN;
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    if (Number.isNaN(readyLineMs) && d.toString().includes('weft demo ready:')) readyLineMs = performance.now() - t0;
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  let firstPageMs = NaN;
  for (let i = 0; i < 3000 && performance.now() - t0 < 60_000; i++) {
    if (child.exitCode !== null) throw new Error(`weft demo exited ${child.exitCode}: ${err}`);
    if (await ok(url)) {
      firstPageMs = performance.now() - t0;
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  if (Number.isNaN(firstPageMs)) throw new Error(`no 200 from ${url} within 60 s: ${err}`);
  // Wait for the ready line too (it follows the demo's own checks), then stop.
  for (let i = 0; i < 600 && Number.isNaN(readyLineMs); i++) await new Promise((r) => setTimeout(r, 50));
  const s0 = performance.now();
  child.kill('SIGINT');
  const code = await exited;
  if (code !== 0) throw new Error(`weft demo exited ${code} on SIGINT: ${err}`);
  return { firstPageMs, readyLineMs, stopMs: performance.now() - s0 };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const stateDir = mkdtempSync(join(tmpdir(), 'weft-demo-bench-'));
try {
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.versions.node}`);
  const warm = await once(stateDir);
  console.log(`warm-up (creates the CA): first /productpage ${Math.round(warm.firstPageMs)} ms`);
  const results: Run[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await once(stateDir);
    results.push(r);
    console.log(`run ${i + 1}: first /productpage ${Math.round(r.firstPageMs)} ms, ready line ${Math.round(r.readyLineMs)} ms, stop ${Math.round(r.stopMs)} ms`);
  }
  console.log(`median of ${runs}: first /productpage ${Math.round(median(results.map((r) => r.firstPageMs)))} ms, ready line ${Math.round(median(results.map((r) => r.readyLineMs)))} ms, stop ${Math.round(median(results.map((r) => r.stopMs)))} ms`);
} finally {
  rmSync(stateDir, { recursive: true, force: true });
}
