// The one flag walker the CLI commands share: `--flag value`, `--flag=value`, `-f value`, and -h/--help.
// Each command keeps its own switch over the flags; this module only walks the arguments.
import { UsageError } from '../core/errors.ts';

/**
 * Calls `visit(flag, value, arg)` for each argument in order. `flag` is the argument, or its part before `=` for
 * `--name=value`; `value()` returns the inline value or consumes the next argument (a UsageError when there is none);
 * `arg` is the argument as given (for positional arguments and messages). Returns 'help' as soon as -h/--help is met.
 */
export function walkFlags(args: readonly string[], visit: (flag: string, value: () => string, arg: string) => void): 'help' | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '-h' || arg === '--help') return 'help';
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    visit(
      flag,
      () => {
        if (inline !== undefined) return inline;
        const v = args[++i];
        if (v === undefined) throw new UsageError(`flag ${flag} needs a value`);
        return v;
      },
      arg,
    );
  }
  return undefined;
}
