// `weft validate -f FILE|DIR|- ...`: load and validate Istio (and Kubernetes) config exactly as the control plane
// would, and print every error and warning with its file, resource and field path. Nothing is applied.
// Exit codes: 0 all valid (warnings allowed), 1 something is invalid, 2 usage or I/O error.
import { ExitCode, UsageError } from '../../core/errors.ts';
import { loadPaths, type LoadedResource } from '../../config/api/load.ts';
import { formatKey } from '../../config/api/resource.ts';
import type { CliIo } from '../io.ts';
import { walkFlags } from '../flags.ts';

export const summary = 'Validate Istio configuration files without applying them';

const HELP = `Usage: weft validate -f FILE|DIR|- [-f ...] [-o text|json]

Validate Istio configuration (and the Kubernetes objects the mesh reads) the way Istio's API server and
webhook would, without applying anything.

Flags:
  -f, --filename PATH   A YAML or JSON file, a directory (read recursively: *.yaml, *.yml, *.json),
                        or - for standard input. Repeat for several.
  -o, --output FORMAT   text (default) or json.
  -h, --help            Show this help.

Exit codes: 0 everything is valid (warnings allowed), 1 something is invalid, 2 usage or I/O error
(including paths that hold no YAML or JSON file).
`;

interface Options {
  files: string[];
  output: 'text' | 'json';
}

function parseArgs(args: string[]): Options | 'help' {
  const files: string[] = [];
  let output: Options['output'] = 'text';
  const help = walkFlags(args, (flag, value, a) => {
    switch (flag) {
      case '-f':
      case '--filename':
        files.push(value());
        break;
      case '-o':
      case '--output': {
        const v = value();
        if (v !== 'text' && v !== 'json') throw new UsageError(`unsupported output format "${v}": use text or json`);
        output = v;
        break;
      }
      default:
        if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown flag ${a}; run 'weft validate --help'`);
        throw new UsageError(`unexpected argument "${a}": name files with -f (e.g. weft validate -f ${a})`);
    }
  });
  if (help) return 'help';
  if (files.length === 0) throw new UsageError("no input: name files or directories with -f (e.g. weft validate -f samples/), or -f - for standard input");
  return { files, output };
}

/** How a file is named in output: as the user gave it, `-` shown as `<stdin>`. */
const shownFile = (file: string): string => (file === '-' ? '<stdin>' : file);

/** `Kind/namespace/name`, or nothing for a document without a usable kind (a syntax error). */
function resourceLabel(r: LoadedResource): string | undefined {
  if (r.key.kind === '') return undefined;
  return formatKey({ ...r.key, name: r.key.name === '' ? '<unnamed>' : r.key.name });
}

/** One line per error and warning: `FILE: Kind/ns/name: path: message` (parts omitted when empty). */
export function formatText(results: LoadedResource[]): string {
  let out = '';
  for (const r of results) {
    const prefix = [shownFile(r.origin.file), resourceLabel(r)].filter((p) => p !== undefined).join(': ');
    for (const e of r.errors) out += `${prefix}: ${e.path === '' ? '' : `${e.path}: `}${e.message}\n`;
    for (const w of r.warnings) out += `${prefix}: ${w.path === '' ? '' : `${w.path}: `}warning: ${w.message}\n`;
  }
  return out;
}

export function formatSummary(results: LoadedResource[], fileCount: number): string {
  const invalid = results.filter((r) => !r.valid).length;
  const warnings = results.reduce((n, r) => n + r.warnings.length, 0);
  const skipped = results.filter((r) => r.support === 'skipped').length;
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  const parts = [`${invalid} invalid`, plural(warnings, 'warning')];
  if (skipped > 0) parts.push(`${skipped} skipped`);
  return `validated ${plural(results.length, 'resource')} in ${plural(fileCount, 'file')}: ${parts.join(', ')}\n`;
}

export function toJson(results: LoadedResource[]): unknown[] {
  return results.map((r) => ({
    file: shownFile(r.origin.file),
    kind: r.key.kind,
    apiVersion: r.apiVersion,
    namespace: r.key.namespace,
    name: r.key.name,
    valid: r.valid,
    errors: r.errors.map((e) => ({ path: e.path, message: e.message })),
    warnings: r.warnings.map((w) => ({ path: w.path, message: w.message })),
  }));
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const opts = parseArgs(args);
  if (opts === 'help') {
    io.out(HELP);
    return ExitCode.ok;
  }
  const stdin = opts.files.includes('-') ? await io.readStdin() : undefined;
  const { results, ioErrors, files } = await loadPaths(opts.files, undefined, { stdin, cwd: io.cwd });
  for (const e of ioErrors) io.err(`weft validate: cannot read ${shownFile(e.file)}: ${e.message}\n`);
  // A path that holds no config at all is almost always a mistake (a wrong directory in CI): say so and fail.
  const empty = files.length === 0 && ioErrors.length === 0;
  if (empty) io.err(`weft validate: no YAML or JSON files found in ${opts.files.join(', ')}\n`);
  if (opts.output === 'json') {
    io.out(JSON.stringify(toJson(results), null, 2) + '\n');
  } else {
    io.out(formatText(results));
    io.out(formatSummary(results, files.length));
  }
  if (ioErrors.length > 0 || empty) return ExitCode.usage;
  return results.every((r) => r.valid) ? ExitCode.ok : ExitCode.invalid;
}
