// `weft version`: the package version and the Node.js runtime.
import { readFileSync } from 'node:fs';
import type { CliIo } from '../io.ts';

export const summary = 'Print the weft version';

export async function run(args: string[], io: CliIo): Promise<number> {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  if (args.includes('-o') && args.includes('json')) {
    io.out(JSON.stringify({ weft: pkg.version, node: process.versions.node }) + '\n');
  } else {
    io.out(`weft ${pkg.version} (node ${process.versions.node})\n`);
  }
  return 0;
}
