// A real Prometheus scrapes a real `weft proxy sidecar`'s status port (15020's /stats/prometheus): the proxy's
// Istio metrics (one request through the proxy), the app's own metrics (scraped by the agent from the app's port and
// path) and the agent's, as one page Prometheus accepts. Needs the Debian `prometheus` package; skipped without it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startProc, stopAll, until, weft } from './harness.ts';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

const prometheusBin = ((): string | undefined => {
  try {
    execFileSync('prometheus', ['--version'], { stdio: 'ignore' });
    return 'prometheus';
  } catch {
    return undefined;
  }
})();

const dir = mkdtempSync(join(tmpdir(), 'weft-status-prom-'));
after(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

interface PromVector {
  status: string;
  data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

test('Prometheus scrapes the merged status page: proxy, app and agent metrics in one valid exposition', { skip: prometheusBin === undefined ? 'prometheus is not installed (apt-get install -y prometheus)' : false, timeout: 60_000 }, async () => {
  let served = 0;
  const app = http.createServer((req, res) => {
    if (req.url === '/app/metrics') {
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      return res.end(`# HELP shop_orders_total Orders placed.\n# TYPE shop_orders_total counter\nshop_orders_total{kind="book"} 7\n# HELP shop_served_total Requests served.\n# TYPE shop_served_total counter\nshop_served_total ${served}\n`);
    }
    served++;
    res.end('shop');
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  after(() => app.close());
  const appPort = (app.address() as AddressInfo).port;
  const cluster = 'outbound|8080||shop.default.svc.cluster.local';
  const bootstrap = join(dir, 'bootstrap.json');
  writeFileSync(bootstrap, JSON.stringify({
    static_resources: {
      listeners: [{
        name: '0.0.0.0_8080', address: { socket_address: { address: '0.0.0.0', port_value: 8080 } }, bind_to_port: false,
        filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: { '@type': HCM, stat_prefix: 'outbound_0.0.0.0_8080', rds: { route_config_name: '8080', config_source: { ads: {} } }, http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }] } }] }],
      }],
      routes: [{ name: '8080', virtual_hosts: [{ name: 'shop', domains: ['shop:8080'], routes: [{ match: { prefix: '/' }, route: { cluster } }] }] }],
      clusters: [{ name: cluster, type: 'STATIC', connect_timeout: '1s', load_assignment: { cluster_name: cluster, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: appPort } } } }] }] } }],
    },
  }));
  const sidecar = weft(['proxy', 'sidecar', '--bootstrap', bootstrap, '--name', 'shop-v1', '--labels', 'app=shop,version=v1', '--admin-port', '0', '--outbound-port', '0', '--inbound-port', '-1', '--stats-port', '0', '--readiness-port', '0', '--status-port', '0', '--app-metrics-port', String(appPort), '--app-metrics-path', '/app/metrics']);
  const statusPort = Number((await sidecar.waitFor(/^status port (\d+)$/m))[1]);
  const outbound = Number((await sidecar.waitFor(/^outbound port (\d+)$/m))[1]);
  await sidecar.waitFor(/^weft proxy ready$/m);

  // One request through the proxy, so the page carries Istio's request metrics.
  const body = await new Promise<string>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: outbound, path: 'http://shop:8080/buy', headers: { host: 'shop:8080' }, agent: false }, (res) => {
      let b = '';
      res.on('data', (d: Buffer) => (b += d.toString()));
      res.on('end', () => resolve(b));
    }).on('error', reject);
  });
  assert.equal(body, 'shop');

  const promPort = await freePort();
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n- job_name: weft-sidecar\n  metrics_path: /stats/prometheus\n  static_configs:\n  - targets: ['127.0.0.1:${statusPort}']\n`);
  const prom = startProc(prometheusBin!, [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn']);
  const api = async <T>(path: string): Promise<T | undefined> => {
    const r = await fetch(`http://127.0.0.1:${promPort}${path}`).catch(() => undefined);
    return r?.ok ? ((await r.json()) as T) : undefined;
  };
  // The first successful scrape: the target is up and the page parsed (a bad page makes the target down with lastError).
  const target = await until('Prometheus to scrape the status port', async () => {
    const t = await api<{ data: { activeTargets: Array<{ health: string; lastError: string; scrapeUrl: string }> } }>('/api/v1/targets');
    const first = t?.data.activeTargets[0];
    if (first && first.health !== 'unknown') return first;
    return undefined;
  }, 30_000);
  assert.deepEqual([target.health, target.lastError], ['up', ''], `scrape of ${target.scrapeUrl} failed; Prometheus says: ${target.lastError}\n${prom.err()}`);

  const query = async (q: string): Promise<PromVector['data']['result']> => {
    const r = await until(`a result for ${q}`, async () => {
      const v = await api<PromVector>(`/api/v1/query?query=${encodeURIComponent(q)}`);
      return v && v.data.result.length > 0 ? v : undefined;
    }, 10_000);
    return r.data.result;
  };
  const app7 = await query('shop_orders_total');
  assert.deepEqual([app7[0]?.metric['kind'], app7[0]?.metric['job'], app7[0]?.value[1]], ['book', 'weft-sidecar', '7'], "the app's metric, merged");
  const requests = await query('istio_requests_total{reporter="source",destination_service="shop.default.svc.cluster.local"}');
  assert.equal(requests[0]?.value[1], '1', "the proxy's metric");
  assert.equal(requests[0]?.metric['source_workload'], 'shop-v1');
  const failures = await query('istio_agent_scrape_failures_total{type="application"}');
  assert.equal(failures[0]?.value[1], '0', "the agent's metric; the app was scraped without error");
  await prom.stop();
});
