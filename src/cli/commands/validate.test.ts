// Golden tests of `weft validate`: text and JSON output over test/golden/validate/fixtures, exit codes, stdin,
// usage and I/O errors, in-process through main() and once as a real process through bin/weft.js.
// Regenerate the golden files with WEFT_UPDATE_GOLDEN=1 and review the diff.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { readEnv } from '../../core/env.ts';
import { memoryIo } from '../io.ts';
import { main } from '../main.ts';

const GOLDEN_DIR = fileURLToPath(new URL('../../../test/golden/validate/', import.meta.url));
const BIN = fileURLToPath(new URL('../../../bin/weft.js', import.meta.url));
const update = readEnv().updateGolden;

function golden(name: string, actual: string): void {
  const file = `${GOLDEN_DIR}${name}`;
  if (update) writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, 'utf8'), `output differs from ${name}; rerun with WEFT_UPDATE_GOLDEN=1 and review the diff`);
}

async function weft(args: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo(stdin, GOLDEN_DIR);
  const code = await main(['validate', ...args], io);
  return { code, out: io.stdout(), err: io.stderr() };
}

test('text output over the fixtures: errors, warnings and a summary; exit 1 when anything is invalid', async () => {
  const r = await weft(['-f', 'fixtures']);
  golden('text.golden', r.out);
  assert.equal(r.err, '');
  assert.equal(r.code, 1);
});

test('JSON output: one object per resource, an unparseable document is one invalid object', async () => {
  const r = await weft(['-o', 'json', '--filename', 'fixtures']);
  golden('json.golden', r.out);
  assert.equal(r.code, 1);
  const parsed = JSON.parse(r.out) as Array<{ file: string; valid: boolean; kind: string; errors: unknown[] }>;
  const syntax = parsed.filter((p) => p.file === 'fixtures/bad/syntax.yaml');
  assert.equal(syntax.length, 1);
  assert.equal(syntax[0]?.valid, false);
  assert.equal(syntax[0]?.kind, '');
});

test('valid input exits 0 (warnings allowed); repeated -f and --filename=', async () => {
  const r = await weft(['-f', 'fixtures/good/routes.yaml', '--filename=fixtures/good/cluster.json', '-f', 'fixtures/foreign.yaml']);
  assert.equal(r.code, 0);
  golden('valid.golden', r.out);
});

test('standard input with -f -', async () => {
  const r = await weft(['-f', '-'], readFileSync(`${GOLDEN_DIR}fixtures/bad/routes.yaml`, 'utf8'));
  assert.equal(r.code, 1);
  assert.match(r.out, /^<stdin>: VirtualService\/bookinfo\/ratings: spec\.http\[0\]\.websocketUpgrade: unknown field "websocketUpgrade"$/m);
  assert.match(r.out, /in 1 file:/);
});

test('usage and I/O errors exit 2', async () => {
  const none = await weft([]);
  assert.equal(none.code, 2);
  assert.match(none.err, /no input: name files or directories with -f/);
  const badFlag = await weft(['-f', 'fixtures', '--frobnicate']);
  assert.equal(badFlag.code, 2);
  const badOut = await weft(['-f', 'fixtures', '-o', 'xml']);
  assert.equal(badOut.code, 2);
  assert.match(badOut.err, /unsupported output format "xml"/);
  const missing = await weft(['-f', 'fixtures/good', '-f', 'nope.yaml']);
  assert.equal(missing.code, 2);
  assert.equal(missing.err, 'weft validate: cannot read nope.yaml: no such file or directory\n');
  assert.match(missing.out, /validated 7 resources in 3 files/, 'readable files are still validated');
  const empty = await weft(['-f', 'fixtures/empty']);
  assert.equal(empty.code, 2);
  assert.equal(empty.err, 'weft validate: no YAML or JSON files found in fixtures/empty\n');
  const help = await weft(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /Usage: weft validate -f/);
});

test('a real process: bin/weft.js validate prints the same report and exits 1', async () => {
  const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve, reject) => {
    execFile(process.execPath, [BIN, 'validate', '-f', 'fixtures'], { cwd: GOLDEN_DIR, timeout: 30_000 }, (error, stdout) => {
      if (error && typeof error.code !== 'number') reject(error);
      else resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout });
    });
  });
  assert.equal(code, 1);
  assert.equal(stdout, readFileSync(`${GOLDEN_DIR}text.golden`, 'utf8'));
});
