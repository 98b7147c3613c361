import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../config/api/resource.ts';
import { loadText } from '../config/api/load.ts';
import { parseProxy } from '../discovery/proxy.ts';
import { type RegistryChange, ServiceRegistry, buildRegistryState } from './registry.ts';
import type { Timers } from './auto-register.ts';

function load(text: string): Resource[] {
  return loadText(text, 'test.yaml').map((l) => {
    assert.ok(l.valid, JSON.stringify(l.errors));
    return l.resource;
  });
}

/** Timers under test control: nothing fires until `fire()`. */
function manualTimers(): Timers & { pending: () => number; fire: () => void } {
  let next = 1;
  const timers = new Map<number, () => void>();
  return {
    setTimeout: (fn) => {
      const id = next++;
      timers.set(id, fn);
      return id;
    },
    clearTimeout: (h) => void timers.delete(h as number),
    pending: () => timers.size,
    fire: () => {
      const fns = [...timers.values()];
      timers.clear();
      for (const f of fns) f();
    },
  };
}

const entries = load(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ext, namespace: web }
spec:
  hosts: [api.example.com]
  ports: [{ number: 443, name: https, protocol: HTTPS }]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: static, namespace: web }
spec:
  hosts: [db.internal]
  addresses: [240.0.0.10]
  ports: [{ number: 5432, name: tcp-pg, protocol: TCP, targetPort: 15432 }]
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints:
  - { address: 10.0.0.5, labels: { security.istio.io/tlsMode: istio }, locality: us-east/a }
  - { address: 10.0.0.6, weight: 3 }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: vms, namespace: web }
spec:
  hosts: [vm-app]
  ports: [{ number: 8080, name: http }]
  location: MESH_INTERNAL
  resolution: STATIC
  workloadSelector: { labels: { app: vm-app } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: vm-1, namespace: web }
spec: { address: 10.0.1.1, labels: { app: vm-app }, ports: { http: 18080 }, serviceAccount: vm-sa }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: other-ns, namespace: other }
spec: { address: 10.0.9.9, labels: { app: vm-app } }
`);

test('ServiceEntry: DNS without endpoints resolves the host; STATIC endpoints take targetPort, weight, locality, tlsMode', () => {
  const s = buildRegistryState(entries, [], 'cluster.local');
  const ext = s.endpoints.filter((e) => e.serviceHost === 'api.example.com');
  assert.deepEqual(ext.map((e) => [e.address, e.port]), [['api.example.com', 443]]);
  const db = s.endpoints.filter((e) => e.serviceHost === 'db.internal');
  assert.deepEqual(db.map((e) => [e.address, e.port, e.weight, e.locality, e.tlsMode]), [
    ['10.0.0.5', 15432, 1, 'us-east/a', 'istio'],
    ['10.0.0.6', 15432, 3, '', 'disabled'],
  ]);
  const svc = s.services.find((x) => x.hostname === 'db.internal')!;
  assert.equal(svc.resolution, 'STATIC');
  assert.equal(svc.location, 'MESH_INTERNAL');
  assert.deepEqual(svc.addresses, ['240.0.0.10']);
  assert.equal(s.services.find((x) => x.hostname === 'api.example.com')!.location, 'MESH_EXTERNAL');
});

test('ServiceEntry workloadSelector picks WorkloadEntries of its own namespace, short host resolved in that namespace', () => {
  const s = buildRegistryState(entries, [], 'cluster.local');
  const vm = s.endpoints.filter((e) => e.serviceHost === 'vm-app.web.svc.cluster.local');
  assert.deepEqual(vm.map((e) => [e.address, e.port, e.serviceAccount]), [['10.0.1.1', 18080, 'vm-sa']]);
});

const kube = load(`
apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec:
  clusterIP: 10.96.0.10
  selector: { app: web }
  ports:
  - { name: http-web, port: 80, targetPort: web }
  - { name: grpc, port: 9000, targetPort: 9000, appProtocol: grpc }
---
apiVersion: v1
kind: Pod
metadata: { name: web-1, namespace: shop, labels: { app: web, version: v1, security.istio.io/tlsMode: istio } }
spec:
  serviceAccountName: web-sa
  containers: [{ name: web, ports: [{ name: web, containerPort: 8080 }] }]
status: { podIP: 10.2.0.1, phase: Running, conditions: [{ type: Ready, status: "True" }] }
---
apiVersion: v1
kind: Pod
metadata: { name: web-2, namespace: shop, labels: { app: web } }
spec: { containers: [{ name: web, ports: [{ name: web, containerPort: 8080 }] }] }
status: { podIP: 10.2.0.2, phase: Running, conditions: [{ type: Ready, status: "False" }] }
---
apiVersion: v1
kind: Service
metadata: { name: payments, namespace: shop }
spec: { type: ExternalName, externalName: pay.example.com, ports: [{ name: https, port: 443 }] }
---
apiVersion: v1
kind: Service
metadata: { name: api, namespace: shop }
spec: { ports: [{ name: http, port: 8080 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: api-abc, namespace: shop, labels: { kubernetes.io/service-name: api } }
addressType: IPv4
ports: [{ name: http, port: 18080 }]
endpoints:
- { addresses: [10.3.0.1], conditions: { ready: true }, zone: z1 }
- { addresses: [10.3.0.2], conditions: { ready: false } }
`);

test('Kubernetes: Services with selector → Pod endpoints (named targetPort, readiness, protocol from name/appProtocol)', () => {
  const s = buildRegistryState(kube, [], 'example.org');
  const web = s.services.find((x) => x.hostname === 'web.shop.svc.example.org')!;
  assert.deepEqual(web.ports.map((p) => [p.port, p.protocol]), [[80, 'HTTP'], [9000, 'GRPC']]);
  assert.deepEqual(web.addresses, ['10.96.0.10']);
  const eps = s.endpoints.filter((e) => e.serviceHost === web.hostname && e.servicePort === 80);
  assert.deepEqual(eps.map((e) => [e.address, e.port, e.healthy, e.tlsMode, e.serviceAccount]), [
    ['10.2.0.1', 8080, true, 'istio', 'web-sa'],
    ['10.2.0.2', 8080, false, 'disabled', 'default'],
  ]);
});

test('Kubernetes: an ExternalName Service is a DNS service to the external name', () => {
  const s = buildRegistryState(kube, [], 'cluster.local');
  const svc = s.services.find((x) => x.hostname === 'payments.shop.svc.cluster.local')!;
  assert.equal(svc.resolution, 'DNS');
  assert.deepEqual(s.endpoints.filter((e) => e.serviceHost === svc.hostname).map((e) => [e.address, e.port]), [['pay.example.com', 443]]);
});

test('Kubernetes: EndpointSlices give endpoints with their port, readiness and zone', () => {
  const s = buildRegistryState(kube, [], 'cluster.local');
  const eps = s.endpoints.filter((e) => e.serviceHost === 'api.shop.svc.cluster.local');
  assert.deepEqual(eps.map((e) => [e.address, e.port, e.healthy, e.locality]), [
    ['10.3.0.1', 18080, true, '/z1'],
    ['10.3.0.2', 18080, false, ''],
  ]);
});

const group = load(`
apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: { name: vm-app, namespace: web }
spec:
  metadata: { labels: { app: vm-app, team: a } }
  template: { serviceAccount: vm-sa, ports: { http: 18080 } }
`);

test('auto-registration: a proxy naming a WorkloadGroup becomes a WorkloadEntry; removed after the grace period unless it reconnects', () => {
  const timers = manualTimers();
  const reg = new ServiceRegistry({ timers, autoRegisterGraceMs: 5000 });
  const changes: RegistryChange[] = [];
  reg.onChange((c) => changes.push(c));
  reg.setConfigs([...entries.filter((r) => r.kind === 'ServiceEntry'), ...group]);
  changes.length = 0;
  const p = parseProxy({
    id: 'sidecar~10.0.2.7~vm-7.web~web.svc.cluster.local',
    metadata: { AUTO_REGISTER_GROUP: 'vm-app', NAMESPACE: 'web', LABELS: { version: 'v2' }, INSTANCE_IPS: '10.0.2.7' },
  });
  assert.ok(p.ok);
  const w = reg.autoRegister(p.value);
  assert.ok(w.ok && w.value);
  assert.equal(w.value.name, 'vm-app-10-0-2-7');
  assert.deepEqual(w.value.spec.labels, { app: 'vm-app', team: 'a', version: 'v2', 'security.istio.io/tlsMode': 'istio' });
  const ep = () => reg.state().endpoints.find((e) => e.serviceHost === 'vm-app.web.svc.cluster.local' && e.address === '10.0.2.7');
  assert.equal(ep()?.port, 18080);
  assert.equal(ep()?.tlsMode, 'istio');
  assert.deepEqual(changes, [{ kind: 'endpoints', hosts: ['vm-app.web.svc.cluster.local'], addresses: ['10.0.2.7'] }]);

  reg.disconnected(p.value);
  assert.equal(timers.pending(), 1);
  assert.ok(ep(), 'still registered during the grace period');
  reg.autoRegister(p.value); // reconnect cancels the removal
  assert.equal(timers.pending(), 0);
  reg.disconnected(p.value);
  timers.fire();
  assert.equal(ep(), undefined);
  assert.equal(reg.autoRegistered().length, 0);
  reg.close();
});

test('auto-registration into a missing group is an error that names the group', () => {
  const reg = new ServiceRegistry({ timers: manualTimers() });
  const p = parseProxy({ id: 'sidecar~10.0.2.8~vm-8.web~web.svc.cluster.local', metadata: { AUTO_REGISTER_GROUP: 'nope', NAMESPACE: 'web' } });
  assert.ok(p.ok);
  const r = reg.autoRegister(p.value);
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.error, /WorkloadGroup web\/nope not found/);
});

test('change notifications tell endpoint-only changes from service changes', () => {
  const reg = new ServiceRegistry({ timers: manualTimers() });
  const changes: RegistryChange[] = [];
  reg.onChange((c) => changes.push(c));
  reg.setConfigs(kube);
  assert.equal(changes.at(-1)?.kind, 'full');
  const moved = kube.map((r) => (r.kind === 'Pod' && r.metadata.name === 'web-1' ? { ...r, status: { ...(r.status as object), podIP: '10.2.0.99' } } : r));
  reg.setConfigs(moved);
  assert.deepEqual(changes.at(-1), { kind: 'endpoints', hosts: ['web.shop.svc.cluster.local'], addresses: ['10.2.0.1', '10.2.0.99'] });
  const n = changes.length;
  reg.setConfigs(moved);
  assert.equal(changes.length, n, 'no change, no notification');
  reg.setConfigs(moved.filter((r) => !(r.kind === 'Service' && r.metadata.name === 'api')));
  assert.equal(changes.at(-1)?.kind, 'full');
});
