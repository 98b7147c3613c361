import { test } from 'node:test';
import { expectError, expectValid, expectWarning, run } from './test-helpers.ts';

const server = (extra: object = {}): object => ({ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'], ...extra });
const https = (tls: object, extra: object = {}): object => ({ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['ns/example.com'], tls, ...extra });
const gw = (...servers: object[]): object => ({ selector: { istio: 'ingressgateway' }, servers });

test('valid gateways pass', () => {
  expectValid(run('Gateway', gw(server({ tls: { httpsRedirect: true } }), https({ mode: 'SIMPLE', credentialName: 'cert' }), https({ mode: 'MUTUAL', serverCertificate: '/c', privateKey: '/k', caCertificates: '/ca' }, { port: { number: 8443, name: 'mtls', protocol: 'HTTPS' } }))));
  expectValid(run('Gateway', gw({ port: { number: 15443, name: 'tls', protocol: 'TLS' }, hosts: ['*.local'], tls: { mode: 'AUTO_PASSTHROUGH' } })));
});

test('servers, names, ports, protocols, binds', () => {
  expectError(run('Gateway', { selector: { istio: 'x' } }), 'spec.servers', /at least one server/);
  expectError(run('Gateway', gw(server()), { name: 'my.gateway' }), 'metadata.name', /DNS-1123 label/);
  expectError(run('Gateway', gw(server(), server({ port: { number: 81, name: 'http', protocol: 'HTTP' } }))), 'spec.servers[1].port.name', /must be unique: "http" is already used by servers\[0\]/);
  expectError(run('Gateway', gw(server({ port: { number: 80, name: 'http', protocol: 'SPDY' } }))), 'spec.servers[0].port.protocol', /invalid protocol "SPDY"/);
  expectError(run('Gateway', gw(server({ port: { number: 0, name: 'http', protocol: 'HTTP' } }))), 'spec.servers[0].port.number', /1\.\.65535/);
  expectError(run('Gateway', gw(server({ port: { number: 80, protocol: 'HTTP' } }))), 'spec.servers[0].port.name', /must be set/);
  expectError(run('Gateway', gw(server({ port: { number: 80, name: 'http', protocol: 'HTTP', targetPort: 8080 } }))), 'spec.servers[0].port.targetPort', /no effect on Gateways/);
  expectError(run('Gateway', gw(server({ bind: 'localhost' }))), 'spec.servers[0].bind', /not a valid IP address/);
  expectValid(run('Gateway', gw(server({ bind: 'unix:///var/run/gw.sock', port: { number: 0, name: 'uds', protocol: 'HTTP' } }))));
  expectError(run('Gateway', gw(server({ bind: 'unix://relative', port: { number: 0, name: 'uds', protocol: 'HTTP' } }))), 'spec.servers[0].bind', /absolute path/);
});

test('hosts', () => {
  expectError(run('Gateway', gw(server({ hosts: [] }))), 'spec.servers[0].hosts', /at least one host/);
  expectError(run('Gateway', gw(server({ hosts: ['ns/reviews'] }))), 'spec.servers[0].hosts[0]', /short name "reviews" is not allowed/);
  expectError(run('Gateway', gw(server({ hosts: ['*bar.com'] }))), 'spec.servers[0].hosts[0]', /partial wildcard/);
  expectError(run('Gateway', gw(server({ hosts: ['~/foo.bar.com'] }))), 'spec.servers[0].hosts[0]', /invalid namespace "~"/);
  expectValid(run('Gateway', gw(server({ hosts: ['./foo.bar.com', '*/foo.baz.com', '10.0.0.1'] }))));
});

test('TLS by mode and protocol', () => {
  expectError(run('Gateway', gw({ port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['*'] })), 'spec.servers[0].tls', /needs TLS settings/);
  expectError(run('Gateway', gw(https({ mode: 'SIMPLE' }))), 'spec.servers[0].tls.serverCertificate', /SIMPLE TLS requires a server certificate/);
  expectError(run('Gateway', gw(https({ mode: 'MUTUAL', serverCertificate: '/c', privateKey: '/k' }))), 'spec.servers[0].tls.caCertificates', /requires a client CA bundle/);
  expectValid(run('Gateway', gw(https({ mode: 'MUTUAL', credentialName: 'cred' }))));
  expectError(run('Gateway', gw(https({ mode: 'ISTIO_MUTUAL', credentialName: 'cred' }))), 'spec.servers[0].tls.credentialName', /ISTIO_MUTUAL/);
  expectError(run('Gateway', gw(https({ mode: 'SIMPLE', credentialName: 'a', serverCertificate: '/c', privateKey: '/k' }))), 'spec.servers[0].tls', /only one certificate source/);
  expectError(run('Gateway', gw(https({ mode: 'SIMPLE', serverCertificate: '/c', privateKey: '/k', caCrl: '/crl' }))), 'spec.servers[0].tls.caCrl', /not supported with SIMPLE TLS/);
  expectError(run('Gateway', gw(https({ mode: 'SIMPLE', tlsCertificates: [{ serverCertificate: '/c' }] }))), 'spec.servers[0].tls.tlsCertificates[0].privateKey', /private key/);
  expectWarning(run('Gateway', gw(https({ mode: 'PASSTHROUGH', credentialName: 'x' }))), 'spec.servers[0].tls', /certificates set here are ignored/);
  expectWarning(run('Gateway', gw(https({ mode: 'SIMPLE', credentialName: 'x', cipherSuites: ['NOT-A-CIPHER'] }))), 'spec.servers[0].tls.cipherSuites', /invalid cipher suites/);
  expectWarning(run('Gateway', gw(https({ mode: 'SIMPLE', credentialName: 'x', minProtocolVersion: 'TLSV1_0' }))), 'spec.servers[0].tls.minProtocolVersion', /compatible cipherSuites/);
  expectError(run('Gateway', gw(server({ tls: { mode: 'SIMPLE', credentialName: 'x' } }))), 'spec.servers[0].tls', /plain-text HTTP server cannot have TLS settings/);
  expectError(run('Gateway', gw({ port: { number: 31400, name: 'tcp', protocol: 'TCP' }, hosts: ['*'], tls: { mode: 'PASSTHROUGH' } })), 'spec.servers[0].tls', /TCP server cannot have TLS settings/);
  expectWarning(run('Gateway', gw(https({ mode: 'SIMPLE', credentialName: 'x', httpsRedirect: true }))), 'spec.servers[0].tls.httpsRedirect', /only has an effect on HTTP servers/);
});
