// Baseline for Bookinfo through the mesh: /productpage with the four services as separate processes talking to
// each other directly (no sidecars), so that a mesh benchmark can report its overhead against this figure.
// Usage: node_modules/.bin/node bench/bookinfo/productpage.ts [--requests 2000] [--concurrency 8] [--reviews v2]
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { BOOKINFO_MAIN } from '../../src/samples/bookinfo/workloads.ts';

const { values } = parseArgs({ options: { requests: { type: 'string' }, concurrency: { type: 'string' }, reviews: { type: 'string' } } });
const total = Number(values.requests ?? '2000');
const concurrency = Number(values.concurrency ?? '8');
const reviewsVersion = values.reviews ?? 'v2';

const children: ChildProcess[] = [];

async function start(args: string[]): Promise<string> {
  const child = spawn(process.execPath, [BOOKINFO_MAIN, ...args, '--port', '0', '--address', '127.0.0.1'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { PATH: process.env['PATH'] ?? '' },
  });
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${args[0]} exited (${code})`)));
    lines.once('line', (line) => {
      const port = /:(\d+),/.exec(line)?.[1];
      if (port === undefined) reject(new Error(`unexpected first line: ${line}`));
      else resolve(`127.0.0.1:${port}`);
      lines.resume(); // keep draining the access log so the child never blocks on a full pipe
    });
  });
}

const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
function get(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject).end();
  });
}

try {
  const [details, ratings] = await Promise.all([start(['details']), start(['ratings'])]);
  const reviews = await start(['reviews', '--version', reviewsVersion, '--ratings', ratings]);
  const pp = await start(['productpage', '--details', details, '--reviews', reviews, '--ratings', ratings]);
  const url = `http://${pp}/productpage`;
  for (let i = 0; i < 200; i++) await get(url); // warm-up (JIT, connections)

  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      next++;
      const s = performance.now();
      if ((await get(url)) !== 200) failures++;
      latencies.push(performance.now() - s);
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number): string => (latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0).toFixed(2);
  console.log(`productpage (reviews ${reviewsVersion}), direct, ${total} requests, concurrency ${concurrency}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'})`);
  console.log(`  ${(total / seconds).toFixed(0)} req/s   p50 ${pct(0.5)} ms   p90 ${pct(0.9)} ms   p99 ${pct(0.99)} ms   failures ${failures}`);
} finally {
  agent.destroy();
  for (const c of children) c.kill('SIGTERM');
}
