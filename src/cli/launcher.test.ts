// `npx weft up` stopped with SIGTERM: npm kills its `sh -c` child, which never passes the signal on. A real shell
// starts a real `weft up` (ports 0) as npm exec does, the shell is killed, and weft must stop by itself, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childEnv } from '../core/env.ts';
import { watchLauncher } from './launcher.ts';

const BIN = new URL('../../bin/weft.js', import.meta.url).pathname;

/** Running (a zombie that its new parent, maybe a container's init, has not reaped yet counts as exited). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

test('under npm exec, weft up stops with its SIGTERM handler when the shell that started it is killed', { timeout: 30_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-launcher-'));
  const up = `'${process.execPath}' '${BIN}' up --config-dir '${dir}/config' --state-dir '${dir}/state' --xds-port 0 --xds-tls-port 0 --monitoring-port 0`;
  // `& … wait`: the shell stays weft's parent (no exec), as npm's `sh -c` does.
  const sh = spawn('sh', ['-c', `mkdir -p '${dir}/config'; ${up} 2>&1 & echo "pid $!"; wait`], {
    env: childEnv({ npm_command: 'exec' }),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  let weftPid = 0;
  const ready = new Promise<void>((resolve) => {
    sh.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      weftPid ||= Number(/^pid (\d+)$/m.exec(out)?.[1] ?? 0);
      if (out.includes('weft control plane ready')) resolve();
    });
  });
  // Every writer of the pipe (the shell, then weft) is gone: weft has exited.
  const drained = new Promise<void>((resolve) => sh.stdout.on('close', resolve));
  try {
    await ready;
    assert.ok(weftPid > 0 && alive(weftPid));
    sh.kill('SIGTERM');
    // Bounded, so that a weft that runs on (the bug) fails the test and is killed below instead of hanging it.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`weft ${weftPid} still running 10 s after its shell was killed`)), 10_000)));
    await Promise.race([drained, late]).finally(() => clearTimeout(timer));
    assert.match(out, /weft: SIGTERM: shutting down\n/);
    assert.match(out, /weft: stopped\n/);
    // Its output closes a moment before the process is gone (exit is not instant after the last write), and a
    // process that is not our child has no exit event: look again, bounded, until it has exited.
    const deadline = Date.now() + 5_000;
    while (alive(weftPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(alive(weftPid), false);
  } finally {
    if (weftPid > 0 && alive(weftPid)) process.kill(weftPid, 'SIGKILL');
    sh.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

test('outside npm exec there is no watch', () => {
  let called = false;
  const stop = watchLauncher({ npmCommand: 'test', onParentGone: () => (called = true) });
  stop();
  assert.equal(called, false);
  assert.equal(watchLauncher({ npmCommand: undefined }).name, '');
});
