// `weft proxy sidecar` as a real process: configured by a real ADS server, serving an app's outbound traffic as
// its HTTP proxy, with admin, readiness and Prometheus endpoints, draining and exiting 0 on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TypeUrl } from '../../src/xds/protos.ts';
import { TestAdsServer } from './ads-server.ts';
import { assignment, edsCluster, outboundListener, routeConfig, startUpstream, viaProxy, vhost } from './helpers.ts';

const weft = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));
const CLUSTER = 'outbound|9080||reviews.default.svc.cluster.local';

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.text() };
}

test('weft proxy sidecar: xDS-configured explicit proxy with admin, readiness, Prometheus and graceful SIGTERM', async (t) => {
  const up = await startUpstream('reviews-v1');
  const ads = new TestAdsServer();
  await ads.start();
  ads.set(TypeUrl.cluster, 'c1', [edsCluster(CLUSTER)]);
  ads.set(TypeUrl.endpoint, 'e1', [assignment(CLUSTER, [up.port])]);
  ads.set(TypeUrl.listener, 'l1', [outboundListener(9080)]);
  ads.set(TypeUrl.route, 'r1', [routeConfig('9080', [vhost('reviews', ['reviews:9080'], [{ match: { prefix: '/' }, route: { cluster: CLUSTER } }])])]);
  const child = spawn(
    process.execPath,
    [weft, 'proxy', 'sidecar', '--discovery-address', `127.0.0.1:${ads.port}`, '--name', 'productpage-v1', '--namespace', 'default', '--labels', 'app=productpage,version=v1', '--service-account', 'bookinfo-productpage', '--admin-port', '0', '--outbound-port', '0', '--inbound-port', '0', '--stats-port', '0', '--readiness-port', '0', '--status-port', '0', '--drain-duration', '1s', '--access-log-file', '/dev/stdout'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    ads.stop();
    await up.close();
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (out.includes('weft proxy ready')) resolve();
    };
    child.stdout.on('data', check);
    child.once('exit', (code) => reject(new Error(`weft proxy exited ${code}: ${err}`)));
  });
  const port = (name: string): number => Number(new RegExp(`${name} port (\\d+)`).exec(out)![1]);
  const r = await viaProxy(port('outbound'), 'http://reviews:9080/reviews/1');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'reviews-v1');
  assert.equal((await get(port('readiness'), '/healthz/ready')).status, 200);
  const dump = JSON.parse((await get(port('admin'), '/config_dump')).body) as { configs: { '@type': string; dynamic_active_clusters?: { cluster: { name: string } }[] }[] };
  assert.equal(dump.configs.find((c) => c['@type'].endsWith('ClustersConfigDump'))!.dynamic_active_clusters![0]!.cluster.name, CLUSTER);
  assert.match((await get(port('admin'), '/clusters')).body, new RegExp(`${CLUSTER.replace(/\|/g, '\\|')}::127\\.0\\.0\\.1:${up.port}::rq_total::1`));
  const prom = (await get(port('stats'), '/stats/prometheus')).body;
  assert.match(prom, /istio_requests_total\{reporter="source",source_workload="productpage-v1",[^}]*destination_service="reviews\.default\.svc\.cluster\.local",[^}]*response_code="200",[^}]*response_flags="-"[^}]*\} 1/);
  assert.match(prom, /istio_request_duration_milliseconds_bucket\{[^}]*le="\+Inf"\} 1/);
  assert.match(out, /"GET \/reviews\/1 HTTP\/1\.1" 200 - via_upstream /);
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 0);
});

test('weft proxy whose log reader went away (closed pipes) keeps serving, stays idle, and still drains and exits 0 on SIGTERM', async (t) => {
  const up = await startUpstream('reviews-v1');
  const ads = new TestAdsServer();
  await ads.start();
  ads.set(TypeUrl.cluster, 'c1', [edsCluster(CLUSTER)]);
  ads.set(TypeUrl.endpoint, 'e1', [assignment(CLUSTER, [up.port])]);
  ads.set(TypeUrl.listener, 'l1', [outboundListener(9080)]);
  ads.set(TypeUrl.route, 'r1', [routeConfig('9080', [vhost('reviews', ['reviews:9080'], [{ match: { prefix: '/' }, route: { cluster: CLUSTER } }])])]);
  const child = spawn(
    process.execPath,
    [weft, 'proxy', 'sidecar', '--discovery-address', `127.0.0.1:${ads.port}`, '--name', 'epipe-1', '--admin-port', '0', '--outbound-port', '0', '--inbound-port', '0', '--stats-port', '0', '--readiness-port', '0', '--status-port', '-1', '--drain-duration', '1s'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    ads.stop();
    await up.close();
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('weft proxy ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`weft proxy exited ${code}`)));
  });
  const outbound = Number(/outbound port (\d+)/.exec(out)![1]);
  // The reader goes away, as when the process that started the proxy dies.
  child.stdout.destroy();
  child.stderr.destroy();
  // Something to log: the control plane goes away (the xDS client logs the disconnect and its retries).
  ads.stop();
  const r = await viaProxy(outbound, 'http://reviews:9080/reviews/1');
  assert.equal(r.status, 200, 'still serving on the last good config');
  // Before the fix every failed log write was reported as a bug and logged again: a loop burning a core.
  const cpu = (): number => {
    const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime, clock ticks
  };
  const before = cpu();
  const startedAt = Date.now();
  await new Promise((res) => setTimeout(res, 1500)); // a measurement window, not a wait for an event
  const ticksPerSecond = (cpu() - before) / ((Date.now() - startedAt) / 1000);
  assert.ok(ticksPerSecond < 30, `an idle proxy with a closed log pipe used ${ticksPerSecond.toFixed(0)} ticks/s (≈${ticksPerSecond.toFixed(0)}% of a core)`);
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 0);
});
