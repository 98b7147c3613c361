// Security counters on /stats and /stats/prometheus: Envoy's names, Istio's Prometheus rendering (tag extraction),
// counted by a real proxy on real sockets, and kept across a listener update as Envoy keeps them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { freePort } from '../../../test/ports.ts';
import type { Resource } from '../../config/api/resource.ts';
import { buildWorkloadSecurity } from '../../discovery/translate/security/index.ts';
import { TypeUrl } from '../../xds/protos.ts';
import type { Raw } from '../config/raw.ts';
import { routeConfig, startProxy, startUpstream, staticCluster, viaProto, viaProxy, vhost } from '../../../test/proxy/helpers.ts';
import { renderEnvoyStats, renderProxyPrometheus } from './admin-stats.ts';
import { renderEnvoyCounters, tagStat } from './envoy-prometheus.ts';

test("Envoy stat names become Istio's Prometheus names and labels", () => {
  const cases: Array<[string, string, Array<[string, string]>]> = [
    ['http.inbound_0.0.0.0_8080.rbac.allowed', 'envoy_http_inbound_0_0_0_0_8080_rbac', [['authz_enforce_result', 'allowed']]],
    ['http.inbound_0.0.0.0_80.rbac.istio_dry_run_deny_.shadow_denied', 'envoy_http_inbound_0_0_0_0_80_rbac', [['authz_dry_run_action', 'deny'], ['authz_dry_run_result', 'denied']]],
    ['http.inbound_0.0.0.0_80.rbac.shadow_allowed', 'envoy_http_inbound_0_0_0_0_80_rbac', [['authz_dry_run_result', 'allowed']]],
    ['http.0.0.0.0_8080.rbac.denied', 'envoy_http_rbac', [['authz_enforce_result', 'denied'], ['http_conn_manager_prefix', '0.0.0.0_8080']]],
    ['http.inbound_0.0.0.0_8080.jwt_authn.denied', 'envoy_http_inbound_0_0_0_0_8080_jwt_authn_denied', []],
    ['http.outbound_0.0.0.0_9080.ext_authz.ok', 'envoy_http_outbound_0_0_0_0_9080_ext_authz_ok', []],
    ['tcp.rbac.denied', 'envoy_tcp_', [['authz_enforce_result', 'denied'], ['tcp_prefix', 'rbac']]],
  ];
  for (const [stat, name, labels] of cases) assert.deepEqual(tagStat(stat), { name, labels }, stat);
  const text = renderEnvoyCounters([['http.web_1.rbac.allowed', 2], ['http.web_1.rbac.denied', 1]]);
  assert.equal(text, '# TYPE envoy_http_web_1_rbac counter\nenvoy_http_web_1_rbac{authz_enforce_result="allowed"} 2\nenvoy_http_web_1_rbac{authz_enforce_result="denied"} 1\n');
});

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };
const res = (kind: string, name: string, spec: Raw, annotations?: Record<string, string>): Resource => ({ apiVersion: 'security.istio.io/v1', kind, metadata: { name, namespace: 'foo', ...(annotations ? { annotations } : {}) }, spec });

test('RBAC and dry-run counters through a real proxy, on /stats and /stats/prometheus, kept across an LDS update', async (t) => {
  const app = await startUpstream('httpbin');
  const sec = buildWorkloadSecurity({
    workload: { namespace: 'foo', labels: { app: 'httpbin' } },
    configs: [
      res('AuthorizationPolicy', 'allow-get', { rules: [{ to: [{ operation: { methods: ['GET'] } }] }] }),
      res('AuthorizationPolicy', 'dry-deny-headers', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/headers'] } }] }] }, { 'istio.io/dry-run': 'true' }),
    ],
    rootNamespace: 'istio-system',
    trustDomain: 'cluster.local',
  });
  const listener = viaProto(TypeUrl.listener, {
    name: '0.0.0.0_8000',
    address: { socket_address: { address: '0.0.0.0', port_value: 8000 } },
    bind_to_port: { value: false },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: {
      '@type': HCM, stat_prefix: 'inbound_0.0.0.0_8000', rds: { route_config_name: '8000', config_source: { ads: {} } }, http_filters: [...sec.httpFilters, ROUTER],
    } }] }],
  });
  const proxy = await startProxy({
    clusters: [staticCluster('inbound|8000||', [app.port])],
    listeners: [listener],
    routes: [routeConfig('8000', [vhost('httpbin', ['*'], [{ match: { prefix: '/' }, route: { cluster: 'inbound|8000||' } }])])],
  });
  t.after(async () => {
    proxy.close();
    await app.close();
  });
  const send = (path: string, method = 'GET'): Promise<number> => viaProxy(proxy.port, `http://httpbin.foo:8000${path}`, { method }).then((r) => r.status);
  assert.equal(await send('/headers'), 200, 'the dry-run DENY does not deny');
  assert.equal(await send('/get'), 200);
  assert.equal(await send('/get', 'POST'), 403);
  const stats = (): Map<string, number> => new Map(renderEnvoyStats(proxy.engine, undefined).trim().split('\n').map((l) => [l.slice(0, l.lastIndexOf(':')), Number(l.slice(l.lastIndexOf(':') + 1))]));
  let s = stats();
  assert.equal(s.get('http.inbound_0.0.0.0_8000.rbac.allowed'), 2);
  assert.equal(s.get('http.inbound_0.0.0.0_8000.rbac.denied'), 1);
  assert.equal(s.get('http.inbound_0.0.0.0_8000.rbac.istio_dry_run_deny_.shadow_denied'), 1);
  assert.equal(s.get('http.inbound_0.0.0.0_8000.rbac.istio_dry_run_deny_.shadow_allowed'), 2);

  // A new listener version compiles new filters; their counters are the same named counters.
  assert.deepEqual(proxy.engine.apply(TypeUrl.listener, [listener], '2'), []);
  assert.equal(await send('/get', 'DELETE'), 403);
  s = stats();
  assert.equal(s.get('http.inbound_0.0.0.0_8000.rbac.denied'), 2);

  const prom = renderProxyPrometheus(proxy.engine, undefined);
  assert.match(prom, /^# TYPE envoy_http_inbound_0_0_0_0_8000_rbac counter$/m);
  assert.match(prom, /^envoy_http_inbound_0_0_0_0_8000_rbac\{authz_enforce_result="denied"\} 2$/m);
  assert.match(prom, /^envoy_http_inbound_0_0_0_0_8000_rbac\{authz_dry_run_action="deny",authz_dry_run_result="denied"\} 1$/m);
  assert.equal(prom.split('\n').filter((l) => l === '# TYPE envoy_http_inbound_0_0_0_0_8000_rbac counter').length, 1);
});

test('TCP authorization counts per connection under the network filter stat_prefix (tcp.rbac.allowed/denied)', async (t) => {
  const echo = net.createServer((s) => s.pipe(s));
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  const [allowed, denied] = [await freePort(), await freePort()];
  const sec = buildWorkloadSecurity({
    workload: { namespace: 'foo', labels: {} },
    configs: [res('AuthorizationPolicy', 'tcp', { rules: [{ to: [{ operation: { ports: [String(allowed)] } }] }] })],
    rootNamespace: 'istio-system',
    trustDomain: 'cluster.local',
  });
  const listener = (p: number): Raw => viaProto(TypeUrl.listener, {
    name: `tcp_${p}`,
    address: { socket_address: { address: '127.0.0.1', port_value: p } },
    filter_chains: [{ filters: [...sec.tcpFilters, { name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 'echo', cluster: 'echo' } }] }],
  });
  const proxy = await startProxy({ clusters: [staticCluster('echo', [(echo.address() as net.AddressInfo).port])], listeners: [listener(allowed), listener(denied)] });
  t.after(() => {
    proxy.close();
    echo.close();
  });
  for (const p of [allowed, denied]) {
    const b = proxy.engine.listeners.bound.get(`tcp_${p}`)!;
    if (!b.server.listening) await once(b.server, 'listening');
  }
  const talk = (p: number): Promise<string> =>
    new Promise((resolve) => {
      const s = net.connect(p, '127.0.0.1', () => s.write('ping'));
      let got = '';
      s.on('data', (d: Buffer) => {
        got += d.toString();
        if (got === 'ping') s.end();
      });
      s.on('close', () => resolve(got));
      s.on('error', () => undefined);
    });
  assert.equal(await talk(allowed), 'ping');
  assert.equal(await talk(denied), '');
  const s = new Map(proxy.engine.state.stats.entries());
  assert.deepEqual([s.get('tcp.rbac.allowed'), s.get('tcp.rbac.denied')], [1, 1]);
  const prom = renderProxyPrometheus(proxy.engine, undefined);
  assert.match(prom, /^envoy_tcp_\{authz_enforce_result="denied",tcp_prefix="rbac"\} 1$/m);
});
