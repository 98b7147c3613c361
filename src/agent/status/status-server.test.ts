// The status port against real sockets: merged metrics with a real app metrics server (and one that fails), the
// readiness endpoint, and app probes rewritten to a real HTTP server, a TCP listener and a gRPC health service.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { IstioMetrics, unknownWorkload } from '../../proxy/stats/istio-metrics.ts';
import { parseAppProbeFlag, parseKubeAppProbers, type AppProbe } from './app-probes.ts';
import { decodeHealthRequest, encodeHealthResponse, HEALTH_CHECK_PATH } from './grpc-health.ts';
import { parseExposition } from './prom-text.ts';
import { startStatusServer, type StatusServerOptions } from './status-server.ts';

async function listen(server: http.Server | net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

function proxyMetrics(): IstioMetrics {
  const m = new IstioMetrics();
  m.scope({
    reporter: 'destination', source: unknownWorkload, destination: { ...unknownWorkload, workload: 'web-v1' },
    destinationService: 'web.default.svc.cluster.local', destinationServiceName: 'web', destinationServiceNamespace: 'default',
    requestProtocol: 'http', connectionSecurityPolicy: 'mutual_tls',
  }).record(200, '-', 3, 10, 20);
  return m;
}

function options(o: Partial<StatusServerOptions>): StatusServerOptions {
  const metrics = proxyMetrics();
  return { address: '127.0.0.1', port: 0, ready: () => ({ ready: true, reason: '' }), proxyMetrics: () => metrics.render(), probes: new Map(), log: () => undefined, ...o };
}

test('/stats/prometheus merges the proxy, the app and the agent; an app scrape failure keeps the rest and is counted', async (t) => {
  let appUp = true;
  const app = http.createServer((req, res) => {
    if (!appUp) {
      res.statusCode = 500;
      return res.end('boom');
    }
    assert.equal(req.url, '/custom/metrics');
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end('# HELP app_requests_total Requests.\n# TYPE app_requests_total counter\napp_requests_total{path="/"} 42\n# TYPE istio_requests_total gauge\nistio_requests_total 1\n');
  });
  const appPort = await listen(app);
  const warnings: string[] = [];
  const s = await startStatusServer(options({ appMetrics: { port: appPort, path: '/custom/metrics' }, log: (_l, m) => warnings.push(m) }));
  t.after(() => {
    s.close();
    app.close();
  });
  const ok = await get(s.port, '/stats/prometheus');
  assert.equal(ok.status, 200);
  assert.match(ok.body, /^istio_requests_total\{reporter="destination",[^}]*destination_workload="web-v1"[^}]*\} 1$/m);
  assert.match(ok.body, /^app_requests_total\{path="\/"\} 42$/m);
  assert.match(ok.body, /^istio_agent_scrape_failures_total\{type="application"\} 0$/m);
  assert.ok(!ok.body.includes('istio_requests_total 1\n'), "the app's clashing family is dropped");
  assert.ok(warnings.some((w) => w.includes('istio_requests_total (gauge, already counter)')));
  const families = parseExposition(ok.body).families;
  const typeLines = ok.body.split('\n').filter((l) => l.startsWith('# TYPE '));
  assert.equal(typeLines.length, new Set(typeLines).size, 'one TYPE line per family');
  assert.ok(families.some((f) => f.name === 'istio_agent_process_resident_memory_bytes' && f.type === 'gauge'));

  appUp = false;
  const failed = await get(s.port, '/stats/prometheus');
  assert.equal(failed.status, 200);
  assert.match(failed.body, /^istio_requests_total\{/m, "the proxy's part is still there");
  assert.ok(!failed.body.includes('app_requests_total'));
  assert.match(failed.body, /^istio_agent_scrape_failures_total\{type="application"\} 1$/m);
  assert.ok(warnings.some((w) => /scraping the app's metrics at http:\/\/127\.0\.0\.1:\d+\/custom\/metrics failed: HTTP 500/.test(w)));

  app.close();
  const gone = await get(s.port, '/stats/prometheus');
  assert.match(gone.body, /^istio_agent_scrape_failures_total\{type="application"\} 2$/m);
});

test('an app that never answers costs at most the scrape budget Prometheus announces', async (t) => {
  const hang = net.createServer(() => undefined);
  const port = await listen(hang);
  const s = await startStatusServer(options({ appMetrics: { port, path: '/metrics' } }));
  t.after(() => {
    s.close();
    hang.close();
  });
  const started = performance.now();
  const r = await get(s.port, '/stats/prometheus', { 'x-prometheus-scrape-timeout-seconds': '0.5' });
  assert.ok(performance.now() - started < 3000);
  assert.match(r.body, /istio_agent_scrape_failures_total\{type="application"\} 1/);
});

test('/healthz/ready follows the proxy readiness', async (t) => {
  let ready = false;
  const s = await startStatusServer(options({ ready: () => ({ ready, reason: 'not ready: waiting for the first configuration' }) }));
  t.after(() => s.close());
  assert.deepEqual(await get(s.port, '/healthz/ready'), { status: 503, body: 'not ready: waiting for the first configuration\n' });
  ready = true;
  assert.equal((await get(s.port, '/healthz/ready')).status, 200);
});

test('app probes: HTTP status and headers pass through, TCP connect, gRPC health; unknown probes are 404', async (t) => {
  let healthy = true;
  const seen: http.IncomingHttpHeaders[] = [];
  const app = http.createServer((req, res) => {
    seen.push(req.headers);
    res.statusCode = req.url === '/ready' && healthy ? 200 : 503;
    res.end();
  });
  const appPort = await listen(app);
  const tcp = net.createServer((s) => s.destroy());
  const tcpPort = await listen(tcp);
  const spare = net.createServer();
  const closedPort = await listen(spare);
  await new Promise<void>((r) => spare.close(() => r()));
  const statuses: Record<string, number> = { '': 1, 'db': 2 };
  const grpcServer = new grpc.Server();
  grpcServer.addService(
    { Check: { path: HEALTH_CHECK_PATH, requestStream: false, responseStream: false, requestSerialize: (x: Buffer) => x, requestDeserialize: (b: Buffer) => ({ service: decodeHealthRequest(b) }), responseSerialize: (n: number) => encodeHealthResponse(n), responseDeserialize: (b: Buffer) => b } },
    {
      Check: (call: grpc.ServerUnaryCall<{ service: string }, number>, cb: grpc.sendUnaryData<number>) => {
        const st = statuses[call.request.service];
        if (st === undefined) cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
        else cb(null, st);
      },
    },
  );
  const grpcPort = await new Promise<number>((resolve, reject) => grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const flags = [`web:readyz=http://127.0.0.1:${appPort}/ready`, `web:livez=tcp://127.0.0.1:${tcpPort}`, `web:startupz=tcp://127.0.0.1:${closedPort}`, `api:readyz=grpc://127.0.0.1:${grpcPort}`, `api:livez=grpc://127.0.0.1:${grpcPort}/db`];
  const probes = new Map<string, AppProbe>();
  for (const f of flags) {
    const r = parseAppProbeFlag(f);
    assert.ok(r.ok, f);
    probes.set(r.value[0], r.value[1]);
  }
  const kube = parseKubeAppProbers(JSON.stringify({ '/app-health/kube/readyz': { httpGet: { path: '/ready', port: appPort, httpHeaders: [{ name: 'X-Probe', value: 'kubelet' }] }, timeoutSeconds: 2 } }));
  assert.ok(kube.ok);
  for (const [k, v] of kube.value) probes.set(k, v);
  const s = await startStatusServer(options({ probes }));
  t.after(() => {
    s.close();
    app.close();
    tcp.close();
    grpcServer.forceShutdown();
  });
  assert.equal((await get(s.port, '/app-health/web/readyz')).status, 200);
  healthy = false;
  assert.equal((await get(s.port, '/app-health/web/readyz')).status, 503, "the app's status passes through");
  assert.equal((await get(s.port, '/app-health/web/livez')).status, 200);
  const refused = await get(s.port, '/app-health/web/startupz');
  assert.equal(refused.status, 500);
  assert.match(refused.body, /ECONNREFUSED/);
  const serving = await get(s.port, '/app-health/api/readyz');
  assert.equal(serving.status, 200, serving.body);
  const notServing = await get(s.port, '/app-health/api/livez');
  assert.equal(notServing.status, 500);
  assert.match(notServing.body, /service db: NOT_SERVING/);
  healthy = true;
  assert.equal((await get(s.port, '/app-health/kube/readyz')).status, 200);
  assert.equal(seen.at(-1)?.['x-probe'], 'kubelet');
  assert.equal((await get(s.port, '/app-health/nope/readyz')).status, 404);
  const metrics = await get(s.port, '/stats/prometheus');
  assert.match(metrics.body, /istio_agent_app_probes_total\{probe="\/app-health\/web\/readyz",result="failed"\} 1/);
});

test('probe flags and ISTIO_KUBE_APP_PROBERS: bad input names the flag and field', () => {
  assert.match(String(parseAppProbeFlag('web=http://x').ok ? '' : (parseAppProbeFlag('web=http://x') as { error: string }).error), /NAME:KIND=URL/);
  const kind = parseAppProbeFlag('web:alive=http://127.0.0.1:1/');
  assert.ok(!kind.ok && /livez, readyz or startupz/.test(kind.error));
  const scheme = parseAppProbeFlag('web:livez=ftp://127.0.0.1:21/');
  assert.ok(!scheme.ok && /http, https, tcp or grpc/.test(scheme.error));
  const port = parseKubeAppProbers('{"/app-health/web/livez": {"httpGet": {"path": "/", "port": "http"}}}');
  assert.ok(!port.ok && port.error.includes('/app-health/web/livez.httpGet.port'));
  const key = parseKubeAppProbers('{"/healthz": {"tcpSocket": {"port": 1}}}');
  assert.ok(!key.ok && /\/app-health\/<container>/.test(key.error));
});
