// `weft version`: the package version and the Node.js runtime.
import { readFileSync } from 'node:fs';
import { ExitCode, UsageError } from '../../core/errors.ts';
import { walkFlags } from '../flags.ts';
import type { CliIo } from '../io.ts';

export const summary = 'Print the weft version';

const HELP = `Usage: weft version [-o text|json]

Print the weft version and the Node.js version it runs on.

Flags:
  -o, --output FORMAT   text (default: "weft 0.1.0 (node 24.21.0)") or json ({"weft": …, "node": …}).
  -h, --help            Show this help.

Exit codes: 0 printed, 2 usage error.
`;

export async function run(args: string[], io: CliIo): Promise<number> {
  let output = 'text' as 'text' | 'json';
  const help = walkFlags(args, (flag, value, arg) => {
    switch (flag) {
      case '-o':
      case '--output': {
        const v = value();
        if (v !== 'text' && v !== 'json') throw new UsageError(`unsupported output format "${v}": use text or json`);
        output = v;
        break;
      }
      default:
        throw new UsageError(arg.startsWith('-') ? `unknown flag ${flag}; run 'weft version --help'` : `unexpected argument "${arg}"; run 'weft version --help'`);
    }
  });
  if (help === 'help') {
    io.out(HELP);
    return ExitCode.ok;
  }
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  if (output === 'json') {
    io.out(JSON.stringify({ weft: pkg.version, node: process.versions.node }) + '\n');
  } else {
    io.out(`weft ${pkg.version} (node ${process.versions.node})\n`);
  }
  return ExitCode.ok;
}
