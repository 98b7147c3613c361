import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TypeUrl, type XdsTypeUrl } from '../../xds/protos.ts';
import { parseProxy } from '../proxy.ts';
import { generateResources } from './index.ts';
import { assertEncodes, assertGolden, assertGrpcAccepts, parseYaml, snapshotOf } from './fixtures.test.ts';

const configs = parseYaml(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: echo, namespace: default }
spec:
  hosts: [echo.default.svc.cluster.local]
  ports: [{ number: 7070, name: grpc, protocol: GRPC }]
  resolution: STATIC
  location: MESH_INTERNAL
  workloadSelector: { labels: { app: echo } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: echo-a, namespace: default }
spec: { address: 127.0.0.1, ports: { grpc: 50051 }, labels: { app: echo, version: v1 } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: echo-b, namespace: default }
spec: { address: 127.0.0.2, ports: { grpc: 50052 }, labels: { app: echo, version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: echo, namespace: default }
spec:
  host: echo
  trafficPolicy: { outlierDetection: { consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s } }
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo, namespace: default }
spec:
  hosts: [echo]
  http:
  - match: [{ headers: { x-canary: { exact: "yes" } } }]
    route: [{ destination: { host: echo, subset: v2 } }]
  - match: [{ uri: { prefix: /echo.Faulty/ } }]
    fault: { abort: { grpcStatus: UNAVAILABLE, percentage: { value: 50 } } }
    route: [{ destination: { host: echo, subset: v1 } }]
  - retries: { attempts: 3, retryOn: unavailable }
    timeout: 2s
    route:
    - { destination: { host: echo, subset: v1 }, weight: 80 }
    - { destination: { host: echo, subset: v2 }, weight: 20 }
`);

function grpcClient() {
  // What @grpc/grpc-js-xds sends when the bootstrap gives only an id and GENERATOR.
  const p = parseProxy({ id: 'grpc-client-1', metadata: { GENERATOR: 'grpc', NAMESPACE: 'default' }, locality: {}, user_agent_name: 'gRPC Node Pure JS' });
  assert.ok(p.ok);
  return p.value;
}

test('a node from grpc-js-xds with a plain id is a proxyless gRPC proxy', () => {
  const p = parseProxy({ id: 'anything', locality: {}, user_agent_name: 'gRPC Node Pure JS' });
  assert.ok(p.ok);
  assert.equal(p.value.generator, 'grpc');
  assert.equal(p.value.namespace, 'default');
  const envoy = parseProxy({ id: 'anything' });
  assert.equal(envoy.ok, false);
});

test('proxyless gRPC: listener, routes, clusters and endpoints that grpc-js-xds accepts', () => {
  const snap = snapshotOf(configs);
  const proxy = grpcClient();
  const all: Record<string, unknown> = {};
  const check = (typeUrl: XdsTypeUrl, names: string[]) => {
    const res = generateResources(proxy, snap, typeUrl, names);
    for (const r of res) {
      assertEncodes(typeUrl, r.resource);
      assertGrpcAccepts(typeUrl, r.resource);
    }
    all[typeUrl.split('.').pop()!] = res.map((r) => r.resource);
    return res;
  };
  const lds = check(TypeUrl.listener, ['echo.default.svc.cluster.local:7070', 'echo:7070', 'nope:1']);
  assert.deepEqual(lds.map((r) => r.name), ['echo.default.svc.cluster.local:7070', 'echo:7070']);
  const rds = check(TypeUrl.route, ['echo:7070']);
  const vh = (rds[0]!.resource['virtual_hosts'] as Array<Record<string, unknown>>)[0]!;
  assert.deepEqual(vh['domains'], ['echo:7070', 'echo.default.svc.cluster.local:7070']);
  const routes = vh['routes'] as Array<Record<string, unknown>>;
  assert.equal(routes.length, 3);
  const cds = check(TypeUrl.cluster, ['outbound|7070|v1|echo.default.svc.cluster.local', 'outbound|7070|v2|echo.default.svc.cluster.local']);
  assert.equal(cds.length, 2);
  assert.equal(cds[0]!.resource['lb_policy'], 'ROUND_ROBIN');
  const eds = check(TypeUrl.endpoint, ['outbound|7070|v1|echo.default.svc.cluster.local', 'outbound|7070|v2|echo.default.svc.cluster.local']);
  const v1 = JSON.stringify(eds[0]!.resource);
  assert.ok(v1.includes('"port_value":50051') && !v1.includes('50052'));
  assertGolden('grpc-proxyless.json', all);
});

test('locality failover: with outlier detection, the client locality gets priority 0, others follow contiguously', () => {
  const snap = snapshotOf(
    parseYaml(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: geo, namespace: default }
spec:
  hosts: [geo.default.svc.cluster.local]
  ports: [{ number: 7070, name: grpc, protocol: GRPC }]
  resolution: STATIC
  location: MESH_INTERNAL
  endpoints:
  - { address: 10.0.0.1, locality: us-east/a }
  - { address: 10.0.0.2, locality: us-east/b }
  - { address: 10.0.0.3, locality: eu-west/a }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: geo, namespace: default }
spec: { host: geo, trafficPolicy: { outlierDetection: { consecutive5xxErrors: 3 } } }
`),
  );
  const p = parseProxy({ id: 'geo-client', metadata: { GENERATOR: 'grpc' }, locality: { region: 'us-east', zone: 'b' } });
  assert.ok(p.ok);
  const [cla] = generateResources(p.value, snap, TypeUrl.endpoint, ['outbound|7070||geo.default.svc.cluster.local']);
  assertGrpcAccepts(TypeUrl.endpoint, cla!.resource);
  const prio = (cla!.resource['endpoints'] as Array<Record<string, unknown>>).map((l) => [(l['locality'] as Record<string, string>)['zone'], l['priority'] ?? 0]);
  assert.deepEqual(prio, [['a', 2], ['a', 1], ['b', 0]]);
});

test('proxyless gRPC server: the listener named by the server template listens where asked and accepts every RPC', () => {
  const snap = snapshotOf(configs);
  const name = 'grpc/server?xds.resource.listening_address=127.0.0.1:50051';
  const [l] = generateResources(grpcClient(), snap, TypeUrl.listener, [name]);
  assert.ok(l);
  assert.equal(l.name, name);
  assertEncodes(TypeUrl.listener, l.resource);
  assertGrpcAccepts(TypeUrl.listener, l.resource);
  assert.deepEqual(l.resource['address'], { socket_address: { address: '127.0.0.1', port_value: 50051 } });
  const v6 = generateResources(grpcClient(), snap, TypeUrl.listener, ['grpc/server?xds.resource.listening_address=%5B%3A%3A%5D%3A8080']);
  assert.deepEqual(v6[0]!.resource['address'], { socket_address: { address: '::', port_value: 8080 } });
});
