// native/build.sh is quiet when the addon builds (one line, no "gyp info" progress) and shows the compiler's errors
// when it does not. Run on a copy of native/ in a temporary directory, with the node-gyp that npm bundles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const native = fileURLToPath(new URL('../../native/', import.meta.url));

/**
 * npm's own node-gyp (npm puts this directory on PATH for install scripts), when npm, a C compiler and the system's
 * Node headers are here (build.sh then builds without downloading anything).
 */
function nodeGypBin(): string | undefined {
  const npm = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' });
  const bin = npm.status === 0 ? join(npm.stdout.trim(), 'npm', 'bin', 'node-gyp-bin') : '';
  const cc = spawnSync('sh', ['-c', 'command -v cc && command -v make'], { encoding: 'utf8' });
  return bin !== '' && existsSync(join(bin, 'node-gyp')) && cc.status === 0 && existsSync('/usr/include/node/node_api.h') ? bin : undefined;
}
const gypBin = nodeGypBin();

function build(dir: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn('sh', [join(dir, 'build.sh')], { env: { ...process.env, PATH: `${gypBin}:${process.env['PATH'] ?? ''}` }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('close', (code) => resolve({ code, out, err }));
  });
}

function copyOfNative(): string {
  const dir = mkdtempSync(join(tmpdir(), 'weft-native-'));
  for (const f of ['binding.gyp', 'build.sh', 'weft_native.c']) copyFileSync(join(native, f), join(dir, f));
  return dir;
}

test('native/build.sh: one line on success; the compiler\'s error and a non-zero exit on failure', { skip: gypBin === undefined ? 'needs npm\'s node-gyp, a C compiler and /usr/include/node' : false, timeout: 120_000 }, async () => {
  const good = copyOfNative();
  const bad = copyOfNative();
  appendFileSync(join(bad, 'weft_native.c'), '\nthis is not C;\n');
  try {
    const [ok, failed] = await Promise.all([build(good), build(bad)]);
    assert.equal(ok.code, 0, ok.err);
    assert.equal(ok.out, 'weft: built the native addon (native/build/Release/weft_native.node)\n');
    assert.doesNotMatch(ok.err, /gyp info/);
    assert.ok(existsSync(join(good, 'build', 'Release', 'weft_native.node')));
    assert.notEqual(failed.code, 0);
    assert.match(failed.err, /weft_native\.c:\d+:\d+: error: unknown type name .this./);
    assert.match(failed.err, /gyp ERR! /);
    assert.doesNotMatch(failed.err, /gyp info/);
  } finally {
    rmSync(good, { recursive: true, force: true });
    rmSync(bad, { recursive: true, force: true });
  }
});
