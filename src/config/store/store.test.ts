// Store tests: real directories under the OS temp dir, real fs.watch, events awaited with a deadline.
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DirectoryStore } from './directory.ts';
import { MemoryStore } from './memory.ts';
import { pipelineLoader } from './pipeline.ts';
import type { ConfigEvent, ConfigStore } from './types.ts';

const load = pipelineLoader();

function vs(name: string, host: string, ns?: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ${name}
${ns === undefined ? '' : `  namespace: ${ns}\n`}spec:
  hosts: [${host}]
  http:
  - route:
    - destination:
        host: ${host}
`;
}

const broken = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination:
        host: reviews
  retries: {attempts: many}
`;

/** Resolves with the first event matching `pred` (already-seen events included), or rejects after `ms`. */
function eventually(store: ConfigStore, seen: ConfigEvent[], pred: (e: ConfigEvent) => boolean, ms = 1000): Promise<ConfigEvent> {
  const hit = seen.find(pred);
  if (hit) return Promise.resolve(hit);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching event within ${ms} ms; saw: ${seen.map((e) => e.type).join(', ')}`));
    }, ms);
    const off = store.subscribe((e) => {
      if (pred(e)) {
        clearTimeout(timer);
        off();
        resolve(e);
      }
    });
  });
}

/** Records events from now on; `take()` returns and clears them. */
function recorder(store: ConfigStore): { events: ConfigEvent[]; take: () => ConfigEvent[] } {
  const events: ConfigEvent[] = [];
  store.subscribe((e) => events.push(e));
  return { events, take: () => events.splice(0, events.length) };
}

describe('DirectoryStore', () => {
  let dir: string;
  let store: DirectoryStore;
  const logs: string[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-store-'));
    await mkdir(join(dir, 'default'));
    await writeFile(join(dir, 'default', 'reviews.yaml'), vs('reviews', 'reviews'));
    await writeFile(join(dir, 'ratings.json'), JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'ratings', namespace: 'prod' }, spec: { host: 'ratings' } }));
    await writeFile(join(dir, 'notes.txt'), 'not config');
    await writeFile(join(dir, '.hidden.yaml'), 'not: [valid');
    store = await DirectoryStore.open(dir, { load, log: (level, m) => logs.push(`${level} ${m}`) });
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('loads YAML and JSON recursively, keyed by kind/namespace/name, ignoring other and hidden files', () => {
    assert.deepEqual(
      store.list().map((s) => `${s.key.kind}/${s.key.namespace}/${s.key.name}`),
      ['DestinationRule/prod/ratings', 'VirtualService/default/reviews'],
    );
    const r = store.get({ kind: 'VirtualService', namespace: 'default', name: 'reviews' });
    assert.ok(r);
    assert.equal(r.origin.file, join(dir, 'default', 'reviews.yaml'));
    assert.match(r.version, /^[0-9a-f]{16}$/);
    assert.equal(store.list('DestinationRule', 'prod').length, 1);
    assert.equal(store.rejections().length, 0);
  });

  it('emits added, updated (new version) and deleted within a second', async () => {
    const rec = recorder(store);
    const file = join(dir, 'default', 'details.yaml');
    await writeFile(file, vs('details', 'details'));
    const added = await eventually(store, rec.events, (e) => e.type === 'added' && e.key.name === 'details');
    assert.equal(added.type === 'added' && added.resource.origin.file, file);

    const v1 = store.get({ kind: 'VirtualService', namespace: 'default', name: 'details' })?.version;
    await writeFile(file, vs('details', 'details.default.svc.cluster.local'));
    const upd = await eventually(store, rec.events, (e) => e.type === 'updated' && e.key.name === 'details');
    assert.ok(upd.type === 'updated');
    assert.equal(upd.previous.version, v1);
    assert.notEqual(upd.resource.version, v1);
    assert.ok(upd.resource.revision > upd.previous.revision);

    await unlink(file);
    const del = await eventually(store, rec.events, (e) => e.type === 'deleted' && e.key.name === 'details');
    assert.ok(del.type === 'deleted');
    assert.equal(store.get({ kind: 'VirtualService', namespace: 'default', name: 'details' }), undefined);
  });

  it('sees an editor-style save (write a temp file, rename over the original)', async () => {
    const rec = recorder(store);
    const tmp = join(dir, 'default', '.reviews.yaml.swp');
    await writeFile(tmp, vs('reviews', 'reviews.default.svc.cluster.local'));
    await rename(tmp, join(dir, 'default', 'reviews.yaml'));
    const upd = await eventually(store, rec.events, (e) => e.type === 'updated' && e.key.name === 'reviews');
    assert.ok(upd.type === 'updated');
    assert.deepEqual((upd.resource.resource.spec as { hosts: string[] }).hosts, ['reviews.default.svc.cluster.local']);
  });

  it('keeps the last good version in force when an edit breaks a file, reports it, and recovers', async () => {
    const rec = recorder(store);
    const file = join(dir, 'default', 'reviews.yaml');
    const before = store.get({ kind: 'VirtualService', namespace: 'default', name: 'reviews' });
    assert.ok(before);
    await writeFile(file, broken);
    const rej = await eventually(store, rec.events, (e) => e.type === 'rejected');
    assert.ok(rej.type === 'rejected');
    assert.equal(rej.file, file);
    assert.ok(rej.errors.some((x) => x.path === 'spec.retries'), JSON.stringify(rej.errors));
    assert.equal(store.get({ kind: 'VirtualService', namespace: 'default', name: 'reviews' })?.version, before.version);
    assert.deepEqual(store.rejections().map((r) => r.file), [file]);
    assert.ok(logs.some((l) => l.startsWith('error') && l.includes(file)), logs.join('\n'));
    assert.ok(!rec.events.some((e) => e.type === 'deleted' || e.type === 'updated'));

    // Unparseable YAML is rejected the same way.
    rec.take();
    await writeFile(file, 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews\n');
    await eventually(store, rec.events, (e) => e.type === 'rejected');
    assert.equal(store.get({ kind: 'VirtualService', namespace: 'default', name: 'reviews' })?.version, before.version);

    rec.take();
    await writeFile(file, vs('reviews', 'reviews'));
    await eventually(store, rec.events, (e) => e.type === 'recovered' && e.file === file);
    await eventually(store, rec.events, (e) => e.type === 'updated' && e.key.name === 'reviews');
    assert.equal(store.rejections().length, 0);
  });

  it('reports duplicates across files with a deterministic winner (first path), and fails over on delete', async () => {
    const rec = recorder(store);
    await writeFile(join(dir, 'zz-dup.yaml'), vs('reviews', 'reviews-from-zz', 'default'));
    const c = await eventually(store, rec.events, (e) => e.type === 'conflict');
    assert.ok(c.type === 'conflict');
    assert.deepEqual(c.files, [join(dir, 'default', 'reviews.yaml'), join(dir, 'zz-dup.yaml')]);
    assert.equal(c.winner, join(dir, 'default', 'reviews.yaml'));
    assert.equal(store.get({ kind: 'VirtualService', namespace: 'default', name: 'reviews' })?.origin.file, join(dir, 'default', 'reviews.yaml'));
    assert.equal(store.conflicts().length, 1);

    await unlink(join(dir, 'default', 'reviews.yaml'));
    const upd = await eventually(store, rec.events, (e) => e.type === 'updated' && e.key.name === 'reviews');
    assert.ok(upd.type === 'updated');
    assert.equal(upd.origin.file, join(dir, 'zz-dup.yaml'));
    assert.equal(store.conflicts().length, 0);
  });

  it('watches directories created after start', async () => {
    const rec = recorder(store);
    await mkdir(join(dir, 'team-a', 'nested'), { recursive: true });
    await writeFile(join(dir, 'team-a', 'nested', 'gw.yaml'), 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: team-a}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["*"]\n');
    await eventually(store, rec.events, (e) => e.type === 'added' && e.key.kind === 'Gateway', 2000);
    await rm(join(dir, 'team-a'), { recursive: true });
    await eventually(store, rec.events, (e) => e.type === 'deleted' && e.key.kind === 'Gateway', 2000);
  });

  it('sees a directory moved into and out of the tree', async () => {
    const rec = recorder(store);
    const outside = await mkdtemp(join(tmpdir(), 'weft-store-outside-'));
    try {
      await writeFile(join(outside, 'moved.yaml'), vs('moved', 'moved', 'moved'));
      await rename(outside, join(dir, 'moved-in'));
      await eventually(store, rec.events, (e) => e.type === 'added' && e.key.name === 'moved');
      await rename(join(dir, 'moved-in'), outside);
      await eventually(store, rec.events, (e) => e.type === 'deleted' && e.key.name === 'moved');
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('coalesces a burst of writes into few revisions and ends at the last content', async () => {
    const rec = recorder(store);
    const file = join(dir, 'burst.yaml');
    const start = store.revision();
    for (let i = 0; i < 20; i++) await writeFile(file, vs('burst', `h${i}`, 'default'));
    await eventually(store, rec.events, (e) => e.type !== 'conflict' && 'key' in e && e.key.name === 'burst' && (e.type === 'added' || e.type === 'updated') && (e.resource.resource.spec as { hosts: string[] }).hosts[0] === 'h19', 2000);
    assert.ok(store.revision() - start < 20, `revisions: ${store.revision() - start}`);
    await unlink(file);
    await eventually(store, rec.events, (e) => e.type === 'deleted' && e.key.name === 'burst');
  });
});

describe('DirectoryStore whose directory disappears', () => {
  it('keeps the last configuration in force while the directory is gone, and reconciles when it is back', async () => {
    const base = await mkdtemp(join(tmpdir(), 'weft-store-'));
    const dir = join(base, 'mesh');
    const logs: string[] = [];
    await mkdir(dir);
    await writeFile(join(dir, 'a.yaml'), vs('a', 'a'));
    await writeFile(join(dir, 'b.yaml'), vs('b', 'b'));
    const store = await DirectoryStore.open(dir, { load, log: (l, m) => logs.push(`${l} ${m}`) });
    try {
      const rec = recorder(store);
      await rm(dir, { recursive: true });
      // Wait for the store to notice (its report), then check nothing was deleted.
      await new Promise<void>((resolve, reject) => {
        const deadline = Date.now() + 2000;
        const poll = (): void => {
          if (logs.some((l) => l.includes('cannot be read'))) resolve();
          else if (Date.now() > deadline) reject(new Error(`not reported: ${logs.join('; ')}`));
          else setImmediate(poll);
        };
        poll();
      });
      assert.deepEqual(store.list().map((s) => s.key.name), ['a', 'b']);
      assert.ok(!rec.events.some((e) => e.type === 'deleted'));
      await mkdir(dir);
      await writeFile(join(dir, 'a.yaml'), vs('a', 'a'));
      await eventually(store, rec.events, (e) => e.type === 'deleted' && e.key.name === 'b', 3000);
      assert.deepEqual(store.list().map((s) => s.key.name), ['a']);
    } finally {
      await store.close();
      await rm(base, { recursive: true, force: true });
    }
  });
});

describe('DirectoryStore without a directory', () => {
  it('refuses a missing directory unless create is set', async () => {
    const base = await mkdtemp(join(tmpdir(), 'weft-store-'));
    try {
      await assert.rejects(DirectoryStore.open(join(base, 'nope'), { load, watch: false }), /does not exist/);
      const s = await DirectoryStore.open(join(base, 'made'), { load, watch: false, create: true });
      assert.equal(s.list().length, 0);
      await s.close();
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});

describe('MemoryStore', () => {
  it('applies valid input, rejects invalid input without changing anything, and deletes', () => {
    const store = new MemoryStore({ load });
    const events: ConfigEvent[] = [];
    store.subscribe((e) => events.push(e));
    const r1 = store.apply(vs('reviews', 'reviews') + '---\n' + vs('ratings', 'ratings'));
    assert.ok(r1.ok);
    assert.deepEqual(events.map((e) => e.type), ['added', 'added']);
    assert.equal(store.revision(), 1);

    const unchanged = store.apply(vs('reviews', 'reviews'));
    assert.ok(unchanged.ok);
    assert.equal(unchanged.events.length, 0, 'same content: no event');

    events.length = 0;
    const bad = store.apply(vs('details', 'details') + '---\n' + broken);
    assert.equal(bad.ok, false);
    assert.deepEqual(events.map((e) => e.type), ['rejected']);
    assert.equal(store.get({ kind: 'VirtualService', namespace: 'default', name: 'details' }), undefined, 'all or nothing');
    assert.equal(store.rejections().length, 1);

    events.length = 0;
    assert.ok(store.apply(vs('reviews', 'reviews-v2')).ok);
    assert.deepEqual(events.map((e) => e.type), ['recovered', 'updated']);
    assert.equal(store.rejections().length, 0);

    assert.equal(store.delete({ kind: 'VirtualService', namespace: 'default', name: 'ratings' }), true);
    assert.equal(store.delete({ kind: 'VirtualService', namespace: 'default', name: 'ratings' }), false);
    assert.deepEqual(store.list().map((s) => s.key.name), ['reviews']);
  });

  it('isolates a throwing listener', () => {
    const store = new MemoryStore({ load });
    const got: string[] = [];
    store.subscribe(() => {
      throw new Error('boom');
    });
    store.subscribe((e) => got.push(e.type));
    assert.ok(store.apply(vs('a', 'a')).ok);
    assert.deepEqual(got, ['added']);
  });

  it('gives equal content the same version whatever the key order', () => {
    const a = new MemoryStore({ load });
    const b = new MemoryStore({ load });
    a.apply(vs('x', 'x'));
    b.apply(JSON.stringify({ spec: { http: [{ route: [{ destination: { host: 'x' } }] }], hosts: ['x'] }, metadata: { name: 'x' }, kind: 'VirtualService', apiVersion: 'networking.istio.io/v1' }));
    assert.equal(a.list()[0]?.version, b.list()[0]?.version);
  });
});
