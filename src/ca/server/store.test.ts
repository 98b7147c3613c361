// The CA's state dir: creation, reuse, damaged files reported by name, and the rotation state machine.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WeftError } from '../../core/errors.ts';
import { splitCertificates } from '../pki/pem.ts';
import { tempDir } from '../testing/harness.ts';
import { finishRotation, initCaState, loadCaState, rotateRoot, trustedRoots } from './store.ts';

const tmp = tempDir();
after(() => tmp.remove());

const isCaError = (re: RegExp) => (e: unknown) => e instanceof WeftError && re.test(e.message);

test('init creates a 0700 directory with 0600 keys, and a second init reuses everything', async () => {
  const dir = join(tmp.dir, 'a');
  const a = await initCaState({ stateDir: dir, trustDomain: 'cluster.local', keyType: 'ecdsa-p256' });
  assert.equal(a.created, true);
  assert.equal(statSync(join(dir, 'ca')).mode & 0o777, 0o700);
  for (const f of ['root-1-key.pem', 'token-key.pem']) assert.equal(statSync(join(dir, 'ca', f)).mode & 0o777, 0o600, f);
  const b = await initCaState({ stateDir: dir, trustDomain: 'other.example', keyType: 'rsa-2048' });
  assert.equal(b.created, false);
  assert.equal(b.state.rootPem, a.state.rootPem);
  assert.equal(b.state.manifest.keyType, 'ecdsa-p256');
});

test('rotation: one at a time, both roots during the overlap, finish needs --force before it ends', async () => {
  const dir = join(tmp.dir, 'b');
  await initCaState({ stateDir: dir, trustDomain: 'cluster.local', keyType: 'ecdsa-p256' });
  const now = new Date();
  const s = await rotateRoot({ stateDir: dir, overlapMs: 3_600_000, now });
  assert.equal(s.manifest.generation, 2);
  assert.equal(trustedRoots(s, now).length, 2);
  assert.equal(trustedRoots(s, new Date(now.getTime() + 3_600_001)).length, 1, 'the overlap ends by the clock');
  assert.equal(splitCertificates(s.previous!.crossPem).length, 1);
  await assert.rejects(rotateRoot({ stateDir: dir }), isCaError(/already in progress until .*--finish/));
  assert.throws(() => finishRotation({ stateDir: dir, force: false }), isCaError(/Add --force/));
  const done = finishRotation({ stateDir: dir, force: true });
  assert.equal(done.manifest.rotation, null);
  assert.equal(trustedRoots(done, new Date()).length, 1);
  assert.throws(() => finishRotation({ stateDir: dir, force: true }), isCaError(/no root rotation is in progress/));
  // A new rotation can start once the previous one is finished.
  assert.equal((await rotateRoot({ stateDir: dir })).manifest.generation, 3);
});

test('damaged state is reported with the file to restore, never silently replaced', async () => {
  const dir = join(tmp.dir, 'c');
  await initCaState({ stateDir: dir, trustDomain: 'cluster.local', keyType: 'ecdsa-p256' });
  rmSync(join(dir, 'ca', 'root-1-key.pem'));
  assert.throws(() => loadCaState(dir), isCaError(/root-1-key\.pem is missing or unreadable but ca\.json refers to it/));
  writeFileSync(join(dir, 'ca', 'ca.json'), '{ not json');
  assert.throws(() => loadCaState(dir), isCaError(/ca\.json is not valid JSON/));
  await assert.rejects(initCaState({ stateDir: dir, trustDomain: 'cluster.local', keyType: 'ecdsa-p256' }), isCaError(/ca\.json/));
});
