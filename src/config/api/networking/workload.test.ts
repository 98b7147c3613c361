import { test } from 'node:test';
import { expectError, expectValid, expectWarning, run } from './test-helpers.ts';

test('WorkloadEntry', () => {
  expectValid(run('WorkloadEntry', { address: '10.0.0.5', ports: { http: 8080 }, labels: { app: 'ratings', version: 'v1' }, serviceAccount: 'ratings' }));
  expectValid(run('WorkloadEntry', { address: 'vm1.example.com' }));
  expectValid(run('WorkloadEntry', { address: 'unix:///var/run/app.sock' }));
  expectError(run('WorkloadEntry', { labels: { app: 'x' } }), 'spec.address', /address is required/);
  expectWarning(run('WorkloadEntry', { network: 'vpc-1' }), 'spec.address', /only reachable through that network's gateway/);
  expectError(run('WorkloadEntry', { address: 'not valid!' }), 'spec.address', /not a valid FQDN or IP address/);
  expectError(run('WorkloadEntry', { address: 'unix:///a.sock', ports: { http: 80 } }), 'spec.ports', /must not have ports/);
  expectError(run('WorkloadEntry', { address: 'unix://a.sock' }), 'spec.address', /absolute path/);
  expectError(run('WorkloadEntry', { address: '10.0.0.1', ports: { Http_1: 80 } }), 'spec.ports.Http_1', /DNS-1123 label/);
  expectError(run('WorkloadEntry', { address: '10.0.0.1', ports: { http: 0 } }), 'spec.ports.http', /1\.\.65535/);
  expectError(run('WorkloadEntry', { address: '10.0.0.1', labels: { '-bad': 'x' } }), 'spec.labels.-bad', /label key/);
});

test('WorkloadGroup', () => {
  expectValid(run('WorkloadGroup', { metadata: { labels: { app: 'ratings' } }, template: { serviceAccount: 'ratings', ports: { http: 9080 } }, probe: { httpGet: { port: 9080, path: '/ready' }, periodSeconds: 5 } }));
  expectValid(run('WorkloadGroup', { template: {} }));
  expectError(run('WorkloadGroup', { metadata: { labels: { app: 'a' } } }), 'spec.template', /template is required/);
  expectError(run('WorkloadGroup', { template: {}, metadata: { labels: { 'a/b/c': 'x' } } }), 'spec.metadata.labels.a/b/c', /label key/);
  expectError(run('WorkloadGroup', { template: {}, probe: { periodSeconds: -1, tcpSocket: { port: 80 } } }), 'spec.probe.periodSeconds', /must not be negative/);
  expectError(run('WorkloadGroup', { template: {}, probe: { httpGet: { port: 80, scheme: 'ftp' } } }), 'spec.probe.httpGet.scheme', /"HTTP" or "HTTPS"/);
  expectError(run('WorkloadGroup', { template: {}, probe: { httpGet: { port: 80, httpHeaders: [{ name: 'x_y', value: '1' }] } } }), 'spec.probe.httpGet.httpHeaders[0].name', /not valid/);
  expectError(run('WorkloadGroup', { template: {}, probe: { exec: { command: [] } } }), 'spec.probe.exec.command', /required/);
  expectError(run('WorkloadGroup', { template: {}, probe: { tcpSocket: { port: 0 } } }), 'spec.probe.tcpSocket.port', /1\.\.65535/);
  expectError(run('WorkloadGroup', { template: {}, probe: { periodSeconds: 5 } }), 'spec.probe', /needs a check method/);
});
