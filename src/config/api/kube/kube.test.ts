import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateResource } from '../validate.ts';

const errs = (apiVersion: string, kind: string, body: Record<string, unknown>): string[] =>
  validateResource({ apiVersion, kind, metadata: { name: 'x', namespace: 'shop' }, ...body }, { file: 'k.yaml', document: 0 }).errors.map((e) => `${e.path}: ${e.message}`);
const svc = (spec: unknown): string[] => errs('v1', 'Service', { spec });
const pod = (spec: unknown): string[] => errs('v1', 'Pod', { spec });

test('Service: ports, names, targetPort, selector, clusterIP, type', () => {
  assert.deepEqual(svc({ selector: { app: 'reviews' }, ports: [{ name: 'http', port: 9080, targetPort: 9080, appProtocol: 'http' }, { name: 'grpc', port: 9090, targetPort: 'grpc-port' }] }), []);
  assert.deepEqual(svc({ clusterIP: 'None' }), [], 'a headless Service needs no ports');
  assert.deepEqual(svc({ type: 'ExternalName', externalName: 'api.example.com' }), []);
  assert.match(svc({})[0] ?? '', /^spec.ports: required/);
  assert.match(svc({ ports: [{ port: 0 }] })[0] ?? '', /^spec.ports\[0\].port: port must be a whole number from 1 to 65535/);
  assert.match(svc({ ports: [{ port: 80 }, { port: 81 }] })[0] ?? '', /^spec.ports\[0\].name: required when a Service has more than one port/);
  assert.match(svc({ ports: [{ name: 'a', port: 80 }, { name: 'a', port: 81 }] })[0] ?? '', /duplicate port name "a"/);
  assert.match(svc({ ports: [{ name: 'Http', port: 80 }] })[0] ?? '', /^spec.ports\[0\].name: "Http" is not a valid port name/);
  assert.match(svc({ ports: [{ port: 80, targetPort: 'way-too-long-port-name' }] })[0] ?? '', /^spec.ports\[0\].targetPort: /);
  assert.match(svc({ ports: [{ port: 80, protocol: 'HTTP' }] })[0] ?? '', /^spec.ports\[0\].protocol: unsupported protocol "HTTP"/);
  assert.match(svc({ ports: [{ port: 80 }], clusterIP: '10.0.0' })[0] ?? '', /^spec.clusterIP: /);
  assert.match(svc({ ports: [{ port: 80 }], selector: { app: 1 } })[0] ?? '', /^spec.selector\[app\]: value must be a string/);
  assert.match(svc({ type: 'ExternalName' })[0] ?? '', /^spec.externalName: required for type ExternalName/);
});

test('Pod and Deployment: containers, ports, selector matching template labels', () => {
  assert.deepEqual(pod({ serviceAccountName: 'reviews', containers: [{ name: 'app', image: 'x', ports: [{ name: 'http', containerPort: 9080 }] }] }), []);
  assert.match(pod({ containers: [] })[0] ?? '', /^spec.containers: required/);
  assert.match(pod({ containers: [{ name: 'a', ports: [{ containerPort: 70000 }] }] })[0] ?? '', /^spec.containers\[0\].ports\[0\].containerPort/);
  assert.match(pod({ containers: [{ name: 'a', ports: [{ containerPort: 80, name: 'http--x' }] }] })[0] ?? '', /not a valid port name/);
  const tmpl = (labels: unknown): Record<string, unknown> => ({ spec: { selector: { matchLabels: { app: 'r', version: 'v1' } }, template: { metadata: { labels }, spec: { containers: [{ name: 'r', image: 'i' }] } } } });
  assert.deepEqual(errs('apps/v1', 'Deployment', tmpl({ app: 'r', version: 'v1', extra: 'ok' })), []);
  assert.match(errs('apps/v1', 'Deployment', tmpl({ app: 'r' }))[0] ?? '', /^spec.template.metadata.labels: selector does not match template labels/);
});

test('EndpointSlice: address type, addresses, ports', () => {
  const es = (body: Record<string, unknown>): string[] => errs('discovery.k8s.io/v1', 'EndpointSlice', body);
  assert.deepEqual(es({ addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: true } }], ports: [{ name: 'http', port: 9080, protocol: 'TCP' }] }), []);
  assert.match(es({})[0] ?? '', /^addressType: required/);
  assert.match(es({ addressType: 'IPv4', endpoints: [{ addresses: ['::1'] }] })[0] ?? '', /^endpoints\[0\].addresses\[0\]: "::1" is not a valid IPv4 address/);
  assert.match(es({ addressType: 'IPv6', endpoints: [{ addresses: [] }] })[0] ?? '', /must have 1 to 100 addresses/);
  assert.match(es({ addressType: 'IPv4', ports: [{ port: 0 }] })[0] ?? '', /^ports\[0\].port/);
});

test('Namespace names are DNS labels', () => {
  const r = validateResource({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a.b' } }, { file: 'n.yaml', document: 0 });
  assert.match(r.errors[0]?.message ?? '', /not a valid namespace name/);
});
