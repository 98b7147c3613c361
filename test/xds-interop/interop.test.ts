// THE interop test (issue 3, "Done when"): `weft up` as a real process, plain @grpc/grpc-js echo backends, and a
// separate process using @grpc/grpc-js-xds (a real third-party xDS client, state of the world) with an
// xds:/// target and a bootstrap pointing at Weft. Istio YAML in the config dir drives: an 80/20 weighted split,
// header-match routing, fault abort percentage, retries, and a VirtualService edited at runtime.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startBackend, type Backend } from './echo.ts';
import { liveVirtualService, scenarioFiles, target } from './config.ts';
import { startWeft, startXdsClient, tempDir, type WeftProcess, type XdsClientProcess } from './harness.ts';
import { main } from '../../src/cli/main.ts';
import { memoryIo } from '../../src/cli/io.ts';

let dir: { path: string; remove(): Promise<void> };
let backends: Backend[] = [];
let weft: WeftProcess | undefined;
let client: XdsClientProcess | undefined;
let configDir = '';
const nodeId = 'sidecar~127.0.0.1~echo-client.test~test.svc.cluster.local';

before(async () => {
  dir = await tempDir('weft-interop-');
  const [v1, v2, flaky] = await Promise.all([startBackend('v1'), startBackend('v2'), startBackend('flaky', { flaky: true })]);
  backends = [v1!, v2!, flaky!];
  configDir = join(dir.path, 'config');
  await mkdir(configDir);
  for (const [name, yaml] of Object.entries(scenarioFiles({ v1: v1!.port, v2: v2!.port, flaky: flaky!.port }))) await writeFile(join(configDir, name), yaml);
  weft = await startWeft(configDir, join(dir.path, 'state'));
  client = await startXdsClient(dir.path, weft.xdsPort, { id: nodeId, metadata: { GENERATOR: 'grpc', NAMESPACE: 'test', ISTIO_VERSION: 'grpc-js-xds' } });
});

after(async () => {
  await client?.stop();
  const code = await weft?.stop();
  await Promise.all(backends.map((b) => b.close()));
  await dir?.remove();
  assert.equal(code, 0, `weft up exits 0 on SIGTERM; stderr:\n${weft?.stderr() ?? ''}`);
});

test('weighted split 80/20 over 500 calls, within ±8 points', async () => {
  const r = await client!.run({ target: target('split'), calls: 500, timeoutMs: 30_000, concurrency: 10 });
  assert.deepEqual(r.errors, {});
  const v1 = r.backends['v1'] ?? 0;
  const v2 = r.backends['v2'] ?? 0;
  assert.equal(v1 + v2, 500);
  const share = (100 * v1) / 500;
  assert.ok(share >= 72 && share <= 88, `v1 got ${share}% of calls (v1=${v1}, v2=${v2}); want 80 ± 8`);
});

test('header-match routing: x-user: tester goes to v2, everyone else to v1', async () => {
  const tester = await client!.run({ target: target('header'), calls: 50, metadata: { 'x-user': 'tester' } });
  assert.deepEqual(tester.backends, { v2: 50 });
  const other = await client!.run({ target: target('header'), calls: 50, metadata: { 'x-user': 'someone-else' } });
  assert.deepEqual(other.backends, { v1: 50 });
});

test('fault abort: about half of the calls fail with UNAVAILABLE (HTTP 503)', async () => {
  const r = await client!.run({ target: target('fault'), calls: 400, timeoutMs: 30_000, concurrency: 10 });
  const failed = r.errors['UNAVAILABLE'] ?? 0;
  assert.equal(failed + (r.backends['v1'] ?? 0), 400, JSON.stringify(r));
  const pct = (100 * failed) / 400;
  assert.ok(pct >= 40 && pct <= 60, `aborted ${pct}% of calls; want 50 ± 10`);
});

test('retries: a backend failing every other call is hidden by retries (attempts: 3) and exposed without them', async () => {
  const flaky = backends[2]!;
  const before = flaky.calls();
  const withRetries = await client!.run({ target: target('retry'), calls: 60 });
  assert.deepEqual(withRetries.errors, {}, 'every call succeeds after a retry');
  assert.equal(withRetries.backends['flaky'], 60);
  assert.ok(flaky.calls() - before >= 90, `the backend saw the retried attempts (${flaky.calls() - before} attempts for 60 calls)`);
  const without = await client!.run({ target: target('noretry'), calls: 60 });
  const failed = without.errors['UNAVAILABLE'] ?? 0;
  assert.ok(failed >= 20, `without retries about half fail (${failed} of 60 failed)`);
});

test('a VirtualService edited at runtime takes effect within 1 s', async () => {
  const warm = await client!.run({ target: target('live'), calls: 20 });
  assert.deepEqual(warm.backends, { v1: 20 });
  // Write-then-rename, as editors and `kubectl`-style tools do, so the store never sees half a file.
  const tmp = join(dir.path, 'live-vs.yaml.tmp');
  await writeFile(tmp, liveVirtualService('v2'));
  await rename(tmp, join(configDir, 'live-vs.yaml'));
  const r = await client!.run({ target: target('live'), calls: 100_000, untilBackend: 'v2', timeoutMs: 5000 });
  assert.ok((r.backends['v2'] ?? 0) === 1, `the edit never took effect: ${JSON.stringify(r)}`);
  assert.ok(r.elapsedMs <= 1000, `the edit took ${r.elapsedMs} ms to reach the client; want ≤ 1000`);
  const after = await client!.run({ target: target('live'), calls: 20 });
  assert.deepEqual(after.backends, { v2: 20 });
});

test('weft proxy-status shows the grpc client SYNCED on every type; proxy-config renders what it was sent', async () => {
  const address = `127.0.0.1:${weft!.monitoringPort}`;
  const io = memoryIo();
  assert.equal(await main(['proxy-status', '--monitoring-address', address], io), 0, io.stderr());
  const line = io.stdout().split('\n').find((l) => l.startsWith('echo-client.test'));
  assert.ok(line, io.stdout());
  assert.match(line, /echo-client\.test\s+Kubernetes\s+SYNCED\s+SYNCED\s+SYNCED\s+SYNCED\s+weft-\S+\s+grpc-js-xds/);

  const json = memoryIo();
  assert.equal(await main(['proxy-status', '--monitoring-address', address, '-o', 'json'], json), 0);
  const entries = JSON.parse(json.stdout()) as Array<{ proxy: string; lds: { subscribed: string[] } }>;
  assert.ok(entries.find((e) => e.proxy === nodeId)?.lds.subscribed.includes('split.test.svc.cluster.local:7070'));

  const clusters = memoryIo();
  assert.equal(await main(['proxy-config', 'cluster', 'echo-client.test', '--monitoring-address', address], clusters), 0, clusters.stderr());
  assert.match(clusters.stdout(), /split\.test\.svc\.cluster\.local\s+7070\s+v1\s+outbound\s+EDS/);
  const listeners = memoryIo();
  assert.equal(await main(['proxy-config', 'listener', nodeId, '--monitoring-address', address], listeners), 0);
  assert.match(listeners.stdout(), /split\.test\.svc\.cluster\.local:7070\s+-\s+-\s+API listener\s+Route: split\.test\.svc\.cluster\.local:7070/);
  const eps = memoryIo();
  assert.equal(await main(['proxy-config', 'endpoint', 'echo-client.test', '--monitoring-address', address], eps), 0);
  assert.match(eps.stdout(), new RegExp(`127\\.0\\.0\\.1:${backends[0]!.port}\\s+HEALTHY`));
  const missing = memoryIo();
  assert.equal(await main(['proxy-config', 'route', 'nobody.nowhere', '--monitoring-address', address], missing), 2);
  assert.match(missing.stderr(), /not connected to this control plane/);
});

test('metrics: pilot_xds counts the client, pushes are counted per type', async () => {
  const res = await fetch(`http://127.0.0.1:${weft!.monitoringPort}/metrics`);
  const text = await res.text();
  assert.match(text, /pilot_xds\{version="grpc-js-xds"\} 1/);
  assert.match(text, /pilot_xds_pushes\{type="lds"\} \d+/);
  assert.match(text, /pilot_xds_pushes\{type="eds"\} \d+/);
  assert.match(text, /pilot_proxy_convergence_time_count \d+/);
  const ready = await fetch(`http://127.0.0.1:${weft!.monitoringPort}/ready`);
  assert.equal(ready.status, 200);
});
