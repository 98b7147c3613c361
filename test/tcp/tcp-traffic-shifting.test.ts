// Istio's "TCP Traffic Shifting" task with Weft: two tcp-echo workloads (prefix "one" for v1, "two" for v2), each
// started by `weft run` with its sidecar, reached through the ingress gateway's TCP server (Istio's 31400, here a
// free port) with Istio's tcp-echo-all-v1.yaml and then tcp-echo-20-v2.yaml. The path is
// client → gateway (tcp_proxy, weighted clusters) → mTLS → the workload's sidecar (inbound tcp_proxy) → app.
// Also: a mesh-internal client through its sidecar (CONNECT tunnel), and Istio's TCP metrics on both ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Mesh, NODE, eventually, freePort, workloadGroup } from './harness.ts';

const fixture = (f: string): string => readFileSync(fileURLToPath(new URL(`./fixtures/${f}`, import.meta.url)), 'utf8');
const ECHO = fileURLToPath(new URL('../../src/samples/tcp-echo/main.ts', import.meta.url));

/** Istio's file with its gateway port 31400 replaced by `port` (a free one). */
const withPort = (yaml: string, port: number): string => yaml.replaceAll('31400', String(port));

/** One TCP connection: send `line`, read one reply line (or fail after 5 s). */
export function echoOnce(connect: () => net.Socket, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect();
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no reply within 5 s (got ${JSON.stringify(got)})`));
    }, 5000);
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      got += d;
      const nl = got.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        s.end();
        resolve(got.slice(0, nl));
      }
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(timer);
      if (!got.includes('\n')) reject(new Error(`closed without a reply (got ${JSON.stringify(got)})`));
    });
    s.write(`${line}\n`);
  });
}

/** A TCP connection to `target` through an explicit-mode sidecar: `CONNECT target`, then the raw stream. */
export function viaConnect(proxyPort: number, target: string): net.Socket {
  const s = net.connect({ host: '127.0.0.1', port: proxyPort });
  // The reply's status line is consumed before handing the socket over; written ahead, the tunnel carries the rest.
  const orig = s.emit.bind(s);
  let head = '';
  let open = false;
  s.emit = ((event: string, ...args: unknown[]): boolean => {
    if (event !== 'data' || open) return orig(event, ...args);
    head += typeof args[0] === 'string' ? args[0] : (args[0] as Buffer).toString('latin1');
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return true;
    if (!/^HTTP\/1\.1 200/.test(head)) {
      s.destroy(new Error(`CONNECT refused: ${head.slice(0, end)}`));
      return true;
    }
    open = true;
    const rest = head.slice(end + 4);
    return rest === '' ? true : orig('data', rest);
  }) as typeof s.emit;
  s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  return s;
}

async function countReplies(n: number, connect: () => net.Socket): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  // Ten at a time: bounded concurrency, 200 connections take well under a few seconds.
  for (let i = 0; i < n; i += 10) {
    const batch = await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, j) => echoOnce(connect, `hello ${i + j}`)));
    for (const r of batch) {
      const who = r.split(' ')[0]!;
      counts.set(who, (counts.get(who) ?? 0) + 1);
    }
  }
  return counts;
}

async function stats(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/stats/prometheus`)).text();
}

test('TCP traffic shifting (Istio task): all-v1 then 20-v2 through the ingress gateway, mTLS to the sidecars', { timeout: 120_000 }, async (t) => {
  const mesh = new Mesh();
  t.after(() => mesh.close());
  const gatewayPort = await freePort();
  mesh.writeConfig('tcp-echo-service.yaml', fixture('tcp-echo-service.yaml'));
  mesh.writeConfig('tcp-echo-workloadgroups.yaml', [workloadGroup('tcp-echo-v1', { app: 'tcp-echo', version: 'v1' }, 'tcp-echo'), workloadGroup('tcp-echo-v2', { app: 'tcp-echo', version: 'v2' }, 'tcp-echo')].join('---\n'));
  mesh.writeConfig('tcp-echo-routing.yaml', withPort(fixture('tcp-echo-all-v1.yaml'), gatewayPort));
  await mesh.start();

  const [p1, p2] = [await freePort('127.0.0.1'), await freePort('127.0.0.1')];
  const v1 = await mesh.run({ name: 'tcp-echo-v1', labels: { app: 'tcp-echo', version: 'v1' }, serviceAccount: 'tcp-echo', workloadGroup: 'tcp-echo-v1', port: `tcp=${p1}`, command: [NODE, ECHO, String(p1), 'one'] });
  const v2 = await mesh.run({ name: 'tcp-echo-v2', labels: { app: 'tcp-echo', version: 'v2' }, serviceAccount: 'tcp-echo', workloadGroup: 'tcp-echo-v2', port: `tcp=${p2}`, command: [NODE, ECHO, String(p2), 'two'] });
  const gw = await mesh.ingressGateway();
  const viaGateway = (): net.Socket => net.connect({ host: '127.0.0.1', port: gatewayPort });

  // The apps start right after their sidecars are ready: wait until v1 answers through the gateway.
  await eventually('tcp-echo v1 answers through the gateway', 20_000, async () => (await echoOnce(viaGateway, 'ping')) === 'one ping');

  // tcp-echo-all-v1.yaml: every connection goes to v1.
  const all = await countReplies(200, viaGateway);
  assert.deepEqual([...all], [['one', 200]]);

  // tcp-echo-20-v2.yaml: 80 % v1, 20 % v2 (per connection).
  mesh.writeConfig('tcp-echo-routing.yaml', withPort(fixture('tcp-echo-all-v1.yaml'), gatewayPort).replace(/---\napiVersion: networking.istio.io\/v1\nkind: VirtualService[\s\S]*$/, '') + '---\n' + withPort(fixture('tcp-echo-20-v2.yaml'), gatewayPort));
  await eventually('the 20-v2 split reaches the gateway', 20_000, async () => (await echoOnce(viaGateway, 'ping')).startsWith('two'));
  const split = await countReplies(200, viaGateway);
  const two = split.get('two') ?? 0;
  assert.equal((split.get('one') ?? 0) + two, 200, `only "one" and "two" answer: ${JSON.stringify([...split])}`);
  assert.ok(two >= 24 && two <= 56, `20 % ± 8 of 200 connections to v2, got ${two}`);
  t.diagnostic(`tcp-echo-20-v2: ${split.get('one') ?? 0} × one, ${two} × two of 200 connections`);

  // Istio's TCP metrics: the gateway reports as source, each sidecar as destination (mutual TLS from the gateway).
  const gwStats = await stats(gw.ports.stats);
  assert.match(gwStats, /istio_tcp_connections_opened_total\{reporter="source",source_workload="istio-ingressgateway[^"]*",[^}]*destination_version="v1",destination_service="tcp-echo\.default\.svc\.cluster\.local",[^}]*request_protocol="tcp",response_flags="-"[^}]*\} [1-9]/);
  const v2Stats = await stats(v2.stats);
  assert.match(v2Stats, /istio_tcp_connections_closed_total\{reporter="destination",[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/istio-system\/sa\/istio-ingressgateway-service-account",[^}]*destination_workload="tcp-echo-v2[^"]*",[^}]*request_protocol="tcp",response_flags="-",connection_security_policy="mutual_tls"\} [1-9]/);
  const received = /istio_tcp_received_bytes_total\{reporter="destination",[^}]*\} (\d+)/.exec(v2Stats);
  assert.ok(received && Number(received[1]) >= two * 'hello 0\n'.length, `v2's sidecar counted the bytes it received: ${received?.[0]}`);
  assert.match(v2Stats, /istio_tcp_sent_bytes_total\{reporter="destination",[^}]*\} [1-9]/);

  // Mesh-internal: a client in explicit mode opens a CONNECT tunnel through v1's sidecar to tcp-echo:9000; the
  // sidecar routes it by the tcp_proxy of port 9000 and originates mutual TLS to the chosen workload.
  const internal = await countReplies(20, () => viaConnect(v1.outbound, 'tcp-echo:9000'));
  assert.equal((internal.get('one') ?? 0) + (internal.get('two') ?? 0), 20, JSON.stringify([...internal]));

  // A plain TCP client (no proxy support at all): Istio's Sidecar egress listener with `bind: 127.0.0.1`,
  // `captureMode: NONE` gives it a local port that its sidecar forwards over mTLS. The listener's port must be a
  // service port, so a second Service over the same workloads takes a free one.
  const local = await freePort('127.0.0.1');
  mesh.writeConfig('tcp-client.yaml', `${workloadGroup('tcp-client', { app: 'tcp-client' }, 'tcp-client')}---
apiVersion: v1
kind: Service
metadata:
  name: tcp-echo-direct
  namespace: default
spec:
  ports:
  - name: tcp
    port: ${local}
  selector:
    app: tcp-echo
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: tcp-client
  namespace: default
spec:
  workloadSelector:
    labels:
      app: tcp-client
  egress:
  - port:
      number: ${local}
      protocol: TCP
      name: tcp
    bind: 127.0.0.1
    captureMode: NONE
    hosts:
    - ./*
`);
  await mesh.run({ name: 'tcp-client', labels: { app: 'tcp-client' }, serviceAccount: 'tcp-client', workloadGroup: 'tcp-client', command: [NODE, '-e', 'setInterval(() => {}, 1 << 30)'] });
  const direct = (): net.Socket => net.connect({ host: '127.0.0.1', port: local });
  await eventually('the egress listener 127.0.0.1 is bound by the client sidecar', 20_000, async () => /^(one|two) ping$/.test(await echoOnce(direct, 'ping')));
  const plain = await countReplies(20, direct);
  assert.equal((plain.get('one') ?? 0) + (plain.get('two') ?? 0), 20, JSON.stringify([...plain]));
});
