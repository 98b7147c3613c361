// What the store logs about rejected files, as a platform engineer reads it in `weft up`'s output: the file,
// each problem's resource and field path, whether its last good version stays in force (or nothing of it was ever
// loaded), and what to do; and, when a rejected file goes away, that it was removed (not "valid again").
import assert from 'node:assert/strict';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DirectoryStore } from './directory.ts';
import { pipelineLoader } from './pipeline.ts';
import { rejectionMessage } from './state.ts';

const good = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
`;
const badSecond = `${good}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: prod}
spec:
  host: ratings
  trafficPolicy:
    tls: {mode: ISTIO_MTLS}
`;

test('a rejected file is logged with each problem resource by resource, and what to do', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-store-msg-'));
  const logs: string[] = [];
  const store = await DirectoryStore.open(dir, { load: pipelineLoader(), watch: false, log: (l, m) => logs.push(`${l} ${m}`) });
  try {
    const file = join(dir, 'routes.yaml');
    await writeFile(file, badSecond);
    await store.rescan();
    assert.deepEqual(logs, [
      `error rejected ${file} (nothing in it is loaded): DestinationRule prod/ratings: spec.trafficPolicy.tls.mode: Unsupported value: "ISTIO_MTLS": supported values: "DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"; fix the file and save it again ('weft validate -f ${file}' lists every problem)`,
    ]);
    logs.length = 0;
    await writeFile(file, good);
    await store.rescan();
    assert.deepEqual(logs, [`info ${file} is valid again`]);

    // Now the file has a last good version, which stays in force.
    logs.length = 0;
    await writeFile(file, 'kind: [');
    await store.rescan();
    assert.equal(logs.length, 1);
    assert.match(logs[0] ?? '', /^error rejected .*routes\.yaml \(the last good version of its resources stays in force\): YAML syntax error: .* at line 1, column \d+ \(a \[ or \{ above is not closed.*\); fix the file/);
    logs.length = 0;
    await unlink(file);
    await store.rescan();
    assert.deepEqual(logs, [`info ${file} (rejected) was removed; the resources it last held validly are withdrawn`]);
    assert.equal(store.list().length, 0);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('at the first load a rejected file has no last good version: the log says nothing in it is loaded (weft up start-up)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-store-msg-'));
  const logs: string[] = [];
  try {
    await writeFile(join(dir, 'routes.yaml'), badSecond);
    const store = await DirectoryStore.open(dir, { load: pipelineLoader(), watch: false, log: (l, m) => logs.push(`${l} ${m}`) });
    await store.close();
    assert.equal(logs.length, 1);
    assert.match(logs[0] ?? '', /^error rejected .*routes\.yaml \(nothing in it is loaded\): DestinationRule prod\/ratings: spec\.trafficPolicy\.tls\.mode: /);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('rejectionMessage shows five problems, counts the rest, and names a keyless later document by number', () => {
  const errors = Array.from({ length: 7 }, (_, i) => ({ path: `spec.hosts[${i}]`, message: 'bad', key: { kind: 'Sidecar', namespace: '', name: 'x' } }));
  const m = rejectionMessage('f.yaml', [{ path: '', message: 'YAML syntax error', document: 2 }, ...errors]);
  assert.equal(
    m,
    "rejected f.yaml (the last good version of its resources stays in force): document 3: YAML syntax error; Sidecar x: spec.hosts[0]: bad; Sidecar x: spec.hosts[1]: bad; Sidecar x: spec.hosts[2]: bad; Sidecar x: spec.hosts[3]: bad (+3 more); fix the file and save it again ('weft validate -f f.yaml' lists every problem)",
  );
});
