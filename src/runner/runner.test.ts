// Unit tests of the runner's pieces: argument parsing, the proxy command line, the WorkloadGroup it writes, the demo's
// gateway file, loopback-address claims and process supervision (readiness waits, SIGTERM → SIGKILL escalation).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRunArgs } from '../cli/commands/run.ts';
import { parseDemoArgs } from '../cli/commands/demo.ts';
import { gatewayYaml, workloadGroupsYaml } from './demo/config.ts';
import { claimLoopbackAddress } from './ports.ts';
import { exitCodeOf, Supervised } from './process.ts';
import { proxyArgs } from './sidecar.ts';
import { workloadGroupFor } from './workload-group.ts';

test('parseRunArgs: defaults, the WorkloadGroup default, and usage errors', () => {
  const o = parseRunArgs(['--name', 'reviews-v1', '--labels', 'app=reviews,version=v1', '--port', 'http=9080', '--', 'node', 'app.js']);
  assert.ok(o !== 'help');
  assert.equal(o.namespace, 'default');
  assert.equal(o.serviceAccount, 'default');
  assert.equal(o.workloadGroup, 'reviews');
  assert.equal(o.discoveryAddress, '127.0.0.1:15010');
  assert.deepEqual(o.ports, [{ name: 'http', port: 9080 }]);
  assert.equal(o.hold, true);
  assert.equal(o.command, 'node');
  assert.deepEqual(o.args, ['app.js']);
  const client = parseRunArgs(['--name', 'curl-1', '--', 'curl', 'http://reviews:9080/']);
  assert.ok(client !== 'help');
  assert.equal(client.workloadGroup, undefined, 'an outbound-only workload registers nowhere by default');
  assert.throws(() => parseRunArgs(['--name', 'a']), /no command/);
  assert.throws(() => parseRunArgs(['--', 'true']), /--name is required/);
  const multi = parseRunArgs(['--name', 'a', '--port', 'http=9080', '--port', 'grpc=9090', '--app-metrics-port', '9102', '--app-probe', 'a:readyz=http://127.0.0.1:9080/ready', '--', 'true']);
  assert.ok(multi !== 'help');
  assert.deepEqual(multi.ports, [{ name: 'http', port: 9080 }, { name: 'grpc', port: 9090 }]);
  assert.deepEqual(multi.sidecarArgs, ['--app-metrics-port', '9102', '--app-probe', 'a:readyz=http://127.0.0.1:9080/ready']);
  assert.throws(() => parseRunArgs(['--name', 'a', '--port', '1', '--port', '1', '--', 'true']), /--port 1 is given twice/);
  assert.throws(() => parseRunArgs(['--name', 'a', '--port', 'http=1', '--port', 'http=2', '--', 'true']), /names must differ/);
  assert.throws(() => parseRunArgs(['--name', 'a', '--ip', '127.0.0.1', '--', 'true']), /--ip 127\.0\.0\.1/);
  assert.throws(() => parseRunArgs(['--name', 'a', '--port', 'http=70000', '--', 'true']), /PORT 1-65535/);
  assert.throws(() => parseRunArgs(['--name', 'a', '--token-file', 't', '--', 'true']), /--ca-root-cert/);
  assert.equal(parseRunArgs(['--help']), 'help');
});

test('parseDemoArgs: ingress port and state dir', () => {
  const o = parseDemoArgs(['--ingress-port', '9999', '--state-dir', 'd'], '/work');
  assert.ok(o !== 'help');
  assert.equal(o.ingressPort, 9999);
  assert.equal(o.stateDir, '/work/d');
  assert.throws(() => parseDemoArgs(['--ingress-port', 'x'], '/'), /--ingress-port/);
});

test('proxyArgs: node metadata for auto-registration and the inbound listener on the workload address', () => {
  const args = proxyArgs({
    kind: 'sidecar',
    name: 'reviews-v1',
    namespace: 'default',
    serviceAccount: 'bookinfo-reviews',
    labels: { app: 'reviews', version: 'v1' },
    ip: '127.0.10.3',
    ports: [{ name: 'http', port: 41234 }],
    workloadGroup: 'reviews-v1',
    discoveryAddress: '127.0.0.1:15010',
    outboundPort: 40000,
    drainDuration: '1s',
  });
  const flag = (f: string): string | undefined => args[args.indexOf(f) + 1];
  assert.equal(flag('--auto-register-group'), 'reviews-v1');
  assert.equal(flag('--pod-ports'), 'http=41234');
  assert.equal(flag('--labels'), 'app=reviews,version=v1');
  assert.equal(flag('--ip'), '127.0.10.3');
  assert.equal(flag('--inbound-address'), '127.0.10.3');
  assert.equal(flag('--inbound-port'), '41234');
  assert.equal(flag('--outbound-port'), '40000');
  assert.equal(args.includes('--ca-address'), false, 'no identity flags without an identity');
  assert.equal(flag('--status-port'), '0', 'a free status port, never the shared 15020');
  const two = proxyArgs({
    kind: 'sidecar', name: 'multi', namespace: 'default', serviceAccount: 'default', labels: {}, ip: '127.0.10.4',
    ports: [{ name: 'http', port: 41234 }, { name: 'grpc', port: 41235 }], workloadGroup: undefined, discoveryAddress: '127.0.0.1:15010', drainDuration: '1s',
  });
  assert.equal(two[two.indexOf('--inbound-port') + 1], '41234,41235', 'one inbound listener per app port');
  assert.equal(two[two.indexOf('--pod-ports') + 1], 'http=41234,grpc=41235');
});

test('workloadGroupFor: the labels without version, the service account, no per-instance ports', () => {
  const g = workloadGroupFor({ name: 'reviews', namespace: 'default', labels: { app: 'reviews', version: 'v2' }, serviceAccount: 'bookinfo-reviews' });
  assert.deepEqual(g.spec, { metadata: { labels: { app: 'reviews' } }, template: { serviceAccount: 'bookinfo-reviews' } });
  assert.match(workloadGroupsYaml(), /name: reviews-v3\n {2}namespace: default\nspec:\n {2}metadata:\n {4}labels:\n {6}app: reviews\n {6}version: v3\n {2}template:\n {4}serviceAccount: bookinfo-reviews/);
});

test("gatewayYaml: Istio's bookinfo-gateway.yaml, its server port moved to the ingress port", async () => {
  const same = await gatewayYaml(8080);
  assert.match(same, /number: 8080/);
  assert.match(same, /Copyright Istio Authors/);
  const moved = await gatewayYaml(18080);
  assert.match(moved, /number: 18080\n/);
  assert.doesNotMatch(moved, /number: 8080\n/);
  assert.match(moved, /number: 9080/, 'the VirtualService destination port is untouched');
});

test('claimLoopbackAddress: distinct addresses for live claims; a dead claimant’s address is taken over', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-claims-'));
  try {
    const a = await claimLoopbackAddress(undefined, dir);
    const b = await claimLoopbackAddress(undefined, dir);
    assert.notEqual(a.address, b.address);
    await a.release();
    const c = await claimLoopbackAddress(undefined, dir);
    assert.equal(c.address, a.address, 'a released address is reused');
    writeFileSync(join(dir, '127.0.10.9'), '2147483646'); // no such pid
    const taken: string[] = [];
    for (let i = 0; i < 8; i++) taken.push((await claimLoopbackAddress(undefined, dir)).address);
    assert.ok(taken.includes('127.0.10.9'), 'a stale claim is taken over');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Supervised: waits for a line, reports an early exit, escalates SIGTERM to SIGKILL', async () => {
  const ok = new Supervised({ name: 'ok', command: process.execPath, args: ['-e', 'console.log("ready 42"); setTimeout(() => {}, 60000)'] });
  const m = await ok.waitForLine(/^ready (\d+)$/, 10_000);
  assert.equal(m[1], '42');
  const stopped = await ok.stop(5000);
  assert.equal(stopped.signal, 'SIGTERM');
  assert.equal(exitCodeOf(stopped), 143);

  const dies = new Supervised({ name: 'dies', command: process.execPath, args: ['-e', 'console.error("no config"); process.exit(3)'] });
  await assert.rejects(dies.waitForLine(/^ready$/, 10_000), /dies exited \(exit code 3\) before it was ready;[\s\S]*no config/);

  const stubborn = new Supervised({ name: 'stubborn', command: process.execPath, args: ['-e', 'process.on("SIGTERM", () => {}); console.log("up"); setInterval(() => {}, 1000)'] });
  await stubborn.waitForLine(/^up$/, 10_000);
  const t0 = Date.now();
  const s = await stubborn.stop(300);
  assert.equal(s.signal, 'SIGKILL');
  assert.ok(Date.now() - t0 < 5000);
});
