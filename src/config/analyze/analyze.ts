// `weft analyze` as a library: loaded resources in, sorted and filtered messages out, as istioctl analyze
// produces them (levels Error > Warning > Info, then code, then resource; duplicates removed).
import type { LoadedResource } from '../api/load.ts';
import { parse } from 'yaml';
import type { Analyzer, Message, MeshSettings } from './context.ts';
import { AnalysisContext, defaultMeshSettings } from './context.ts';
import { allAnalyzers } from './analyzers/index.ts';
import type { Item } from './model.ts';
import { gkOf, isRec, rec, strMap } from './model.ts';

export interface AnalyzeOptions {
  /** Only messages about resources in this namespace are kept (default `default`), unless allNamespaces. */
  namespace?: string;
  allNamespaces?: boolean;
  mesh?: MeshSettings;
  /** Analyzers to run (default: all). */
  analyzers?: readonly Analyzer[];
  /** Add the resources Istio assumes when analyzing files only: the default ingress gateway pod and Service (default true). */
  defaults?: boolean;
  /**
   * How to treat workloads. `as-given` (Istio's behaviour): only Pods in the input are workloads. `auto` (the CLI's
   * default): with no Pod in the input, each Deployment's pod template stands for its pods; and if there is still
   * no workload, the checks that need to see workloads (IST0173 subsets, IST0127 policies, IST0101 Sidecar
   * selectors) are skipped, since workloads started by `weft run` are not in the files.
   */
  workloads?: 'as-given' | 'auto';
}

/** Foreign kinds known to be cluster-scoped: they keep an empty namespace when the document sets none. */
const CLUSTER_SCOPED = new Set(['Node', 'Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'GatewayClass', 'PersistentVolume', 'StorageClass']);

/** Namespaces Istio leaves out of analysis entirely (inject.IgnoredNamespaces). */
const IGNORED_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease', 'local-path-storage']);

const SUPPRESS = 'galley.istio.io/analyze-suppress';

/**
 * Resources under analysis from the pipeline's output. Documents that could not be parsed are left out (the
 * caller reports them). When several documents define the same resource, the last one wins, as in Istio's
 * file source.
 */
export function itemsFromLoaded(loaded: readonly LoadedResource[], defaultNamespace = 'default'): Item[] {
  const out = new Map<string, Item>();
  for (const l of loaded) {
    if (l.support === 'unparsed' || l.key.kind === '' || l.key.name === '') continue;
    const r = l.resource;
    let namespace = l.key.namespace;
    if (namespace === '' && l.support === 'skipped' && !CLUSTER_SCOPED.has(l.key.kind)) namespace = defaultNamespace;
    if (IGNORED_NAMESPACES.has(l.key.kind === 'Namespace' ? l.key.name : namespace)) continue;
    const gk = gkOf(l.apiVersion, l.key.kind);
    const id = `${gk}|${namespace}|${l.key.name}`;
    out.delete(id);
    out.set(id, {
      gk,
      group: gk.split('/')[0] ?? '',
      kind: l.key.kind,
      namespace,
      name: l.key.name,
      labels: r.metadata.labels ?? {},
      annotations: r.metadata.annotations ?? {},
      spec: rec(r.spec),
      status: r.status,
      origin: l.origin,
      errors: l.errors,
      warnings: l.warnings,
      support: l.support,
    });
  }
  return [...out.values()];
}

/** Istio's defaults for file-only analysis: an ingress gateway pod and its Service in the Istio namespace. */
export function defaultItems(mesh: MeshSettings, istioNamespace = 'istio-system'): Item[] {
  if (mesh.ingressControllerMode === 'OFF') return [];
  const base = { origin: { file: 'internal-ingress', document: 0 }, errors: [], warnings: [], support: 'mesh', status: undefined, annotations: {} };
  const ports = [
    { name: 'http2', port: 80, protocol: 'TCP', targetPort: 80 },
    { name: 'https', port: 443, protocol: 'TCP', targetPort: 443 },
    { name: 'tcp', port: 31400, protocol: 'TCP', targetPort: 31400 },
    { name: 'tls', port: 15443, protocol: 'TCP', targetPort: 15443 },
  ];
  return [
    { ...base, gk: '/Pod', group: '', kind: 'Pod', namespace: istioNamespace, name: `${mesh.ingressService}-dummypod`, labels: { istio: 'ingressgateway' }, spec: { containers: [{ name: 'istio-proxy' }] } },
    { ...base, gk: '/Service', group: '', kind: 'Service', namespace: istioNamespace, name: mesh.ingressService, labels: {}, spec: { ports, selector: { istio: 'ingressgateway' } } },
  ];
}

/** One Pod per Deployment, from its pod template (labels, annotations, spec), for analysis without a cluster. */
export function podsFromDeployments(items: readonly Item[]): Item[] {
  return items
    .filter((d) => d.gk === 'apps/Deployment')
    .map((d) => {
      const tpl = rec(d.spec['template']);
      const meta = rec(tpl['metadata']);
      return { ...d, gk: '/Pod', group: '', kind: 'Pod', name: `${d.name}-pod`, labels: strMap(meta['labels']), annotations: strMap(meta['annotations']), spec: rec(tpl['spec']), errors: [], warnings: [] };
    });
}

/** Mesh settings from a MeshConfig YAML file's text (the `mesh` key of the istio ConfigMap), over Istio's defaults. */
export function parseMeshConfig(text: string): MeshSettings {
  const doc = rec(parse(text) as unknown);
  const dc = rec(doc['defaultConfig']);
  return {
    rootNamespace: typeof doc['rootNamespace'] === 'string' ? doc['rootNamespace'] : defaultMeshSettings.rootNamespace,
    ingressService: typeof doc['ingressService'] === 'string' ? doc['ingressService'] : defaultMeshSettings.ingressService,
    ingressControllerMode: typeof doc['ingressControllerMode'] === 'string' ? doc['ingressControllerMode'] : defaultMeshSettings.ingressControllerMode,
    proxyMetadata: isRec(dc['proxyMetadata']) ? strMap(dc['proxyMetadata']) : {},
  };
}

const levelOrder = { Error: 0, Warning: 1, Info: 2 } as const;

/** istioctl's FriendlyName: `Kind namespace/name`, or `Kind name` for cluster-scoped resources. */
export function friendlyName(item: Item): string {
  return item.namespace === '' ? `${item.kind} ${item.name}` : `${item.kind} ${item.namespace}/${item.name}`;
}

/** One line as istioctl prints it: `Error [IST0101] (VirtualService default/reviews) Referenced host not found: "reviews2"`. */
export function messageLine(m: Message): string {
  return `${m.type.level} [${m.type.code}]${m.item ? ` (${friendlyName(m.item)})` : ''} ${m.text}`;
}

/** The namespace a message is filed under (a Namespace resource's is its own name). */
function messageNamespace(m: Message): string {
  if (!m.item) return '';
  return m.item.kind === 'Namespace' && m.item.group === '' ? m.item.name : m.item.namespace;
}

function suppressed(m: Message): boolean {
  const codes = m.item?.annotations[SUPPRESS];
  if (codes === undefined || codes === '') return false;
  return codes.split(',').some((c) => c === '*' || c === m.type.code);
}

/** Sorted as istioctl sorts: level, code, then Kind/name/namespace, then the whole line. */
export function sortMessages(ms: Message[]): Message[] {
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  const comparator = (m: Message): string => (m.item ? `${m.item.kind}/${m.item.name}/${m.item.namespace}` : '');
  return ms.slice().sort((a, b) => {
    if (a.type.level !== b.type.level) return levelOrder[a.type.level] - levelOrder[b.type.level];
    if (a.type.code !== b.type.code) return cmp(a.type.code, b.type.code);
    if (!a.item !== !b.item) return a.item ? 1 : -1;
    const c = cmp(comparator(a), comparator(b));
    return c !== 0 ? c : cmp(messageLine(a), messageLine(b));
  });
}

/** Runs the analyzers over `items` and returns the messages to show. */
export function analyze(items: readonly Item[], opts: AnalyzeOptions = {}): Message[] {
  const mesh = opts.mesh ?? defaultMeshSettings;
  let given = [...items];
  let workloadsKnown = true;
  if (opts.workloads === 'auto' && !given.some((i) => i.gk === '/Pod')) {
    given = [...given, ...podsFromDeployments(given)];
    workloadsKnown = given.some((i) => i.gk === '/Pod');
  }
  const all = opts.defaults === false ? given : [...given, ...defaultItems(mesh)];
  const ctx = new AnalysisContext(all, mesh, workloadsKnown);
  for (const a of opts.analyzers ?? allAnalyzers) ctx.run(a);
  const ns = opts.allNamespaces ? undefined : (opts.namespace ?? 'default');
  const kept = ctx.messages.filter((m) => !suppressed(m) && (ns === undefined || messageNamespace(m) === '' || messageNamespace(m) === ns));
  const out: Message[] = [];
  for (const m of sortMessages(kept)) {
    const prev = out[out.length - 1];
    if (prev && messageLine(prev) === messageLine(m)) continue;
    out.push(m);
  }
  return out;
}
