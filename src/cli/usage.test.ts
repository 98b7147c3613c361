// Every verb's --help and its answer to an unknown flag, through the CLI entry point: help exits 0 with a usage
// line and the exit codes; an unknown flag exits 2 (ExitCode.usage) with a message that names it and says where
// help is, before the command does anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode } from '../core/errors.ts';
import { memoryIo } from './io.ts';
import { main } from './main.ts';

const BIN = new URL('../../bin/weft.js', import.meta.url).pathname;

const verbs = ['version', 'ca', 'validate', 'apply', 'get', 'delete', 'analyze', 'up', 'proxy-status', 'proxy-config', 'authz', 'proxy', 'run', 'demo'];

async function weft(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return weftIn(process.cwd(), ...args);
}

async function weftIn(cwd: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo('', cwd);
  const code = await main(args, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

test('weft --help lists every verb and exits 0; no verb is a usage error (2)', async () => {
  const help = await weft('--help');
  assert.equal(help.code, ExitCode.ok);
  for (const v of verbs) assert.match(help.out, new RegExp(`^  ${v} `, 'm'), v);
  assert.equal((await weft()).code, ExitCode.usage);
  const unknown = await weft('aply');
  assert.equal(unknown.code, ExitCode.usage);
  assert.equal(unknown.err, `weft: unknown command "aply". Run 'weft --help' for the list.\n`);
});

for (const v of verbs) {
  test(`weft ${v} --help: usage and exit codes, exit 0`, async () => {
    const r = await weft(v, '--help');
    assert.equal(r.code, ExitCode.ok, r.err);
    assert.match(r.out, /^Usage: weft /);
    assert.match(r.out, /Exit codes:/);
    assert.equal(r.err, '');
  });
}

for (const v of verbs) {
  test(`weft ${v} --bogus: exit 2 naming the flag`, async () => {
    const args = v === 'ca' ? ['ca', 'root', '--bogus'] : v === 'proxy-config' ? ['proxy-config', 'cluster', '--bogus'] : v === 'proxy' ? ['proxy', 'sidecar', '--bogus'] : [v, '--bogus'];
    const r = await weft(...args);
    assert.equal(r.code, ExitCode.usage);
    assert.equal(r.out, '');
    assert.match(r.err, new RegExp(`^weft ${v}: unknown flag --bogus; run 'weft ${v} --help'\\n$`));
  });
}

test('weft version: text, -o json, and a stray argument is refused', async () => {
  const text = await weft('version');
  assert.match(text.out, /^weft \d+\.\d+\.\d+ \(node \d+\.\d+\.\d+\)\n$/);
  assert.equal((await weft('--version')).out, text.out);
  const json = JSON.parse((await weft('version', '-o', 'json')).out) as { weft: string; node: string };
  assert.equal(json.node, process.versions.node);
  const stray = await weft('version', 'extra');
  assert.equal(stray.code, ExitCode.usage);
  assert.equal(stray.err, `weft version: unexpected argument "extra"; run 'weft version --help'\n`);
  assert.equal((await weft('version', '-o', 'yaml')).code, ExitCode.usage);
});

test('a missing config directory (no ./mesh here, no --config-dir) is named, with what to pass instead', async () => {
  const cwd = await mkdtemp(join(tmpdir(), 'weft-usage-'));
  try {
    const get = await weftIn(cwd, 'get', 'vs');
    assert.equal(get.code, ExitCode.ok);
    assert.equal(get.err, `weft get: note: the config directory ${join(cwd, 'mesh')} does not exist; pass --config-dir DIR (the directory 'weft up' watches)\nNo resources found in default namespace.\n`);
    const del = await weftIn(cwd, 'delete', 'vs', 'reviews');
    assert.equal(del.code, ExitCode.invalid);
    assert.match(del.err, /^weft delete: note: the config directory .*mesh does not exist; pass --config-dir DIR/);
    const analyze = await weftIn(cwd, 'analyze');
    assert.equal(analyze.code, ExitCode.usage);
    assert.equal(analyze.err, `weft analyze: no files given, and the config directory mesh cannot be read (no such file or directory): name the files or directories to analyze (weft analyze FILE|DIR ...), or pass --config-dir DIR\n`);
    const authz = await weftIn(cwd, 'authz', 'check', 'productpage-v1.default');
    assert.equal(authz.code, ExitCode.usage);
    assert.equal(authz.err, `weft authz: the config directory mesh cannot be read (no such file or directory): pass --config-dir DIR, or --monitoring-address HOST:PORT to ask a running control plane\n`);
  } finally {
    await rm(cwd, { recursive: true, force: true });
  }
});

test('output into a pipe closed early (weft validate … | head -1) ends quietly with the command\'s exit code', { timeout: 30_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-usage-'));
  try {
    // 3000 invalid documents: ~400 kB of output, far more than a pipe holds, so the writes after the close fail.
    const doc = (i: number): string => `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs-${i}}\nspec: {hosts: reviews}\n`;
    await writeFile(join(dir, 'many.yaml'), Array.from({ length: 3000 }, (_, i) => doc(i)).join('---\n'));
    const child = spawn(process.execPath, [BIN, 'validate', '-f', join(dir, 'many.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    assert.equal(err, '');
    assert.equal(code, ExitCode.invalid);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
