// `weft apply -f FILE|DIR|-`: validate, then write each resource into the config directory (the store
// `weft up` watches). All or nothing: if any input is invalid, nothing is written and the errors are printed
// exactly as `weft validate` prints them. Prints `kind.group/name created|configured|unchanged` like kubectl.
import { ExitCode, UsageError } from '../../core/errors.ts';
import type { LoadedResource } from '../../config/api/load.ts';
import { loadPaths } from '../../config/api/load.ts';
import type { ResourceKey } from '../../config/api/resource.ts';
import { contentVersion, keyString } from '../../config/store/state.ts';
import type { StoredResource } from '../../config/store/types.ts';
import { writeResource } from '../../config/store/writer.ts';
import type { CliIo } from '../io.ts';
import { configDir, lastValue, objectRef, openStore, parseFlags, withDefaultNamespace } from './store-cli.ts';
import { formatText } from './validate.ts';

export const summary = 'Apply configuration files to the config directory (kubectl apply for the file store)';

const HELP = `Usage: weft apply -f FILE|DIR|- [-f ...] [-n NAMESPACE] [--config-dir DIR]

Validate Istio configuration like 'weft validate', then store each resource in the config directory that
'weft up' watches: <config-dir>/<namespace>/<kind>-<name>.yaml (cluster-scoped kinds in _cluster/).
A resource that already lives in some file of the directory is updated in that file.
Nothing is written if any input is invalid.

Flags:
  -f, --filename PATH    A YAML or JSON file, a directory (recursive), or - for standard input. Repeatable.
  -n, --namespace NS     Namespace for resources that do not name one (default: default).
      --config-dir DIR   The config directory (default ./mesh, created on first apply).
  -h, --help             Show this help.

Exit codes: 0 applied, 1 invalid input (nothing applied), 2 usage or I/O error.
`;

const spec = {
  values: { '-f': 'filename', '--filename': 'filename', '-n': 'namespace', '--namespace': 'namespace', '--config-dir': 'config-dir' },
  bools: { '-h': 'help', '--help': 'help' },
};

/** The key a resource is stored under; a namespace written in the document must agree with `-n`. */
function targetKey(r: LoadedResource, namespace: string | undefined): ResourceKey {
  if (namespace === undefined || r.key.namespace === '' || r.key.namespace === namespace) return r.key;
  throw new UsageError(`the namespace from the provided object "${r.key.namespace}" (${r.key.kind} ${r.key.name}) does not match the namespace "${namespace}"; pass --namespace=${r.key.namespace} or remove one of them`);
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const p = parseFlags(args, spec, 'apply');
  if (p.bools.has('help')) {
    io.out(HELP);
    return ExitCode.ok;
  }
  if (p.positional.length > 0) throw new UsageError(`unexpected argument "${p.positional[0]}": name files with -f (e.g. weft apply -f ${p.positional[0]})`);
  const files = p.values['filename'] ?? [];
  if (files.length === 0) throw new UsageError('no input: name files or directories with -f (e.g. weft apply -f samples/), or -f - for standard input');
  const namespace = lastValue(p, 'namespace');

  const stdin = files.includes('-') ? await io.readStdin() : undefined;
  const loadedPaths = await loadPaths(files, undefined, { stdin, cwd: io.cwd });
  const { ioErrors } = loadedPaths;
  const results = namespace === undefined || namespace === 'default' ? loadedPaths.results : await withDefaultNamespace(loadedPaths.results, namespace, stdin, io);
  for (const e of ioErrors) io.err(`weft apply: cannot read ${e.file === '-' ? '<stdin>' : e.file}: ${e.message}\n`);
  if (ioErrors.length > 0) return ExitCode.usage;

  const invalid = results.filter((r) => !r.valid);
  if (invalid.length > 0) {
    io.err(formatText(invalid));
    io.err(`weft apply: nothing applied: ${invalid.length} invalid resource${invalid.length === 1 ? '' : 's'} above; fix ${invalid.length === 1 ? 'it' : 'them'} and apply again (every resource is applied, or none)\n`);
    return ExitCode.invalid;
  }
  const warned = results.filter((r) => r.warnings.length > 0 && r.support !== 'skipped');
  if (warned.length > 0) io.err(formatText(warned));
  const keys = results.map((r) => (r.support === 'skipped' ? undefined : targetKey(r, namespace)));

  const dir = configDir(p, io);
  const store = await openStore(dir.abs, io, 'apply', true);
  if (!store) return ExitCode.usage;
  try {
    const written = new Map<string, StoredResource>();
    for (const [i, r] of results.entries()) {
      const key = keys[i];
      if (key === undefined) {
        io.err(`weft apply: skipped ${r.key.kind} ${r.key.name} (${r.apiVersion}): not a kind Weft acts on\n`);
        continue;
      }
      const resource = { ...r.resource, metadata: { ...r.resource.metadata, ...(key.namespace === '' ? {} : { namespace: key.namespace }) } };
      const version = contentVersion(resource, key);
      const existing = written.get(keyString(key)) ?? store.get(key);
      const ref = objectRef(key.kind, r.apiVersion, key.name);
      if (existing && existing.version === version) {
        io.out(`${ref} unchanged\n`);
        continue;
      }
      const file = await writeResource(dir.abs, key, resource, existing);
      written.set(keyString(key), { key, resource, origin: { file, document: existing?.origin.file === file ? existing.origin.document : 0 }, version, revision: 0, warnings: r.warnings });
      io.out(`${ref} ${existing ? 'configured' : 'created'}\n`);
    }
  } finally {
    await store.close();
  }
  return ExitCode.ok;
}
