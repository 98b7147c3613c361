import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { Resource } from '../resource.ts';
import { defaultValidationContext } from '../validation/report.ts';
import { validateDestinationRule } from './destination-rule.ts';
import { expectError, expectValid, expectWarning, run } from './test-helpers.ts';

const dr = (trafficPolicy: object, extra: object = {}): object => ({ host: 'reviews', trafficPolicy, ...extra });

test('host and subsets', () => {
  expectValid(run('DestinationRule', { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] }));
  expectError(run('DestinationRule', { subsets: [] }), 'spec.host', /host is required/);
  expectError(run('DestinationRule', { host: 'foo*.com' }), 'spec.host', /not valid/);
  expectError(run('DestinationRule', { host: 'reviews', subsets: [{ name: 'v1' }, { name: 'v1' }] }), 'spec.subsets[1].name', /duplicate subset name "v1"/);
  expectError(run('DestinationRule', { host: 'reviews', subsets: [{ name: 'v1.0' }] }), 'spec.subsets[0].name', /DNS-1123 label/);
  expectError(run('DestinationRule', { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'not valid!' } }] }), 'spec.subsets[0].labels.version', /label value/);
  expectError(run('DestinationRule', { host: 'reviews', subsets: [{ name: 'v1', trafficPolicy: {} }] }), 'spec.subsets[0].trafficPolicy', /at least one field/);
});

test('load balancer and consistent hash', () => {
  expectValid(run('DestinationRule', dr({ loadBalancer: { consistentHash: { httpCookie: { name: 'user', ttl: '0s' }, ringHash: { minimumRingSize: 1024 } } } })));
  expectError(run('DestinationRule', dr({ loadBalancer: { consistentHash: { httpCookie: { ttl: '10s' } } } })), 'spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.name', /required/);
  expectError(run('DestinationRule', dr({ loadBalancer: { consistentHash: { httpCookie: { name: 'c', attributes: [{ name: 'a' }, { name: 'a' }] } } } })), 'spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes[1].name', /duplicate cookie attribute/);
  expectError(run('DestinationRule', dr({ loadBalancer: { consistentHash: { useSourceIp: true, maglev: { tableSize: 1000 } } } })), 'spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize', /prime/);
  expectError(run('DestinationRule', dr({ loadBalancer: { consistentHash: { useSourceIp: true, minimumRingSize: 10, ringHash: {} } } })), 'spec.trafficPolicy.loadBalancer.consistentHash', /only one of minimumRingSize/);
  expectWarning(run('DestinationRule', dr({ loadBalancer: { consistentHash: { useSourceIp: true, minimumRingSize: 10 } } })), 'spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize', /deprecated/);
  expectError(run('DestinationRule', dr({ loadBalancer: { warmup: { minimumPercent: 150 } } })), 'spec.trafficPolicy.loadBalancer.warmup.duration', /required/);
  expectError(run('DestinationRule', dr({ loadBalancer: { localityLbSetting: {}, zoneAwareLbSetting: {} } })), 'spec.trafficPolicy.loadBalancer', /only one of localityLbSetting and zoneAwareLbSetting/);
});

test('locality load balancing', () => {
  const lb = (localityLbSetting: object, outlier = true): object =>
    dr({ loadBalancer: { localityLbSetting }, ...(outlier ? { outlierDetection: { consecutive5xxErrors: 5 } } : {}) });
  expectValid(run('DestinationRule', lb({ distribute: [{ from: 'us-west/zone1/*', to: { 'us-west/zone1/*': 80, 'us-west/zone2/*': 20 } }] })));
  expectError(run('DestinationRule', lb({ distribute: [{ from: 'a/*', to: { 'a/*': 50, 'b/*': 20 } }] })), 'spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to', /add up to 100 \(they add up to 70\)/);
  expectError(run('DestinationRule', lb({ distribute: [{ from: 'a', to: { a: 100 } }], failover: [{ from: 'a', to: 'b' }] })), 'spec.trafficPolicy.loadBalancer.localityLbSetting', /distribute and failover cannot be set together/);
  expectError(run('DestinationRule', lb({ failover: [{ from: 'us-east', to: 'us-east' }] })), 'spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]', /different region/);
  expectError(run('DestinationRule', lb({ failover: [{ from: 'us-east/z1', to: 'us-west' }] })), 'spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]', /regions only/);
  expectWarning(run('DestinationRule', lb({ failover: [{ from: 'us-east', to: 'us-west' }] }, false)), 'spec.trafficPolicy.loadBalancer.localityLbSetting', /without outlier detection/);
  expectError(run('DestinationRule', lb({ distribute: [{ from: 'a/*/c', to: { a: 100 } }] })), 'spec.trafficPolicy.loadBalancer.localityLbSetting.distribute', /at the end/);
});

test('connection pool and outlier detection', () => {
  expectError(run('DestinationRule', dr({ connectionPool: {} })), 'spec.trafficPolicy.connectionPool', /at least one of tcp or http/);
  expectError(run('DestinationRule', dr({ connectionPool: { http: { http1MaxPendingRequests: -1 } } })), 'spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests', /must not be negative/);
  expectError(run('DestinationRule', dr({ connectionPool: { http: { h2UpgradePolicy: 'UPGRADE', useClientProtocol: true } } })), 'spec.trafficPolicy.connectionPool.http.useClientProtocol', /UPGRADE/);
  expectError(run('DestinationRule', dr({ connectionPool: { http: { http2KeepAlive: { interval: '10s' } } } })), 'spec.trafficPolicy.connectionPool.http.http2KeepAlive.timeout', /required/);
  expectError(run('DestinationRule', dr({ connectionPool: { tcp: { connectTimeout: '0.5ms' } } })), 'spec.trafficPolicy.connectionPool.tcp.connectTimeout', /at least 1ms/);
  expectValid(run('DestinationRule', dr({ connectionPool: { tcp: { idleTimeout: '0s' } } })));
  expectError(run('DestinationRule', dr({ outlierDetection: { interval: '1.5ms' } })), 'spec.trafficPolicy.outlierDetection.interval', /whole milliseconds/);
  expectError(run('DestinationRule', dr({ outlierDetection: { maxEjectionPercent: 101 } })), 'spec.trafficPolicy.outlierDetection.maxEjectionPercent', /0\.\.100/);
  expectError(run('DestinationRule', dr({ outlierDetection: { consecutiveLocalOriginFailures: 3 } })), 'spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures', /splitExternalLocalOriginErrors/);
  expectWarning(run('DestinationRule', dr({ outlierDetection: { consecutiveErrors: 3 } })), 'spec.trafficPolicy.outlierDetection.consecutiveErrors', /deprecated/);
});

test('client TLS', () => {
  expectValid(run('DestinationRule', dr({ tls: { mode: 'SIMPLE', credentialName: 'cred' } })));
  expectError(run('DestinationRule', dr({ tls: { mode: 'MUTUAL', credentialName: 'cred', clientCertificate: '/c.pem' } })), 'spec.trafficPolicy.tls', /cannot be set together with credentialName/);
  expectError(run('DestinationRule', dr({ tls: { mode: 'MUTUAL' } })), 'spec.trafficPolicy.tls.clientCertificate', /requires clientCertificate/);
  expectError(run('DestinationRule', dr({ tls: { mode: 'MUTUAL' } })), 'spec.trafficPolicy.tls.privateKey', /requires privateKey/);
  expectError(run('DestinationRule', dr({ tls: { mode: 'SIMPLE', insecureSkipVerify: true, caCertificates: '/ca.pem' } })), 'spec.trafficPolicy.tls', /insecureSkipVerify/);
  expectError(run('DestinationRule', dr({ tls: { mode: 'SIMPLE', credentialName: 'configmap://other/ca' } })), 'spec.trafficPolicy.tls.credentialName', /own namespace/);
});

test('port-level settings, tunnel, exportTo, workloadSelector', () => {
  expectError(run('DestinationRule', dr({ portLevelSettings: [{ tls: { mode: 'ISTIO_MUTUAL' } }] })), 'spec.trafficPolicy.portLevelSettings[0].port', /must name a port/);
  expectError(run('DestinationRule', dr({ portLevelSettings: [{ port: { number: 80 } }] })), 'spec.trafficPolicy.portLevelSettings[0]', /at least one of/);
  expectWarning(run('DestinationRule', dr({ portLevelSettings: [{ port: { number: 80 }, tls: { mode: 'DISABLE' } }, { port: { number: 80 }, tls: { mode: 'SIMPLE' } }] })), 'spec.trafficPolicy.portLevelSettings[1].port.number', /only one of them takes effect/);
  expectError(run('DestinationRule', dr({ tunnel: { targetHost: 'not valid!', targetPort: 8080 } })), 'spec.trafficPolicy.tunnel.targetHost', /FQDN or IP/);
  expectError(run('DestinationRule', dr({ tunnel: { targetHost: 'a.b', targetPort: 8080 }, proxyProtocol: {} })), 'spec.trafficPolicy', /tunnel and proxyProtocol/);
  expectError(run('DestinationRule', { host: 'reviews', workloadSelector: { matchLabels: { app: 'a' } }, exportTo: ['*'] }), 'spec.exportTo', /cannot be exported beyond its own namespace/);
  expectValid(run('DestinationRule', { host: 'reviews', workloadSelector: { matchLabels: { app: 'a' } }, exportTo: ['.'] }));
  expectError(run('DestinationRule', { host: 'reviews', workloadSelector: { matchLabels: { app: '*' } } }), 'spec.workloadSelector.matchLabels.app', /wildcard is not supported/);
});

test("analyzer inputs that Istio's webhook rejects are rejected here too", () => {
  // gateway-secrets.yaml and friends are about Gateways; for DestinationRules the pilot test data holds only valid ones,
  // so this checks a deliberately wrong variant of a real sample: the bookinfo ratings rule with a misspelled subset.
  const file = new URL('../../../../../shared/istio-samples/bookinfo/networking/destination-rule-all.yaml', import.meta.url);
  const docs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as Resource<{ subsets: { name: string }[] }>);
  const ratings = docs.find((d) => d.metadata.name === 'ratings');
  assert.ok(ratings);
  const broken = structuredClone(ratings);
  broken.spec.subsets.push({ name: 'v1' });
  const v = validateDestinationRule(broken, defaultValidationContext);
  expectError(v, `spec.subsets[${broken.spec.subsets.length - 1}].name`, /duplicate subset name "v1"/);
});
