// bin/weft.js started by an old system Node re-runs weft under the Node 24 in node_modules. SIGKILL of that launcher
// (which it cannot forward) must not leave the Node 24 child running: the parent-death watch (WEFT_EXIT_WITH_PARENT,
// a never-written pipe, here on fd 3) gives it SIGTERM, its ordinary stop. stdin stays the user's (`-f -`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const weft = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));
const systemNode = '/usr/bin/node';

/** The system Node, when it is one the launcher re-runs under Node 24 (older than 22.18). */
function oldNode(): string | undefined {
  const r = spawnSync(systemNode, ['-p', 'process.versions.node'], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const [major = 0, minor = 0] = r.stdout.trim().split('.').map(Number);
  return major < 22 || (major === 22 && minor < 18) ? r.stdout.trim() : undefined;
}
const old = oldNode();

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

test(`SIGKILL of the launcher (system Node ${old ?? 'is not older than 22.18: skipped'}) stops its Node 24 weft up`, { skip: old === undefined, timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-launcher-'));
  mkdirSync(join(dir, 'config'));
  const launcher = spawn(systemNode, [weft, 'up', '--config-dir', join(dir, 'config'), '--state-dir', join(dir, 'state'), '--xds-port', '0', '--xds-tls-port', '0', '--monitoring-port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pids: number[] = [];
  t.after(() => {
    for (const pid of [launcher.pid, ...pids]) {
      try {
        if (pid !== undefined) process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  let out = '';
  let err = '';
  launcher.stderr.on('data', (d: Buffer) => (err += d.toString()));
  // stdout ends when every process holding it is gone: the launcher and its Node 24 child.
  const ended = new Promise<void>((resolve) => launcher.stdout.on('end', resolve));
  await new Promise<void>((resolve, reject) => {
    launcher.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('weft control plane ready')) resolve();
    });
    launcher.once('exit', (code) => reject(new Error(`launcher exited ${code}: ${err}`)));
  });
  const pid = launcher.pid!;
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  assert.equal(children.length, 1, 'the launcher runs weft in one child');
  const child = children[0]!;
  pids.push(child);
  assert.match(readFileSync(`/proc/${child}/cmdline`, 'utf8'), /node_modules\/node\/bin\/node/);
  launcher.kill('SIGKILL');
  await ended;
  assert.match(out, /weft: SIGTERM: shutting down\nweft: stopped\n/, 'the child stopped as on SIGTERM');
  assert.equal(alive(child), false);
});

test('under the launcher, stdin is still the user\'s: weft validate -f - reads it', { skip: old === undefined }, () => {
  const doc = 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r, namespace: default}\nspec:\n  hosts: [r]\n  http:\n  - route:\n    - destination: {host: r}\n';
  const r = spawnSync(systemNode, [weft, 'validate', '-f', '-'], { input: doc, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'validated 1 resource in 1 file: 0 invalid, 0 warnings\n');
});
