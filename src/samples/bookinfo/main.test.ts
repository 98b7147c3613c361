// The launcher as `weft run` and `weft demo` use it: real processes started with bookinfoCommand(), configured by
// flags and by the environment (HTTP_PROXY, *_HOSTNAME, *_SERVICE_PORT), stopped by SIGTERM after in-flight
// requests finish.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';
import { BOOKINFO_MAIN, BOOKINFO_WORKLOADS, bookinfoCommand, bookinfoMeshConfig } from './workloads.ts';

interface Proc {
  child: ChildProcess;
  lines: string[];
  /** First stdout line (past or future) matching `re`. */
  line(re: RegExp): Promise<string>;
  exited: Promise<number | null>;
}

const procs: Proc[] = [];
const servers: Server[] = [];

after(async () => {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

/** The test's environment without anything that would change the apps' behaviour. */
function baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(https?_proxy|no_proxy|services_domain|details_|reviews_|ratings_|service_version|pod_name|cluster_name)/i.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

function launch(argv: string[], env: Record<string, string> = {}): Proc {
  const [cmd, ...args] = argv;
  const child = spawn(cmd ?? process.execPath, args, { env: baseEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiting: { re: RegExp; resolve: (l: string) => void }[] = [];
  const push = (l: string): void => {
    lines.push(l);
    for (const w of waiting.filter((x) => x.re.test(l))) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve(l);
    }
  };
  createInterface({ input: child.stdout! }).on('line', push);
  createInterface({ input: child.stderr! }).on('line', (l) => push(`stderr: ${l}`));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const p: Proc = {
    child,
    lines,
    exited,
    line: (re) => {
      const found = lines.find((l) => re.test(l));
      if (found !== undefined) return Promise.resolve(found);
      return Promise.race([
        new Promise<string>((resolve) => waiting.push({ re, resolve })),
        exited.then((code) => {
          throw new Error(`process exited (${code}) before printing ${re}:\n${lines.join('\n')}`);
        }),
      ]);
    },
  };
  procs.push(p);
  return p;
}

/** Start a workload on a free port and resolve with its port once it listens. */
async function startWorkload(name: string, env: Record<string, string>): Promise<{ proc: Proc; port: number }> {
  const w = BOOKINFO_WORKLOADS.find((x) => x.name === name);
  assert.ok(w, name);
  const proc = launch(bookinfoCommand(w, { port: 0 }), env);
  const line = await proc.line(/listening on/);
  return { proc, port: Number(/:(\d+),/.exec(line)?.[1]) };
}

function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    }).on('error', reject).end();
  });
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

describe('bookinfo main.ts', () => {
  test('the six workloads as processes behind an explicit proxy: v1 no stars, v2 black, v3 red', async () => {
    const ports: Record<string, number> = {};
    let reviewsTo = 'reviews-v1';
    const seen: string[] = [];
    const proxyPort = await listen((req, res) => {
      seen.push(`${req.method ?? ''} ${req.url ?? ''}`);
      const url = new URL(req.url ?? '');
      const name = url.hostname === 'reviews' ? reviewsTo : `${url.hostname}-v1`;
      const up = request({ host: '127.0.0.1', port: ports[name], path: url.pathname, headers: req.headers, agent: false }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      });
      up.on('error', () => res.writeHead(502).end());
      up.end();
    });
    // What weft run gives its app (src/runner/workload.ts appEnv), including Node's own env-proxy switch.
    const proxy = `http://127.0.0.1:${proxyPort}`;
    const env = { HTTP_PROXY: proxy, http_proxy: proxy, NO_PROXY: 'localhost,127.0.0.1,::1', no_proxy: 'localhost,127.0.0.1,::1', NODE_USE_ENV_PROXY: '1' };
    const started = await Promise.all(BOOKINFO_WORKLOADS.map(async (w) => [w.name, await startWorkload(w.name, env)] as const));
    for (const [name, s] of started) ports[name] = s.port;

    const page = async (): Promise<string> => (await get(`http://127.0.0.1:${ports['productpage-v1']}/productpage`)).body;
    const v1 = await page();
    assert.match(v1, /Reviewer1/);
    assert.doesNotMatch(v1, /glyphicon-star/);
    reviewsTo = 'reviews-v2';
    assert.equal((await page()).split('glyphicon glyphicon-star" style="color: black"').length - 1, 9);
    reviewsTo = 'reviews-v3';
    assert.equal((await page()).split('glyphicon glyphicon-star" style="color: red"').length - 1, 9);
    // Each call crossed the proxy exactly once, with an absolute URI.
    assert.deepEqual([...new Set(seen)].sort(), ['GET http://details:9080/details/0', 'GET http://ratings:9080/ratings/0', 'GET http://reviews:9080/reviews/0']);
    assert.ok(seen.includes('GET http://reviews:9080/reviews/0'), seen.join('\n'));
    assert.ok(seen.includes('GET http://ratings:9080/ratings/0'), seen.join('\n'));

    // One access-log line per request on stdout.
    const pp = started.find(([n]) => n === 'productpage-v1')?.[1].proc;
    assert.match(await pp!.line(/"GET \/productpage HTTP\/1.1" 200/), /productpage "GET \/productpage HTTP\/1\.1" 200 [\d.]+ms/);
  });

  test('backends from the sample\'s environment variables; SIGTERM lets an in-flight request finish, then exits 0', async () => {
    const held: ServerResponse[] = [];
    let arrived!: () => void;
    const reviewsArrived = new Promise<void>((r) => (arrived = r));
    const reviewsPort = await listen((_req, res) => {
      held.push(res);
      arrived();
    });
    const details = await startWorkload('details-v1', {});
    const pp = await startWorkload('productpage-v1', {
      DETAILS_HOSTNAME: '127.0.0.1', DETAILS_SERVICE_PORT: String(details.port),
      REVIEWS_HOSTNAME: '127.0.0.1', REVIEWS_SERVICE_PORT: String(reviewsPort),
    });
    const inFlight = get(`http://127.0.0.1:${pp.port}/productpage`);
    await reviewsArrived;
    pp.proc.child.kill('SIGTERM');
    await pp.proc.line(/SIGTERM received/);
    const reviews = { id: '0', podname: 'held-reviews', clustername: 'null', reviews: [{ reviewer: 'Reviewer1', text: 'held until SIGTERM' }] };
    held[0]?.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reviews));
    const page = await inFlight;
    assert.equal(page.status, 200);
    assert.match(page.body, /held until SIGTERM/);
    assert.match(page.body, /PublisherA/);
    assert.equal(await pp.proc.exited, 0);
    assert.match(await pp.proc.line(/stopped/), /productpage: stopped/);
    details.proc.child.kill('SIGINT');
    assert.equal(await details.proc.exited, 0);
  });

  test('bad flags, a bad HTTP_PROXY and a port in use exit 2 with a message', async () => {
    const node = process.execPath;
    const cases: [string[], Record<string, string>, RegExp][] = [
      [[node, BOOKINFO_MAIN], {}, /name one service/],
      [[node, BOOKINFO_MAIN, 'reviews', '--version', 'v9'], {}, /reviews version "v9" is not one of v1, v2, v3/],
      [[node, BOOKINFO_MAIN, 'ratings', '--bogus'], {}, /Unknown option '--bogus'/],
      [[node, BOOKINFO_MAIN, 'productpage', '--port', '0', '--address', '127.0.0.1'], { HTTP_PROXY: 'https://127.0.0.1:1' }, /HTTP_PROXY .*only a plain http/],
    ];
    const busy = await listen(() => {});
    cases.push([[node, BOOKINFO_MAIN, 'details', '--port', String(busy), '--address', '127.0.0.1'], {}, /cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\)/]);
    await Promise.all(cases.map(async ([argv, env, re]) => {
      const p = launch(argv, env);
      assert.equal(await p.exited, 2, p.lines.join('\n'));
      assert.match(p.lines.join('\n'), re);
    }));
  });
});

test('workload descriptions match Istio\'s bookinfo.yaml', () => {
  assert.deepEqual(BOOKINFO_WORKLOADS.map((w) => [w.name, w.serviceAccount, w.labels.app, w.labels.version, w.port]), [
    ['details-v1', 'bookinfo-details', 'details', 'v1', 9080],
    ['ratings-v1', 'bookinfo-ratings', 'ratings', 'v1', 9080],
    ['reviews-v1', 'bookinfo-reviews', 'reviews', 'v1', 9080],
    ['reviews-v2', 'bookinfo-reviews', 'reviews', 'v2', 9080],
    ['reviews-v3', 'bookinfo-reviews', 'reviews', 'v3', 9080],
    ['productpage-v1', 'bookinfo-productpage', 'productpage', 'v1', 9080],
  ]);
  const reviewsV2 = BOOKINFO_WORKLOADS[3]!;
  assert.deepEqual(bookinfoCommand(reviewsV2, { port: 19083, node: 'node' }), ['node', BOOKINFO_MAIN, 'reviews', '--version', 'v2', '--port', '19083', '--address', '127.0.0.1']);
  const config = bookinfoMeshConfig('bookinfo');
  assert.deepEqual(config.map((d) => `${d.kind}/${d.metadata.namespace}/${d.metadata.name}`), [
    'ServiceEntry/bookinfo/details', 'ServiceEntry/bookinfo/ratings', 'ServiceEntry/bookinfo/reviews', 'ServiceEntry/bookinfo/productpage',
    'WorkloadGroup/bookinfo/details-v1', 'WorkloadGroup/bookinfo/ratings-v1', 'WorkloadGroup/bookinfo/reviews-v1',
    'WorkloadGroup/bookinfo/reviews-v2', 'WorkloadGroup/bookinfo/reviews-v3', 'WorkloadGroup/bookinfo/productpage-v1',
  ]);
});
