// `weft up` as a process: bad config at start-up exits 1 naming the file and field; bad flags exit 2; SIGINT shuts
// down cleanly with exit 0; a port in use is reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { nodeBin, repoRoot, startWeft, tempDir, weftBin } from './harness.ts';

function runWeft(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(nodeBin, [weftBin, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`weft ${args.join(' ')} did not exit within ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('invalid config at start-up: exit 1, the file and the field path in the message', async (t) => {
  const dir = await tempDir('weft-up-bad-');
  t.after(() => dir.remove());
  const config = join(dir.path, 'config');
  await mkdir(config);
  await writeFile(join(config, 'vs.yaml'), 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r, namespace: default}\nspec:\n  hosts: [reviews]\n  http:\n  - timeout: 5 seconds\n    route:\n    - destination: {host: reviews}\n');
  const r = await runWeft(['up', '--config-dir', config, '--state-dir', join(dir.path, 'state'), '--xds-port', '0', '--xds-tls-port', '0', '--monitoring-port', '0']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /vs\.yaml/);
  assert.match(r.stderr, /spec\.http\[0\]\.timeout/);
  assert.match(r.stderr, /WEFT_ERR_CONFIG_INVALID/);
  assert.doesNotMatch(r.stdout, /ready/);
});

test('usage errors exit 2: missing --config-dir, state dir inside the config dir, bad durations', async (t) => {
  const dir = await tempDir('weft-up-usage-');
  t.after(() => dir.remove());
  const a = await runWeft(['up', '--state-dir', dir.path]);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /--config-dir is required/);
  const b = await runWeft(['up', '--config-dir', dir.path, '--state-dir', join(dir.path, 'state')]);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /must not be inside --config-dir/);
  const c = await runWeft(['up', '--config-dir', dir.path, '--state-dir', '/tmp/x', '--debounce-quiet', '100']);
  assert.equal(c.code, 2);
  assert.match(c.stderr, /--debounce-quiet must be a duration such as 100ms/);
});

test('a port in use is reported and exits 2', async (t) => {
  const dir = await tempDir('weft-up-port-');
  t.after(() => dir.remove());
  const config = join(dir.path, 'config');
  await mkdir(config);
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => blocker.close(r)));
  const port = (blocker.address() as { port: number }).port;
  const r = await runWeft(['up', '--config-dir', config, '--state-dir', join(dir.path, 'state'), '--xds-port', '0', '--xds-tls-port', '0', '--monitoring-port', String(port)]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(monitoring\\)`));
});

test('SIGINT shuts down cleanly: exit 0 and "stopped"', async (t) => {
  const dir = await tempDir('weft-up-sigint-');
  t.after(() => dir.remove());
  const config = join(dir.path, 'config');
  await mkdir(config);
  const weft = await startWeft(config, join(dir.path, 'state'));
  assert.ok(weft.xdsPort > 0 && weft.xdsTlsPort > 0 && weft.monitoringPort > 0);
  const exited = new Promise<number | null>((r) => weft.child.once('close', (code) => r(code)));
  weft.child.kill('SIGINT');
  assert.equal(await exited, 0);
  assert.ok(weft.stdout.includes('weft: stopped'), weft.stdout.join('\n'));
});
