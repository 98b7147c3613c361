// Entry point of the `weft` CLI: dispatches to one module per verb under ./commands/.
// Each command module exports `run(args: string[], io: CliIo): Promise<number>` and returns the exit code.
import { readEnv } from '../core/env.ts';
import { ExitCode, UsageError, WeftError, describeError } from '../core/errors.ts';
import type { CliIo } from './io.ts';
import { processIo } from './io.ts';
import { watchLauncher } from './launcher.ts';

type CommandModule = { run(args: string[], io: CliIo): Promise<number>; summary: string };

/** Verb → lazy loader. Loading lazily keeps `weft validate` from paying for the proxy's modules. */
const commands: Record<string, () => Promise<CommandModule>> = {
  version: () => import('./commands/version.ts'),
  ca: () => import('./commands/ca.ts'),
  validate: () => import('./commands/validate.ts'),
  apply: () => import('./commands/apply.ts'),
  get: () => import('./commands/get.ts'),
  delete: () => import('./commands/delete.ts'),
  analyze: () => import('./commands/analyze.ts'),
  up: () => import('./commands/up.ts'),
  'proxy-status': () => import('./commands/proxy-status.ts'),
  'proxy-config': () => import('./commands/proxy-config.ts'),
  authz: () => import('./commands/authz.ts'),
  proxy: () => import('./commands/proxy.ts'),
  run: () => import('./commands/run.ts'),
  demo: () => import('./commands/demo.ts'),
};

function usage(io: CliIo, loaded: Record<string, string>): void {
  const lines = Object.entries(loaded).map(([verb, summary]) => `  ${verb.padEnd(16)}${summary}`);
  io.out(`weft — a service mesh that speaks Istio's config API and Envoy's xDS.\n\nUsage: weft <command> [flags]\n\nCommands:\n${lines.join('\n')}\n\nRun 'weft <command> --help' for a command's flags.\n`);
}

export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [first, ...rest] = argv;
  // `weft --version`, as most CLIs (and istioctl's `version`) answer it.
  const verb = first === '--version' ? 'version' : first;
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    const summaries: Record<string, string> = {};
    for (const [name, load] of Object.entries(commands).sort()) summaries[name] = (await load()).summary;
    usage(io, summaries);
    return verb === undefined ? ExitCode.usage : ExitCode.ok;
  }
  const load = commands[verb];
  if (!load) {
    io.err(`weft: unknown command "${verb}". Run 'weft --help' for the list.\n`);
    return ExitCode.usage;
  }
  // Under npx a SIGTERM to npm never reaches weft: stop when npm is gone instead of running on, orphaned.
  const stopWatch = watchLauncher({ npmCommand: readEnv().npmCommand });
  try {
    return await (await load()).run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`weft ${verb}: ${e.message}\n`);
      return ExitCode.usage;
    }
    if (e instanceof WeftError) {
      io.err(`weft ${verb}: ${e.message} (${e.code})\n`);
      return e.code === 'WEFT_ERR_CONFIG_INVALID' ? ExitCode.invalid : ExitCode.usage;
    }
    io.err(`weft ${verb}: internal error: ${describeError(e)}\n${e instanceof Error ? (e.stack ?? '') : ''}\n`);
    return ExitCode.usage;
  } finally {
    stopWatch();
  }
}
