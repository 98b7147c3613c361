import { test } from 'node:test';
import { expectError, expectValid, expectWarning, run } from './test-helpers.ts';

const port = (number: number, name: string, protocol?: string): object => ({ number, name, ...(protocol === undefined ? {} : { protocol }) });
const se = (extra: object): object => ({ hosts: ['api.example.com'], ports: [port(443, 'https', 'TLS')], ...extra });

test('valid service entries pass', () => {
  expectValid(run('ServiceEntry', se({ resolution: 'DNS', location: 'MESH_EXTERNAL' })));
  expectValid(run('ServiceEntry', se({ resolution: 'STATIC', addresses: ['240.0.0.1'], endpoints: [{ address: '10.0.0.1', ports: { https: 8443 } }] })));
  expectValid(run('ServiceEntry', { hosts: ['*.example.com'], ports: [port(80, 'http', 'HTTP')], resolution: 'DYNAMIC_DNS' }));
});

test('hosts and addresses', () => {
  expectError(run('ServiceEntry', se({ hosts: [] })), 'spec.hosts', /at least one host/);
  expectError(run('ServiceEntry', se({ hosts: ['*'] })), 'spec.hosts[0]', /"\*" is not allowed in a ServiceEntry/);
  expectWarning(run('ServiceEntry', se({ hosts: ['*foo.com'] })), 'spec.hosts[0]', /partial wildcard/);
  expectError(run('ServiceEntry', se({ addresses: ['10.0.0.0/33'] })), 'spec.addresses[0]', /prefix length/);
  expectError(run('ServiceEntry', se({ addresses: ['1.2.3'] })), 'spec.addresses[0]', /not a valid IP address or CIDR/);
  expectError(run('ServiceEntry', se({ resolution: 'DNS', addresses: ['10.0.0.0/8'] })), 'spec.addresses', /CIDR addresses are only allowed with resolution NONE or STATIC/);
});

test('ports', () => {
  expectError(run('ServiceEntry', se({ ports: [port(80, 'http'), port(81, 'http')] })), 'spec.ports[1].name', /"http" is already defined/);
  expectError(run('ServiceEntry', se({ ports: [port(80, 'a'), port(80, 'b')] })), 'spec.ports[1].number', /port 80 is already defined/);
  expectError(run('ServiceEntry', se({ ports: [port(80, 'http_1')] })), 'spec.ports[0].name', /DNS-1123 label/);
  expectError(run('ServiceEntry', se({ ports: [port(80, 'http', 'SPDY')] })), 'spec.ports[0].protocol', /unsupported protocol "SPDY"/);
  expectError(run('ServiceEntry', se({ ports: [{ ...port(80, 'http', 'HTTP'), targetPort: 70000 }] })), 'spec.ports[0].targetPort', /1\.\.65535/);
  expectWarning(run('ServiceEntry', se({ ports: [port(5432, 'tcp', 'TCP')] }), { labels: { 'networking.istio.io/enable-autoallocate-ip': 'false' } }), 'spec.ports[0]', /without addresses/);
});

test('resolution rules', () => {
  expectError(run('ServiceEntry', se({ resolution: 'NONE', endpoints: [{ address: '10.0.0.1' }] })), 'spec.endpoints', /resolution NONE takes no endpoints/);
  expectError(run('ServiceEntry', se({ resolution: 'STATIC', endpoints: [{ address: 'db.example.com' }] })), 'spec.endpoints[0].address', /not a valid IP address/);
  expectError(run('ServiceEntry', se({ resolution: 'STATIC', endpoints: [{ address: '10.0.0.1', ports: { grpc: 9000 } }] })), 'spec.endpoints[0].ports.grpc', /not defined by the ServiceEntry/);
  expectError(run('ServiceEntry', se({ resolution: 'STATIC', endpoints: [{ address: 'unix:///sock', ports: { https: 1 } }] })), 'spec.endpoints[0].ports', /must not have ports/);
  expectError(run('ServiceEntry', se({ hosts: ['*.example.com'], resolution: 'DNS' })), 'spec.hosts[0]', /must be FQDNs \(no wildcards\)/);
  expectValid(run('ServiceEntry', se({ hosts: ['*.example.com'], resolution: 'DNS', endpoints: [{ address: 'proxy.example.com' }] })));
  expectError(run('ServiceEntry', se({ resolution: 'DNS_ROUND_ROBIN', endpoints: [{ address: 'a.com' }, { address: 'b.com' }] })), 'spec.endpoints', /at most one endpoint/);
  expectError(run('ServiceEntry', se({ resolution: 'DNS', endpoints: [{ address: 'not valid!' }] })), 'spec.endpoints[0].address', /not a valid FQDN or IP/);
  expectError(run('ServiceEntry', se({ resolution: 'DYNAMIC_DNS' })), 'spec.hosts[0]', /needs wildcard hosts/);
  expectError(run('ServiceEntry', { hosts: ['*.example.com'], ports: [port(5432, 'tcp', 'TCP')], resolution: 'DYNAMIC_DNS' }), 'spec.ports[0].protocol', /only HTTP, TLS, GRPC and HTTP2/);
  expectError(run('ServiceEntry', se({ resolution: 'DNS', hosts: ['a.com', 'b.com'], ports: [port(5432, 'tcp', 'TCP')] })), 'spec.ports[0]', /several hosts with a non-HTTP, non-TLS port/);
  expectValid(run('ServiceEntry', se({ resolution: 'NONE', hosts: ['a.com', 'b.com'], ports: [port(5432, 'tcp', 'TCP')], addresses: ['10.1.0.0/16'] })));
});

test('workloadSelector and exportTo', () => {
  expectError(run('ServiceEntry', se({ resolution: 'STATIC', workloadSelector: { labels: { app: 'a' } }, endpoints: [] })), 'spec', /only one of workloadSelector or endpoints/);
  expectWarning(run('ServiceEntry', se({ resolution: 'NONE', workloadSelector: { labels: { app: 'a' } } })), 'spec.workloadSelector', /no effect with resolution NONE/);
  expectValid(run('ServiceEntry', se({ exportTo: ['~'] })));
  expectError(run('ServiceEntry', se({ exportTo: ['~', 'ns1'] })), 'spec.exportTo', /"~" .* cannot be combined/);
  expectError(run('ServiceEntry', se({ exportTo: ['*', 'ns1'] })), 'spec.exportTo', /"\*" cannot be combined/);
});
