// `weft proxy sidecar|router` flag parsing: an unknown flag is refused first, by name, and a `--flag` is never
// taken as the value of the flag before it. Through the CLI entry point, so nothing starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExitCode } from '../../core/errors.ts';
import { memoryIo } from '../io.ts';
import { main } from '../main.ts';
import { parseProxyFlags } from './proxy.ts';

async function proxy(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo('', process.cwd());
  const code = await main(['proxy', ...args], io);
  return { code, out: io.stdout(), err: io.stderr() };
}

test('an unknown flag is named, with where help is, before anything else is read', async () => {
  for (const args of [['sidecar', '--bogus'], ['router', '--discovery-address', '127.0.0.1:1', '--bogus=1'], ['sidecar', '--name', '--bogus'], ['sidecar', '-x']]) {
    const r = await proxy(...args);
    assert.equal(r.code, ExitCode.usage, args.join(' '));
    assert.equal(r.out, '');
    const flag = args.at(-1)!.split('=')[0];
    assert.equal(r.err, `weft proxy: unknown flag ${flag}; run 'weft proxy --help'\n`, args.join(' '));
  }
});

test('a flag is never the value of the flag before it', async () => {
  const r = await proxy('sidecar', '--discovery-address', '127.0.0.1:1', '--name', '--namespace', 'x');
  assert.equal(r.code, ExitCode.usage);
  assert.equal(r.err, `weft proxy: flag --name needs a value, and --namespace is a flag; run 'weft proxy --help'\n`);
  const last = await proxy('sidecar', '--name');
  assert.equal(last.err, `weft proxy: flag --name needs a value\n`);
  const stray = await proxy('sidecar', 'extra');
  assert.equal(stray.err, `weft proxy: unexpected argument "extra"; run 'weft proxy --help'\n`);
});

test('values: --flag value and --flag=value (which may start with --), -1 for a port, --app-probe repeats', () => {
  const { f, probeFlags } = parseProxyFlags(['--name', 'web', '--namespace=--odd', '--admin-port', '-1', '--app-probe', 'a:livez=tcp://127.0.0.1:1', '--app-probe=b:readyz=tcp://127.0.0.1:2']);
  assert.deepEqual(f, { name: 'web', namespace: '--odd', 'admin-port': '-1', 'app-probe': 'b:readyz=tcp://127.0.0.1:2' });
  assert.deepEqual(probeFlags, ['a:livez=tcp://127.0.0.1:1', 'b:readyz=tcp://127.0.0.1:2']);
});
