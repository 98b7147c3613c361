// Istio YAML for the interop scenarios, with the backends' real ports filled in. One host per scenario so that
// each assertion reads one VirtualService.
export interface Ports {
  v1: number;
  v2: number;
  flaky: number;
}

const ns = 'test';
const host = (name: string): string => `${name}.${ns}.svc.cluster.local`;

function serviceEntry(name: string, endpoints: Array<{ port: number; version: string }>): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  hosts: [${host(name)}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - number: 7070
    name: grpc
    protocol: GRPC
  endpoints:
${endpoints.map((e) => `  - address: 127.0.0.1\n    ports: {grpc: ${e.port}}\n    labels: {version: ${e.version}}`).join('\n')}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  host: ${host(name)}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
`;
}

function virtualService(name: string, http: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  hosts: [${host(name)}]
  http:
${http}`;
}

const dest = (name: string, subset: string, weight?: number): string =>
  `    - destination: {host: ${host(name)}, subset: ${subset}}${weight !== undefined ? `\n      weight: ${weight}` : ''}`;

/** Files of the config directory: name → YAML. */
export function scenarioFiles(p: Ports): Record<string, string> {
  const both = [
    { port: p.v1, version: 'v1' },
    { port: p.v2, version: 'v2' },
  ];
  return {
    'split.yaml': `${serviceEntry('split', both)}---\n${virtualService('split', `  - route:\n${dest('split', 'v1', 80)}\n${dest('split', 'v2', 20)}\n`)}`,
    'header.yaml': `${serviceEntry('header', both)}---\n${virtualService(
      'header',
      `  - match:\n    - headers:\n        x-user: {exact: tester}\n    route:\n${dest('header', 'v2')}\n  - route:\n${dest('header', 'v1')}\n`,
    )}`,
    'fault.yaml': `${serviceEntry('fault', both)}---\n${virtualService(
      'fault',
      `  - fault:\n      abort:\n        percentage: {value: 50}\n        httpStatus: 503\n    route:\n${dest('fault', 'v1')}\n`,
    )}`,
    'retry.yaml': `${serviceEntry('retry', [{ port: p.flaky, version: 'v1' }])}---\n${virtualService(
      'retry',
      `  - retries:\n      attempts: 3\n      retryOn: unavailable\n    route:\n${dest('retry', 'v1')}\n`,
    )}`,
    'noretry.yaml': `${serviceEntry('noretry', [{ port: p.flaky, version: 'v1' }])}---\n${virtualService(
      'noretry',
      `  - retries:\n      attempts: 0\n    route:\n${dest('noretry', 'v1')}\n`,
    )}`,
    'live-se.yaml': serviceEntry('live', both),
    'live-vs.yaml': liveVirtualService('v1'),
  };
}

/** The runtime-edited VirtualService: everything to one subset. */
export function liveVirtualService(subset: string): string {
  return virtualService('live', `  - route:\n${dest('live', subset)}\n`);
}

export const target = (name: string): string => `xds:///${host(name)}:7070`;
