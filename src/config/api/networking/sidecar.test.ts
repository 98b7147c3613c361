import { test } from 'node:test';
import { expectError, expectValid, expectWarning, run } from './test-helpers.ts';

const egress = (hosts: string[], extra: object = {}): object => ({ hosts, ...extra });
const ingress = (extra: object = {}): object => ({ port: { number: 9080, protocol: 'HTTP', name: 'http' }, defaultEndpoint: '127.0.0.1:8080', ...extra });

test('valid sidecars pass', () => {
  expectValid(run('Sidecar', { egress: [egress(['./*', 'istio-system/*'])] }));
  expectValid(run('Sidecar', {
    workloadSelector: { labels: { app: 'ratings' } },
    ingress: [ingress(), ingress({ port: { number: 9443, protocol: 'HTTPS', name: 'https' }, defaultEndpoint: 'unix:///var/run/app.sock', tls: { mode: 'SIMPLE', serverCertificate: '/c', privateKey: '/k' } })],
    egress: [egress(['~/*.internal.com'], { port: { number: 3306, protocol: 'MYSQL', name: 'mysql' } }), egress(['*/*'])],
    outboundTrafficPolicy: { mode: 'ALLOW_ANY', egressProxy: { host: 'egress.istio-system.svc.cluster.local', port: { number: 8080 } } },
    inboundConnectionPool: { http: { http1MaxPendingRequests: 100 } },
  }));
});

test('selector, empty sidecar', () => {
  expectError(run('Sidecar', { workloadSelector: { labels: { app: '*' } }, egress: [egress(['./*'])] }), 'spec.workloadSelector.labels.app', /wildcard is not supported/);
  expectWarning(run('Sidecar', { workloadSelector: { labels: {} }, egress: [egress(['./*'])] }), 'spec.workloadSelector', /no labels/);
  expectError(run('Sidecar', {}), 'spec', /empty Sidecar/);
});

test('egress listeners', () => {
  expectError(run('Sidecar', { egress: [egress(['foo.com'])] }), 'spec.egress[0].hosts[0]', /namespace\/dnsName/);
  expectError(run('Sidecar', { egress: [egress(['ns/foo'])] }), 'spec.egress[0].hosts[0]', /short name/);
  expectError(run('Sidecar', { egress: [egress(['ns/10.0.0.1'])] }), 'spec.egress[0].hosts[0]', /all digits/);
  expectError(run('Sidecar', { egress: [egress([])] }), 'spec.egress[0].hosts', /at least one host/);
  expectError(run('Sidecar', { egress: [egress(['./*']), egress(['./*'], { port: { number: 80, protocol: 'HTTP', name: 'http' } })] }), 'spec.egress[0]', /must be the last/);
  expectError(run('Sidecar', { egress: [egress(['./*'], { port: { number: 80, name: 'a' } }), egress(['./*'], { port: { number: 80, name: 'b' } })] }), 'spec.egress[1].port.number', /already used/);
  expectError(run('Sidecar', { egress: [egress(['./*'], { port: { number: 0, name: 'uds' } })] }), 'spec.egress[0].bind', /unix domain socket bind/);
  expectError(run('Sidecar', { egress: [egress(['./*'], { port: { number: 0 }, bind: 'unix:///a.sock', captureMode: 'IPTABLES' })] }), 'spec.egress[0].captureMode', /DEFAULT or NONE/);
  expectError(run('Sidecar', { egress: [egress(['./*'], { port: { number: 80, protocol: 'SPDY' } })] }), 'spec.egress[0].port.protocol', /unsupported protocol/);
  expectWarning(run('Sidecar', { egress: [egress(['ns/*', 'ns/a.b.c'])] }), 'spec.egress[0].hosts[1]', /duplicated egress host/);
  expectWarning(run('Sidecar', { egress: [egress(['*/*', 'ns/a.b.c'])] }), 'spec.egress[0].hosts', /"\*\/\*" already selects every host/);
});

test('ingress listeners', () => {
  expectError(run('Sidecar', { ingress: [{ defaultEndpoint: '127.0.0.1:80' }] }), 'spec.ingress[0].port', /port is required/);
  expectError(run('Sidecar', { ingress: [ingress({ defaultEndpoint: '10.0.0.1:8080' })] }), 'spec.ingress[0].defaultEndpoint', /must be 127\.0\.0\.1:PORT/);
  expectError(run('Sidecar', { ingress: [ingress({ defaultEndpoint: '127.0.0.1:http' })] }), 'spec.ingress[0].defaultEndpoint', /not a number/);
  expectValid(run('Sidecar', { ingress: [ingress({ defaultEndpoint: '[::1]:8080' }), ingress({ port: { number: 9081 }, defaultEndpoint: ':8081' })] }));
  expectError(run('Sidecar', { ingress: [ingress(), ingress()] }), 'spec.ingress[1].port.number', /already used/);
  expectError(run('Sidecar', { ingress: [ingress({ tls: { mode: 'SIMPLE', credentialName: 'c' } })] }), 'spec.ingress[0].tls.credentialName', /not supported in Sidecar ingress/);
  expectError(run('Sidecar', { ingress: [ingress({ tls: { mode: 'ISTIO_MUTUAL' } })] }), 'spec.ingress[0].tls.mode', /cannot be used in Sidecar ingress/);
  expectError(run('Sidecar', { ingress: [ingress({ tls: { mode: 'SIMPLE', serverCertificate: '/c', privateKey: '/k' } })] }), 'spec.ingress[0].tls', /HTTPS or TLS port protocol/);
  expectWarning(run('Sidecar', { ingress: [ingress({ port: { number: 3306, protocol: 'TCP', name: 'db' }, connectionPool: { http: { maxRetries: 1 } } })] }), 'spec.ingress[0].connectionPool.http', /only the TCP settings apply/);
  expectError(run('Sidecar', { ingress: [ingress({ port: { number: 80, targetPort: 8080 } })] }), 'spec.ingress[0].port.targetPort', /no effect on Sidecars/);
});

test('outbound traffic policy', () => {
  expectError(run('Sidecar', { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY', egressProxy: { host: 'a.b', port: { number: 80 } } } }), 'spec.outboundTrafficPolicy.egressProxy', /only be set with mode ALLOW_ANY/);
  expectError(run('Sidecar', { outboundTrafficPolicy: { mode: 'ALLOW_ANY', egressProxy: { host: 'a.b' } } }), 'spec.outboundTrafficPolicy.egressProxy.port', /required/);
  expectError(run('Sidecar', { outboundTrafficPolicy: { mode: 'ALLOW_ANY_DYNAMIC_DNS' } }), 'spec.outboundTrafficPolicy.mode', /only supported in MeshConfig/);
});
