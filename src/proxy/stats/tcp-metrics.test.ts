// Istio's TCP metrics: one series per label set and response flags, request_protocol "tcp", rendered as counters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IstioMetrics, unknownWorkload } from './istio-metrics.ts';

test('TCP series render as Istio counters with request_protocol="tcp" and their response flags', () => {
  const m = new IstioMetrics();
  const scope = m.scope({
    reporter: 'destination',
    source: { ...unknownWorkload, principal: 'spiffe://cluster.local/ns/default/sa/client' },
    destination: { ...unknownWorkload, workload: 'tcp-echo-v1' },
    destinationService: 'tcp-echo.default.svc.cluster.local',
    destinationServiceName: 'tcp-echo',
    destinationServiceNamespace: 'default',
    requestProtocol: 'http',
    connectionSecurityPolicy: 'mutual_tls',
  });
  assert.ok(!m.render().includes('istio_tcp_'), 'no TCP families before a TCP connection');
  const ok = scope.tcp('-');
  assert.equal(scope.tcp('-'), ok, 'one series per flags');
  ok.opened += 2;
  ok.closed += 1;
  ok.received += 12;
  ok.sent += 16;
  scope.tcp('UF').opened++;
  const text = m.render();
  for (const [name, value] of [['istio_tcp_connections_opened_total', 2], ['istio_tcp_connections_closed_total', 1], ['istio_tcp_received_bytes_total', 12], ['istio_tcp_sent_bytes_total', 16]] as const) {
    assert.match(text, new RegExp(`# TYPE ${name} counter\\n${name}\\{reporter="destination",[^}]*source_principal="spiffe://cluster.local/ns/default/sa/client",[^}]*destination_workload="tcp-echo-v1",[^}]*request_protocol="tcp",response_flags="-",connection_security_policy="mutual_tls"\\} ${value}\\n`));
  }
  assert.match(text, /istio_tcp_connections_opened_total\{[^}]*response_flags="UF"[^}]*\} 1/);
  assert.ok(!/istio_tcp_[a-z_]+\{[^}]*request_protocol="http"/.test(text));
});

test('explicit-mode CONNECT tunnels are counted as TCP connections: opened, closed, bytes each way', async (t) => {
  const { startProxy, outboundListener, routeConfig, vhost, staticCluster } = await import('../../../test/proxy/helpers.ts');
  const net = await import('node:net');
  // A TCP echo upstream that answers each chunk with "echo:" + chunk.
  const echo = net.createServer((s) => s.on('data', (d: Buffer) => s.write(Buffer.concat([Buffer.from('echo:'), d]))).on('end', () => s.end()));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const echoPort = (echo.address() as import('node:net').AddressInfo).port;
  const cluster = 'outbound|9000||tcp-echo.default.svc.cluster.local';
  const p = await startProxy({
    clusters: [staticCluster(cluster, [echoPort])],
    listeners: [outboundListener(9000)],
    routes: [routeConfig('9000', [vhost('tcp-echo', ['tcp-echo:9000'], [{ match: { prefix: '/' }, route: { cluster } }])])],
  });
  t.after(() => {
    p.close();
    echo.close();
  });
  const client = net.connect(p.port, '127.0.0.1');
  let got = '';
  const established = new Promise<void>((resolve) => client.on('data', (d: Buffer) => {
    got += d.toString();
    if (got.includes('\r\n\r\n')) resolve();
  }));
  client.write('CONNECT tcp-echo:9000 HTTP/1.1\r\nhost: tcp-echo:9000\r\n\r\n');
  await established;
  assert.match(got, /^HTTP\/1\.1 200 Connection established\r\n\r\n$/);
  got = '';
  const echoed = new Promise<void>((resolve) => client.on('data', () => got === 'echo:hello tunnel' && resolve()));
  client.write('hello tunnel');
  await echoed;
  const opened = p.engine.metrics.render();
  assert.match(opened, /^istio_tcp_connections_opened_total\{reporter="source",[^}]*destination_service="tcp-echo\.default\.svc\.cluster\.local",[^}]*request_protocol="tcp",response_flags="-",connection_security_policy="unknown"\} 1$/m);
  assert.match(opened, /^istio_tcp_received_bytes_total\{[^}]*\} 12$/m);
  assert.match(opened, /^istio_tcp_sent_bytes_total\{[^}]*\} 17$/m);
  assert.match(opened, /^istio_tcp_connections_closed_total\{[^}]*\} 0$/m);
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  client.end();
  await closed;
  // The proxy finishes the stream when its upstream socket closes, right after the client saw the close: bounded wait.
  const deadline = performance.now() + 2000;
  while (!/^istio_tcp_connections_closed_total\{[^}]*\} 1$/m.test(p.engine.metrics.render()) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const text = p.engine.metrics.render();
  assert.match(text, /^istio_tcp_connections_closed_total\{[^}]*request_protocol="tcp",response_flags="-"[^}]*\} 1$/m);
  assert.match(text, /^istio_requests_total\{[^}]*response_code="200"[^}]*\} 1$/m, 'the CONNECT request itself is still counted');
});
