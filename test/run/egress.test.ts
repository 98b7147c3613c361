// Egress through an egress gateway, as Istio's "Egress Gateways" task configures it: a ServiceEntry for the external
// host, a Gateway selecting the egress gateway (`weft proxy router`, started by the runner), a DestinationRule with a
// subset for it, and a VirtualService bound to both `mesh` and the gateway. A local server stands in for the external
// host. The client is a `weft run` workload running curl; the request must pass through the egress gateway.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { localIdentity } from '../../src/runner/identity.ts';
import { startProxy } from '../../src/runner/sidecar.ts';
import { freePort as freePortOn } from '../ports.ts';
const freePort = (): Promise<number> => freePortOn('0.0.0.0');

const weft = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));


function collect(child: ChildProcess): { out: () => string; err: () => string; exit: Promise<number | null> } {
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return { out: () => out, err: () => err, exit: new Promise((r) => child.once('exit', (c) => r(c))) };
}

function config(upstream: number, gatewayPort: number): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: external-svc
  namespace: default
spec:
  hosts:
  - external.example.com
  ports:
  - number: 80
    name: http
    protocol: HTTP
  location: MESH_EXTERNAL
  resolution: STATIC
  endpoints:
  - address: 127.0.0.1
    ports:
      http: ${upstream}
---
# The egress gateway's own service (Kubernetes would have a Service for the istio-egressgateway Deployment).
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: istio-egressgateway
  namespace: istio-system
spec:
  hosts:
  - istio-egressgateway.istio-system.svc.cluster.local
  ports:
  - number: 80
    name: http
    protocol: HTTP
  location: MESH_INTERNAL
  resolution: STATIC
  endpoints:
  - address: 127.0.0.1
    ports:
      http: ${gatewayPort}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: istio-egressgateway
  namespace: default
spec:
  selector:
    istio: egressgateway
  servers:
  - port:
      number: ${gatewayPort}
      name: http
      protocol: HTTP
    hosts:
    - external.example.com
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: egressgateway-for-external
  namespace: default
spec:
  host: istio-egressgateway.istio-system.svc.cluster.local
  subsets:
  - name: external
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: direct-external-through-egress-gateway
  namespace: default
spec:
  hosts:
  - external.example.com
  gateways:
  - istio-egressgateway
  - mesh
  http:
  - match:
    - gateways:
      - mesh
      port: 80
    route:
    - destination:
        host: istio-egressgateway.istio-system.svc.cluster.local
        subset: external
        port:
          number: 80
  - match:
    - gateways:
      - istio-egressgateway
      port: ${gatewayPort}
    route:
    - destination:
        host: external.example.com
        port:
          number: 80
`;
}

test('egress: a workload reaches an external host through the egress gateway (ServiceEntry + Gateway + VirtualService)', { timeout: 90_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'weft-egress-test-'));
  const configDir = join(root, 'config');
  const stateDir = join(root, 'state');
  mkdirSync(configDir, { recursive: true });
  const seen: string[] = [];
  const upstream = http.createServer((req, res) => {
    seen.push(`${req.headers.host ?? ''} ${req.url ?? ''}`);
    res.end('external says hi\n');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upstreamPort = (upstream.address() as net.AddressInfo).port;
  const gatewayPort = await freePort();
  writeFileSync(join(configDir, 'egress.yaml'), config(upstreamPort, gatewayPort));

  const up = spawn(process.execPath, [weft, 'up', '--config-dir', configDir, '--state-dir', stateDir, '--xds-port', '0', '--xds-tls-port', '0', '--monitoring-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const upIo = collect(up);
  const cleanups: Array<() => Promise<unknown> | void> = [];
  t.after(async () => {
    for (const c of cleanups.reverse()) await c();
    up.kill('SIGTERM');
    await upIo.exit;
    upstream.close();
    rmSync(root, { recursive: true, force: true });
  });
  await new Promise<void>((resolve, reject) => {
    up.stdout!.on('data', () => upIo.out().includes('weft control plane ready') && resolve());
    void upIo.exit.then((c) => reject(new Error(`weft up exited ${c}: ${upIo.err()}`)));
  });
  const xds = /xDS \(plaintext\) listening on (\S+)/.exec(upIo.out())![1]!;
  const ca = /xDS \+ CA \(TLS\) listening on (\S+)/.exec(upIo.out())![1]!;

  const gw = await startProxy(
    {
      kind: 'router',
      name: 'istio-egressgateway',
      namespace: 'istio-system',
      serviceAccount: 'istio-egressgateway-service-account',
      labels: { istio: 'egressgateway', app: 'istio-egressgateway' },
      ip: '127.0.0.1',
      ports: [],
      workloadGroup: undefined,
      discoveryAddress: xds,
      drainDuration: '1s',
      identity: await localIdentity({ controlPlaneStateDir: stateDir, caAddress: ca, namespace: 'istio-system', serviceAccount: 'istio-egressgateway-service-account', outDir: join(root, 'tokens'), name: 'egress' }),
    },
    30_000,
  );
  cleanups.push(() => gw.process.stop(3000));

  const client = spawn(
    process.execPath,
    [weft, 'run', '--name', 'curl-1', '--labels', 'app=curl', '--discovery-address', xds, '--ca-address', ca, '--control-plane-state-dir', stateDir, '--', 'curl', '-sS', '-f', '--max-time', '10', '--retry', '20', '--retry-all-errors', '--retry-delay', '0', '--retry-max-time', '10', 'http://external.example.com/get'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const c = collect(client);
  assert.equal(await c.exit, 0, c.err());
  assert.equal(c.out(), 'external says hi\n');
  assert.ok(seen.includes('external.example.com /get'), `upstream saw ${JSON.stringify(seen)}`);
  // The gateway forwarded it: its cluster for the external host served the request.
  const clusters = await (await fetch(`http://127.0.0.1:${gw.ports.admin}/clusters`)).text();
  assert.match(clusters, new RegExp(`outbound\\|80\\|\\|external\\.example\\.com::127\\.0\\.0\\.1:${upstreamPort}::rq_total::[1-9]`));
});
