// `weft get KIND [NAME...] [-n NS | -A] [-o yaml|json|name]`: read resources from the config directory and
// print them as kubectl does: a table (NAMESPACE with -A, NAME, then the kind's printer columns from Istio's
// CRDs, e.g. GATEWAYS and HOSTS for VirtualService), or the documents as YAML/JSON.
import { ExitCode, UsageError } from '../../core/errors.ts';
import type { KindInfo } from '../../config/api/kinds.ts';
import type { StoredResource } from '../../config/store/types.ts';
import { toDocument, toYaml } from '../../config/store/writer.ts';
import type { CliIo } from '../io.ts';
import { configDir, lastValue, notFound, openStore, parseFlags, resolveKind } from './store-cli.ts';

export const summary = 'Show resources from the config directory (kubectl get for the file store)';

const HELP = `Usage: weft get KIND [NAME ...] [-n NAMESPACE | -A] [-o yaml|json|name] [--config-dir DIR]

KIND is a kind (VirtualService), its plural (virtualservices), a short name (vs) or plural.group.

Flags:
  -n, --namespace NS      Namespace to read (default: default). Ignored for cluster-scoped kinds.
  -A, --all-namespaces    Every namespace; adds a NAMESPACE column.
  -o, --output FORMAT     yaml, json or name (default: a table; wide is accepted, as kubectl's, and is the table).
      --config-dir DIR    The config directory (default ./mesh).
  -h, --help              Show this help.

Exit codes: 0 found (or an empty list), 1 a named resource was not found, 2 usage error.
`;

const spec = {
  values: { '-n': 'namespace', '--namespace': 'namespace', '-o': 'output', '--output': 'output', '--config-dir': 'config-dir' },
  bools: { '-A': 'all', '--all-namespaces': 'all', '-h': 'help', '--help': 'help' },
};

type Column = [header: string, value: (s: Record<string, unknown>) => string];

const json = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));
const field = (...path: string[]) => (s: Record<string, unknown>): string => {
  let v: unknown = s;
  for (const p of path) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[p] : undefined;
  return json(v);
};

/** Istio's additionalPrinterColumns (crd-all.gen.yaml) without AGE, plus a few for Kubernetes kinds. */
const columns: Record<string, Column[]> = {
  VirtualService: [['GATEWAYS', field('gateways')], ['HOSTS', field('hosts')]],
  DestinationRule: [['HOST', field('host')]],
  ServiceEntry: [['HOSTS', field('hosts')], ['LOCATION', field('location')], ['RESOLUTION', field('resolution')]],
  WorkloadEntry: [['ADDRESS', field('address')]],
  AuthorizationPolicy: [['ACTION', field('action')]],
  PeerAuthentication: [['MODE', field('mtls', 'mode')]],
  Service: [
    ['TYPE', (s) => json(s['type']) || 'ClusterIP'],
    ['PORT(S)', (s) => (Array.isArray(s['ports']) ? s['ports'] : []).map((p: Record<string, unknown>) => `${String(p['port'])}/${json(p['protocol']) || 'TCP'}`).join(',')],
  ],
};

/** Columns padded like kubectl's tabwriter: three spaces between columns. */
export function renderTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join('').trimEnd() + '\n').join('');
}

function table(info: KindInfo, items: StoredResource[], withNs: boolean): string {
  const cols = columns[info.kind] ?? [];
  const header = [...(withNs ? ['NAMESPACE'] : []), 'NAME', ...cols.map((c) => c[0])];
  const rows = items.map((s) => {
    const specObj = typeof s.resource.spec === 'object' && s.resource.spec !== null ? (s.resource.spec as Record<string, unknown>) : {};
    return [...(withNs ? [s.key.namespace] : []), s.key.name, ...cols.map((c) => c[1](specObj))];
  });
  return renderTable([header, ...rows]);
}

function documents(items: StoredResource[], single: boolean, format: 'yaml' | 'json'): string {
  const docs = items.map((s) => toDocument(s.resource, s.key));
  const value = single ? docs[0] : { apiVersion: 'v1', items: docs, kind: 'List', metadata: { resourceVersion: '' } };
  return format === 'json' ? JSON.stringify(value, null, 4) + '\n' : toYaml(value);
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const p = parseFlags(args, spec, 'get');
  if (p.bools.has('help')) {
    io.out(HELP);
    return ExitCode.ok;
  }
  const [kindArg, ...names] = p.positional;
  if (kindArg === undefined) throw new UsageError('name a kind, e.g. weft get virtualservices (or vs, dr, gw, se …)');
  const info = resolveKind(kindArg);
  const output = lastValue(p, 'output');
  if (output !== undefined && !['yaml', 'json', 'name', 'wide'].includes(output)) throw new UsageError(`unsupported output format "${output}": use yaml, json, name or wide`);
  const all = p.bools.has('all');
  if (all && names.length > 0) throw new UsageError('a resource cannot be retrieved by name across all namespaces; drop -A or the name');
  const cluster = info.scope === 'Cluster';
  const ns = cluster ? '' : (lastValue(p, 'namespace') ?? 'default');

  const dir = configDir(p, io);
  const store = await openStore(dir.abs, io, 'get', false);
  let items: StoredResource[] = [];
  let missing = 0;
  try {
    if (names.length > 0) {
      for (const name of names) {
        const s = store?.get({ kind: info.kind, namespace: ns, name });
        if (s) items.push(s);
        else {
          io.err(notFound(info, name));
          missing++;
        }
      }
    } else {
      items = store?.list(info.kind, all || cluster ? undefined : ns) ?? [];
    }
  } finally {
    await store?.close();
  }
  if (items.length === 0 && names.length === 0) {
    io.err(all || cluster ? 'No resources found\n' : `No resources found in ${ns} namespace.\n`);
    return ExitCode.ok;
  }
  if (items.length > 0) {
    if (output === 'yaml' || output === 'json') io.out(documents(items, names.length === 1, output));
    else if (output === 'name') io.out(items.map((s) => `${info.kind.toLowerCase()}${info.group === '' ? '' : `.${info.group}`}/${s.key.name}\n`).join(''));
    else io.out(table(info, items, all && !cluster));
  }
  return missing > 0 ? ExitCode.invalid : ExitCode.ok;
}
