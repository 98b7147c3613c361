// End to end: `weft demo` as a real process on free ports. Fetches /productpage through the ingress gateway, applies
// the Istio Bookinfo networking files of the traffic-management tasks with `weft apply` and checks what a user sees,
// then stops the demo with SIGINT and checks that no process it started is left.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort as freePortOn } from '../ports.ts';
const freePort = (): Promise<number> => freePortOn('0.0.0.0');

const weft = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));
const samples = fileURLToPath(new URL('../../src/runner/demo/samples/', import.meta.url));


/** Every live descendant of `root` (by parent pid, from /proc). */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(d), ppid);
    } catch {
      // exited while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [pid, pp] of parent) if (pp === p) {
      out.push(pid);
      walk(pid);
    }
  };
  walk(root);
  return out;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

interface Page {
  status: number;
  body: string;
}

async function get(url: string, cookie?: string): Promise<Page> {
  const r = await fetch(url, { headers: cookie ? { cookie } : {}, signal: AbortSignal.timeout(15_000) });
  return { status: r.status, body: await r.text() };
}

type Stars = 'none' | 'black' | 'red' | 'mixed';
function stars(body: string): Stars {
  const black = body.includes('style="color: black"');
  const red = body.includes('style="color: red"');
  return black && red ? 'mixed' : black ? 'black' : red ? 'red' : 'none';
}

/** `weft apply -f <Istio sample> --config-dir <demo config dir>`, as the demo tells its user. */
function apply(file: string, configDir: string): void {
  const r = spawnSync(process.execPath, [weft, 'apply', '-f', join(samples, file), '--config-dir', configDir], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, `weft apply ${file}: ${r.stderr}`);
}

/** Fetch until `ok(page)` (bounded by count and time); returns the first matching page and the time it took. */
async function until(fetchPage: () => Promise<Page>, ok: (p: Page) => boolean, what: string, maxMs = 10_000): Promise<{ page: Page; ms: number }> {
  const t0 = performance.now();
  let last: Page | undefined;
  for (let i = 0; i < 200 && performance.now() - t0 < maxMs; i++) {
    last = await fetchPage();
    if (ok(last)) return { page: last, ms: performance.now() - t0 };
  }
  assert.fail(`${what}: not seen within ${maxMs} ms; last page: ${last?.status} ${stars(last?.body ?? '')} ${last?.body.slice(0, 300)}`);
}

test('weft demo: Bookinfo through the ingress gateway, Istio traffic-management files applied live, clean stop', { timeout: 150_000 }, async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'weft-demo-test-'));
  const configDir = join(stateDir, 'config');
  const port = await freePort();
  const demo = spawn(process.execPath, [weft, 'demo', '--ingress-port', String(port), '--state-dir', stateDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  demo.stdout.on('data', (d: Buffer) => (out += d.toString()));
  demo.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
  let started: number[] = [];
  t.after(() => {
    // Only if an assertion failed half-way: leave nothing behind.
    for (const pid of [...started, ...descendants(demo.pid!)]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    if (demo.exitCode === null) demo.kill('SIGKILL');
    rmSync(stateDir, { recursive: true, force: true });
  });

  const t0 = performance.now();
  const url = `http://127.0.0.1:${port}/productpage`;
  await Promise.race([
    new Promise<void>((resolve) => {
      const check = (): void => {
        if (out.includes('Stop: Ctrl-C')) resolve();
      };
      demo.stdout.on('data', check);
      check();
    }),
    exited.then((code) => assert.fail(`weft demo exited ${code} before it was ready:\n${err}`)),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`weft demo not ready within 75 s:\n${err}`)), 75_000).unref()),
  ]);
  const readyMs = performance.now() - t0;
  const readyLines = out.split('\n').filter((l) => l.startsWith('weft demo ready:'));
  assert.deepEqual(readyLines, [`weft demo ready: ${url}`]);
  assert.match(out, new RegExp(`weft(\\.js)? apply -f \\S+virtual-service-all-v1\\.yaml --config-dir ${configDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  started = descendants(demo.pid!);
  // control plane, gateway, six sidecars, six apps (plus any helper processes they run)
  assert.ok(started.length >= 14, `expected at least 14 processes under weft demo, found ${started.length}`);

  // Before any VirtualService: reviews round-robins over v1 (no stars), v2 (black) and v3 (red).
  const first = await get(url);
  assert.equal(first.status, 200);
  assert.match(first.body, /The Comedy of Errors/);
  const seen = new Set<Stars>();
  for (let i = 0; i < 30 && seen.size < 3; i++) seen.add(stars((await get(url)).body));
  assert.deepEqual([...seen].sort(), ['black', 'none', 'red']);

  // Sign in as jason through the productpage form (the gateway routes /login); the session cookie carries the user.
  const login = await fetch(`http://127.0.0.1:${port}/login`, { method: 'POST', body: 'username=jason&passwd=', headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
  await login.arrayBuffer();
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  assert.match(cookie, /=/, 'productpage set a session cookie');
  const asJason = (): Promise<Page> => get(url, cookie);
  const anonymous = (): Promise<Page> => get(url);
  assert.match((await asJason()).body, /jason/);

  const timings: Record<string, number> = {};

  // Request routing: virtual-service-all-v1 → never stars.
  apply('virtual-service-all-v1.yaml', configDir);
  // Pages without stars also come by round robin before the change: wait for a run of 8 (chance alone: (1/3)^8).
  let run = 0;
  let runStart = 0;
  const t1 = performance.now();
  await until(
    anonymous,
    (p) => {
      if (p.status === 200 && stars(p.body) === 'none') {
        if (run++ === 0) runStart = performance.now();
      } else run = 0;
      return run >= 8;
    },
    'all-v1: a run of pages without stars',
  );
  timings['all-v1'] = runStart - t1;
  for (let i = 0; i < 20; i++) assert.equal(stars((await anonymous()).body), 'none', 'all-v1: never stars');

  // Request routing by user: jason → v2 (black stars), everyone else → v3 (red stars).
  apply('virtual-service-reviews-jason-v2-v3.yaml', configDir);
  timings['jason-v2-v3'] = (await until(asJason, (p) => stars(p.body) === 'black', 'jason-v2-v3: jason sees black stars')).ms;
  await until(anonymous, (p) => stars(p.body) === 'red', 'jason-v2-v3: others see red stars');
  for (let i = 0; i < 10; i++) {
    assert.equal(stars((await asJason()).body), 'black', 'jason sees black stars');
    assert.equal(stars((await anonymous()).body), 'red', 'others see red stars');
  }

  // Traffic shifting: 50% v1 (no stars) / 50% v3 (red stars).
  apply('virtual-service-reviews-50-v3.yaml', configDir);
  timings['50-v3'] = (await until(anonymous, (p) => stars(p.body) === 'none', 'reviews-50-v3: some pages without stars')).ms;
  let red = 0;
  for (let i = 0; i < 200; i++) {
    const s = stars((await anonymous()).body);
    assert.ok(s === 'red' || s === 'none', `50-v3: only v1 or v3 (got ${s})`);
    if (s === 'red') red++;
  }
  assert.ok(red >= 70 && red <= 130, `50-v3: ${red}/200 red, expected 35–65%`);

  // Fault injection, delay: jason → reviews v2, whose ratings call is delayed 7 s; productpage gives up on reviews
  // (3 s, one retry) and says the reviews are unavailable — what Istio's task shows.
  apply('virtual-service-reviews-test-v2.yaml', configDir);
  await until(asJason, (p) => stars(p.body) === 'black', 'reviews-test-v2: jason sees black stars');
  apply('virtual-service-ratings-test-delay.yaml', configDir);
  const delayed = await until(asJason, (p) => /currently unavailable/.test(p.body), 'ratings-test-delay: jason sees the unavailable message', 20_000);
  timings['ratings-delay'] = delayed.ms;
  assert.equal(delayed.page.status, 200);
  assert.equal(stars(delayed.page.body), 'none');
  assert.equal(stars((await anonymous()).body), 'none', 'others still get v1 (no stars), undelayed');

  // Fault injection, abort: jason's ratings calls get HTTP 500; reviews v2 shows "Ratings service is currently unavailable".
  apply('virtual-service-ratings-test-abort.yaml', configDir);
  const aborted = await until(asJason, (p) => /Ratings service is currently unavailable/.test(p.body), 'ratings-test-abort: jason sees ratings unavailable', 20_000);
  timings['ratings-abort'] = aborted.ms;
  assert.equal(stars(aborted.page.body), 'none');

  // Ctrl-C stops every process the demo started.
  demo.kill('SIGINT');
  const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('timeout'), 30_000).unref())]);
  assert.equal(code, 0, `weft demo exit after SIGINT:\n${err}`);
  const left = started.filter(alive);
  assert.deepEqual(left, [], `processes left after weft demo stopped: ${left.join(', ')}`);
  t.diagnostic(`ready after ${Math.round(readyMs)} ms; config change seen after (ms, from the end of weft apply): ${JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])))}`);
});
