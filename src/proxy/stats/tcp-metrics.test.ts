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
