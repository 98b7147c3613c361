// Shared pieces of the proxy benchmarks: child processes (killed on exit), CPU time from /proc, wrk and h2load runs
// (each bounded in time), and medians. Load generators run on core 0; servers under test on core 1.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

const children: ChildProcess[] = [];

/** Start a process (its own process group); resolve when `readyText` appears on stdout/stderr, or after 500 ms. */
export function start(cmd: string, args: string[], readyText?: string | RegExp, env?: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; out: () => string }> {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...(env ? { env } : {}) });
  children.push(c);
  let buf = '';
  const out = (): string => buf;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} ${args.slice(0, 4).join(' ')}: no ${String(readyText)} in 60 s\n${buf}`)), 60_000);
    const check = (): void => {
      if (readyText === undefined) return;
      if (typeof readyText === 'string' ? buf.includes(readyText) : readyText.test(buf)) {
        clearTimeout(timer);
        resolve({ child: c, out });
      }
    };
    c.stdout!.on('data', (d: Buffer) => ((buf += d.toString()), check()));
    c.stderr!.on('data', (d: Buffer) => ((buf += d.toString()), check()));
    c.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} ${args.slice(0, 4).join(' ')} exited ${code}\n${buf}`));
    });
    if (readyText === undefined)
      setTimeout(() => {
        clearTimeout(timer);
        resolve({ child: c, out });
      }, 500);
  });
}

/** SIGTERM every process group started here (weft run stops its app and sidecar itself). */
export function cleanup(): void {
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    try {
      process.kill(-c.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

const ticksPerSec = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** CPU seconds (user + system, all threads) used so far by the processes. */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    ticks += Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15)
  }
  return ticks / ticksPerSec;
}

export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

/** The children of `pid` whose command line contains `text`. */
export function childrenMatching(pid: number, text: string): number[] {
  const out: number[] = [];
  let kids: string[] = [];
  try {
    kids = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return out;
  }
  for (const k of kids) {
    const cmd = readFileSync(`/proc/${k}/cmdline`, 'utf8').replaceAll('\0', ' ');
    if (cmd.includes(text)) out.push(Number(k));
    out.push(...childrenMatching(Number(k), text));
  }
  return out;
}

/** Pin every thread of a running process to `core`. */
export function pin(pid: number, core: number): void {
  execFileSync('taskset', ['-a', '-pc', String(core), String(pid)], { stdio: 'ignore' });
}

export interface LoadResult {
  rps: number;
  requests: number;
  /** Wall seconds the load ran. */
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  /** Non-2xx/3xx responses and socket errors: a run with any is reported. */
  errors: number;
}

function ms(v: string, unit: string): number {
  const n = Number(v);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n;
}

/** wrk on core 0 against `url` for `seconds`, with an optional Lua script; killed if it overruns. */
export function wrk(url: string, connections: number, seconds: number, script?: string): LoadResult {
  const args = ['-c', '0', 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--latency', ...(script ? ['-s', script] : []), url];
  const text = execFileSync('taskset', args, { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  const p = (q: string): number => {
    const m = new RegExp(`\\s${q}%\\s+([\\d.]+)(us|ms|s)`).exec(text);
    return m ? ms(m[1]!, m[2]!) : NaN;
  };
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const sockErrors = sock ? Number(sock[1]) + Number(sock[2]) + Number(sock[3]) + Number(sock[4]) : 0;
  const done = /(\d+) requests in ([\d.]+)(m?s)/.exec(text)!;
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)![1]),
    requests: Number(done[1]),
    seconds: done[3] === 'ms' ? Number(done[2]) / 1000 : Number(done[2]),
    p50Ms: p('50'),
    p99Ms: p('99'),
    errors: non2xx + sockErrors,
  };
}

/**
 * h2load (h2c prior knowledge) on core 0: `clients` connections × `streams` concurrent streams for `seconds`. No
 * warm-up period inside the run, so that the proxy's CPU over the run is spent on the requests counted.
 */
export function h2load(url: string, clients: number, streams: number, seconds: number, extra: string[] = []): LoadResult {
  const args = ['-c', '0', 'h2load', '-t1', '-c', String(clients), '-m', String(streams), '-D', String(seconds), ...extra, url];
  const text = execFileSync('taskset', args, { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  const fin = /finished in ([\d.]+)(m?s), ([\d.]+) req\/s/.exec(text);
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(text);
  // Status codes also count requests still in flight at the end: only the 4xx and 5xx among them are of interest.
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(text);
  if (!fin || !req) throw new Error(`h2load output not understood:\n${text}`);
  const lat = /time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)/.exec(text);
  return {
    rps: Number(fin[3]),
    requests: Number(req[3]),
    seconds: fin[2] === 'ms' ? Number(fin[1]) / 1000 : Number(fin[1]),
    p50Ms: lat ? ms(lat[5]!, lat[6]!) : NaN, // h2load prints min, max, mean: the mean stands in
    p99Ms: NaN,
    errors: Number(req[5]) + Number(req[6]) + Number(req[7]) + (codes ? Number(codes[3]) + Number(codes[4]) : 0),
  };
}

export const median = (xs: readonly number[]): number => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** Poll `fn` until it returns true (config propagation has no event to wait for), bounded in time. */
export async function until(what: string, fn: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await fn()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
