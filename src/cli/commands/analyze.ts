// `weft analyze FILE|DIR ...`: run Istio's analyzers (IST codes) over a set of resources and print the findings
// as istioctl analyze does. Without arguments it analyzes the config directory (--config-dir, default ./mesh).
// Exit codes: 79 error-level messages found, 1 a document could not be parsed, 2 usage or I/O error, else 0.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ExitCode, UsageError } from '../../core/errors.ts';
import { loadPaths } from '../../config/api/load.ts';
import type { LoadedResource } from '../../config/api/validate.ts';
import { analyze, itemsFromLoaded, messageLine, parseMeshConfig } from '../../config/analyze/analyze.ts';
import { allAnalyzers } from '../../config/analyze/analyzers/index.ts';
import type { Message, MeshSettings } from '../../config/analyze/context.ts';
import { toYaml } from '../../config/store/writer.ts';
import type { CliIo } from '../io.ts';
import { tracingWarnings } from './analyze-tracing.ts';
import { DEFAULT_CONFIG_DIR, lastValue, parseFlags, withDefaultNamespace } from './store-cli.ts';

export const summary = 'Analyze configuration and report Istio analyzer messages (IST0101 …)';

const HELP = `Usage: weft analyze [FILE|DIR|- ...] [-o log|json|yaml] [-A | -n NAMESPACE] [--meshConfigFile FILE] [--config-dir DIR] [-L]

Run Istio's analyzers over the given files and directories (YAML/JSON, directories read recursively), or
over the config directory when none is given, and print what they find, as 'istioctl analyze' does:
  Error [IST0101] (VirtualService default/reviews) Referenced host not found: "reviews2"
Tracing settings that yield no spans (an undefined or unsupported provider, a collector not in the registry) follow
as plain warnings without a code (on stderr with -o json|yaml); they do not change the exit code:
  Warning (Telemetry default/mesh-default) spec.tracing[0].providers[0].name: names extension provider "otel", ...

Flags:
  -A, --all-namespaces     Report on resources in every namespace (default: only --namespace).
  -n, --namespace NS       The namespace to report on (default: default).
  -o, --output FORMAT      log (default), json or yaml.
      --meshConfigFile F   MeshConfig (YAML) to analyze with: rootNamespace, ingressService, defaultConfig.proxyMetadata.
      --config-dir DIR     Directory analyzed when no file is given (default ./mesh).
  -L, --list-analyzers     List the analyzers and exit.
  -h, --help               Show this help.

Exit codes: 0 no error-level message, 79 error-level messages found, 1 a document could not be parsed,
2 usage or I/O error.
`;

const spec = {
  values: { '-o': 'output', '--output': 'output', '-n': 'namespace', '--namespace': 'namespace', '--meshConfigFile': 'mesh', '--mesh-config-file': 'mesh', '--config-dir': 'config-dir' },
  bools: { '-A': 'all', '--all-namespaces': 'all', '-L': 'list', '--list-analyzers': 'list', '-h': 'help', '--help': 'help' },
};

const DOCS = 'https://istio.io/latest/docs/reference/config/analysis';

/** The JSON/YAML shape: istioctl's fields plus the resource as an object. */
export function toJson(ms: Message[]): unknown[] {
  return ms.map((m) => ({
    code: m.type.code,
    name: m.type.name,
    level: m.type.level,
    ...(m.item ? { resource: { kind: m.item.kind, namespace: m.item.namespace, name: m.item.name }, origin: `${m.item.kind} ${m.item.namespace === '' ? '' : `${m.item.namespace}/`}${m.item.name}` } : {}),
    ...(m.item && m.item.origin.line !== undefined ? { reference: `${m.item.origin.file}:${m.item.origin.line}` } : {}),
    message: m.text,
    documentationUrl: `${DOCS}/${m.type.code.toLowerCase()}/`,
  }));
}

async function meshSettings(file: string | undefined, io: CliIo): Promise<{ settings: MeshSettings; text: string } | undefined> {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(resolve(io.cwd, file), 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read mesh config ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    return { settings: parseMeshConfig(text), text };
  } catch (e) {
    throw new UsageError(`mesh config ${file} is not valid YAML: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const p = parseFlags(args, spec, 'analyze');
  if (p.bools.has('help')) {
    io.out(HELP);
    return ExitCode.ok;
  }
  if (p.bools.has('list')) {
    io.out([...allAnalyzers].sort((a, b) => (a.name < b.name ? -1 : 1)).map((a) => `* ${a.name}:\n    ${a.description}\n`).join(''));
    return ExitCode.ok;
  }
  const output = lastValue(p, 'output') ?? 'log';
  if (!['log', 'json', 'yaml'].includes(output)) throw new UsageError(`unsupported output format "${output}": use log, json or yaml`);
  const all = p.bools.has('all');
  const namespace = lastValue(p, 'namespace') ?? 'default';
  const meshFile = lastValue(p, 'mesh');
  const meshFileRead = await meshSettings(meshFile, io);
  const mesh = meshFileRead?.settings;
  const paths = p.positional.length > 0 ? p.positional : [lastValue(p, 'config-dir') ?? DEFAULT_CONFIG_DIR];

  const stdin = paths.includes('-') ? await io.readStdin() : undefined;
  const { results, ioErrors, files } = await loadPaths(paths, undefined, { stdin, cwd: io.cwd });
  for (const e of ioErrors) {
    // Without arguments the config directory is analyzed: when it is missing, say so and what else to pass.
    if (p.positional.length === 0) io.err(`weft analyze: no files given, and the config directory ${e.file} cannot be read (${e.message}): name the files or directories to analyze (weft analyze FILE|DIR ...), or pass --config-dir DIR\n`);
    else io.err(`weft analyze: cannot read ${e.file === '-' ? '<stdin>' : e.file}: ${e.message}\n`);
  }
  if (ioErrors.length > 0) return ExitCode.usage;
  const unparsed = results.filter((r) => r.support === 'unparsed' || r.key.kind === '');
  for (const u of unparsed) io.err(`Error(s) adding files: ${unparsedWhere(u)}: ${u.errors.map((e) => e.message).join('; ')}\n`);

  const loaded = namespace === 'default' ? results : await withDefaultNamespace(results, namespace, stdin, io);
  const messages = analyze(itemsFromLoaded(loaded, namespace), { namespace, allNamespaces: all, workloads: 'auto', ...(mesh ? { mesh } : {}) });
  // Tracing settings that yield no spans: plain warnings (no IST code exists), on stderr when stdout is JSON/YAML.
  const tracing = tracingWarnings(loaded, { meshText: meshFileRead?.text, meshFile, namespace, allNamespaces: all });
  if (output === 'json') io.out(JSON.stringify(toJson(messages), null, 2) + '\n');
  else if (output === 'yaml') io.out(messages.length === 0 ? '[]\n' : toYaml(toJson(messages)));
  if (output !== 'log') for (const w of tracing) io.err(w + '\n');
  else {
    for (const m of messages) io.out(messageLine(m) + '\n');
    for (const w of tracing) io.out(w + '\n');
    if (messages.length === 0 && tracing.length === 0) {
      const shown = files.map((f) => (f === '-' ? '<stdin>' : f));
      if (unparsed.length > 0) io.err(`No validation issues found when analyzing ${all ? 'all namespaces' : `namespace: ${namespace}`} (but ${unparsed.length} ${unparsed.length === 1 ? 'document was' : 'documents were'} not analyzed: see above).\n`);
      else if (shown.length === 1) io.err(`\u2714 No validation issues found when analyzing ${shown[0]}.\n`);
      else if (shown.length > 1) io.err(`\u2714 No validation issues found when analyzing:\n  - ${shown.join('\n  - ')}\n`);
      else io.err(`\u2714 No validation issues found when analyzing ${all ? 'all namespaces' : `namespace: ${namespace}`}.\n`);
    }
  }
  if (messages.some((m) => m.type.level === 'Error')) return ExitCode.analyzeErrors;
  return unparsed.length > 0 ? ExitCode.invalid : ExitCode.ok;
}

/**
 * Where a document that could not be analyzed is: the file, its line, and its kind and name when it got that far
 * (an unknown kind), so that one bad document among many in a file can be found.
 */
function unparsedWhere(u: LoadedResource): string {
  const file = u.origin.file === '-' ? '<stdin>' : u.origin.file;
  const at = u.origin.line !== undefined ? `${file}:${u.origin.line}` : file;
  const kind = typeof u.resource.kind === 'string' ? u.resource.kind : '';
  const name = typeof u.resource.metadata?.name === 'string' ? u.resource.metadata.name : '';
  return kind !== '' && name !== '' ? `${at} (${kind} ${name})` : at;
}
