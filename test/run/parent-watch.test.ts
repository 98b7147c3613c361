// The parent-death watch of weft's own processes (bin/weft.js, WEFT_EXIT_WITH_PARENT): a `weft proxy` started by a
// weft process with the watch pipe exits when that parent is SIGKILLed; one started without the variable (a user's)
// never watches its stdin, even when stdin is a pipe whose writer is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const weft = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** A parent process that starts `weft proxy sidecar` (watch armed or not), prints its pid once ready, then waits to be killed. */
async function parentWithProxy(dir: string, armed: boolean): Promise<{ parent: ReturnType<typeof spawn>; proxyPid: number }> {
  const bootstrap = join(dir, 'bootstrap.json');
  writeFileSync(bootstrap, JSON.stringify({ static_resources: { listeners: [], clusters: [] } }));
  const script = `
const { spawn } = require('node:child_process');
const env = { ...process.env };
${armed ? "env.WEFT_EXIT_WITH_PARENT = '1';" : 'delete env.WEFT_EXIT_WITH_PARENT;'}
const c = spawn(process.execPath, [${JSON.stringify(weft)}, 'proxy', 'sidecar', '--bootstrap', ${JSON.stringify(bootstrap)}, '--admin-port', '0', '--outbound-port', '0', '--inbound-port', '-1', '--stats-port', '-1', '--readiness-port', '-1', '--status-port', '-1'], { stdio: ['pipe', 'pipe', 'inherit'], env, detached: true });
let out = '';
c.stdout.on('data', (d) => { out += d; if (out.includes('weft proxy ready')) console.log('proxy ' + c.pid); });
`;
  const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const proxyPid = await new Promise<number>((resolve, reject) => {
    let out = '';
    parent.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /proxy (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    parent.once('exit', (code) => reject(new Error(`parent exited ${code}`)));
  });
  return { parent, proxyPid };
}

async function until(fn: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!fn() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return fn();
}

test('parent-death watch: armed by weft → the proxy exits when its parent is SIGKILLed; not armed (a user-started proxy) → it keeps running', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-parent-watch-'));
  const started: number[] = [];
  t.after(() => {
    for (const pid of started) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const armed = await parentWithProxy(dir, true);
  const plain = await parentWithProxy(dir, false);
  started.push(armed.proxyPid, plain.proxyPid);
  armed.parent.kill('SIGKILL');
  plain.parent.kill('SIGKILL');
  assert.ok(await until(() => !alive(armed.proxyPid), 10_000), 'the armed proxy exits once its parent is gone');
  // The same wait, for the one that must stay: it is still serving afterwards.
  assert.ok(!(await until(() => !alive(plain.proxyPid), 1000)), 'a proxy not started by weft ignores its stdin');
});
