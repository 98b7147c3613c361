// `weft delete KIND NAME... [-n NS]` and `weft delete -f FILE|DIR|-`: remove resources from the config
// directory (their documents are cut from the files that hold them; a file left empty is deleted).
import { ExitCode, UsageError } from '../../core/errors.ts';
import type { KindInfo } from '../../config/api/kinds.ts';
import { loadPaths } from '../../config/api/load.ts';
import type { ResourceKey } from '../../config/api/resource.ts';
import type { DirectoryStore } from '../../config/store/directory.ts';
import { removeResource } from '../../config/store/writer.ts';
import type { CliIo } from '../io.ts';
import { configDir, kindInfoFor, lastValue, notFound, openStore, parseFlags, resolveKind, resourceName, withDefaultNamespace } from './store-cli.ts';

export const summary = 'Delete resources from the config directory (kubectl delete for the file store)';

const HELP = `Usage: weft delete KIND NAME [NAME ...] [-n NAMESPACE] [--config-dir DIR]
       weft delete -f FILE|DIR|- [--config-dir DIR]

Remove resources from the config directory that 'weft up' watches. With -f, every resource named in the
files is deleted (their content does not need to match).

Flags:
  -f, --filename PATH     Files naming the resources to delete (YAML/JSON, a directory, or - for stdin).
  -n, --namespace NS      Namespace of the named resources (default: default).
      --ignore-not-found  Exit 0 when a resource does not exist.
      --config-dir DIR    The config directory (default ./mesh).
  -h, --help              Show this help.

Exit codes: 0 deleted, 1 some resource was not found, 2 usage or I/O error.
`;

const spec = {
  values: { '-f': 'filename', '--filename': 'filename', '-n': 'namespace', '--namespace': 'namespace', '--config-dir': 'config-dir' },
  bools: { '--ignore-not-found': 'ignore', '-h': 'help', '--help': 'help' },
};

interface Target {
  info: KindInfo;
  key: ResourceKey;
}

async function targetsFromFiles(files: string[], namespace: string | undefined, io: CliIo): Promise<Target[] | undefined> {
  const stdin = files.includes('-') ? await io.readStdin() : undefined;
  const loadedPaths = await loadPaths(files, undefined, { stdin, cwd: io.cwd });
  const { ioErrors } = loadedPaths;
  const results = namespace === undefined || namespace === 'default' ? loadedPaths.results : await withDefaultNamespace(loadedPaths.results, namespace, stdin, io);
  for (const e of ioErrors) io.err(`weft delete: cannot read ${e.file === '-' ? '<stdin>' : e.file}: ${e.message}\n`);
  if (ioErrors.length > 0) return undefined;
  const out: Target[] = [];
  for (const r of results) {
    const info = r.key.kind === '' ? undefined : kindInfoFor(r.key.kind, r.apiVersion);
    if (!info || r.key.name === '') {
      io.err(`weft delete: skipped document ${r.origin.document} of ${r.origin.file}: ${info ? 'it has no metadata.name' : 'not a kind Weft stores'}\n`);
      continue;
    }
    const ns = info.scope === 'Cluster' ? '' : r.key.namespace;
    out.push({ info, key: { ...r.key, namespace: ns } });
  }
  return out;
}

async function deleteAll(store: DirectoryStore | undefined, targets: Target[], io: CliIo, ignore: boolean): Promise<number> {
  let missing = 0;
  for (const t of targets) {
    const s = store?.get(t.key);
    if (!s) {
      if (!ignore) {
        io.err(notFound(t.info, t.key.name));
        missing++;
      }
      continue;
    }
    await removeResource(s);
    await store?.rescan(); // document indexes of the file's other resources have moved
    io.out(`${t.info.kind.toLowerCase()}${t.info.group === '' ? '' : `.${t.info.group}`} "${t.key.name}" deleted\n`);
  }
  return missing > 0 ? ExitCode.invalid : ExitCode.ok;
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const p = parseFlags(args, spec, 'delete');
  if (p.bools.has('help')) {
    io.out(HELP);
    return ExitCode.ok;
  }
  const files = p.values['filename'] ?? [];
  const namespace = lastValue(p, 'namespace');
  let targets: Target[];
  if (files.length > 0) {
    if (p.positional.length > 0) throw new UsageError('give either -f FILE or KIND NAME, not both');
    const t = await targetsFromFiles(files, namespace, io);
    if (!t) return ExitCode.usage;
    targets = t;
  } else {
    const [kindArg, ...names] = p.positional;
    if (kindArg === undefined) throw new UsageError('name what to delete: weft delete KIND NAME (e.g. weft delete vs reviews) or weft delete -f FILE');
    const info = resolveKind(kindArg);
    if (names.length === 0) throw new UsageError(`name the ${resourceName(info)} to delete, e.g. weft delete ${kindArg} NAME`);
    const ns = info.scope === 'Cluster' ? '' : (namespace ?? 'default');
    targets = names.map((name) => ({ info, key: { kind: info.kind, namespace: ns, name } }));
  }
  const dir = configDir(p, io);
  const store = await openStore(dir.abs, io, 'delete', false);
  try {
    return await deleteAll(store, targets, io, p.bools.has('ignore'));
  } finally {
    await store?.close();
  }
}
