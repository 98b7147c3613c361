// The analysis context: the resource set analyzers read, and the message list they report into.
import type { MessageArg, MessageName, MessageType } from './catalogue.ts';
import { formatTemplate, messageType } from './catalogue.ts';
import type { Gk, Item } from './model.ts';
import { fullName } from './model.ts';

/** One finding. `item` is the resource it is about (undefined for mesh-wide findings). */
export interface Message {
  type: MessageType;
  item: Item | undefined;
  args: MessageArg[];
  /** The rendered template. */
  text: string;
  /** Name of the analyzer that reported it. */
  analyzer: string;
}

/** Mesh settings the analyzers consult (from MeshConfig; Istio's defaults when not given). */
export interface MeshSettings {
  /** Namespace of mesh-wide policy, default `istio-system`. */
  rootNamespace: string;
  /** Service name of the default ingress gateway, default `istio-ingressgateway`. */
  ingressService: string;
  /** `OFF` disables the default ingress resources (Istio's ingressControllerMode). */
  ingressControllerMode: string;
  /** defaultConfig.proxyMetadata (ISTIO_META_DNS_CAPTURE, ISTIO_META_DNS_AUTO_ALLOCATE …). */
  proxyMetadata: Record<string, string>;
}

export const defaultMeshSettings: MeshSettings = { rootNamespace: 'istio-system', ingressService: 'istio-ingressgateway', ingressControllerMode: 'STRICT', proxyMetadata: {} };

export interface Analyzer {
  /** Istio's analyzer name, e.g. `virtualservice.GatewayAnalyzer`. */
  name: string;
  description: string;
  analyze(ctx: AnalysisContext): void;
}

export class AnalysisContext {
  readonly mesh: MeshSettings;
  readonly messages: Message[] = [];
  private readonly byGk = new Map<Gk, Item[]>();
  private readonly byName = new Map<string, Item>();
  private current = '';

  private readonly items: Item[];

  /** False when the input holds no workload at all: checks that need to see pods stay silent. */
  readonly workloadsKnown: boolean;

  constructor(items: Item[], mesh: MeshSettings = defaultMeshSettings, workloadsKnown = true) {
    this.mesh = mesh;
    this.workloadsKnown = workloadsKnown;
    this.items = items;
    for (const i of items) {
      const list = this.byGk.get(i.gk);
      if (list) list.push(i);
      else this.byGk.set(i.gk, [i]);
      const k = `${i.gk}|${fullName(i)}`;
      if (!this.byName.has(k)) this.byName.set(k, i);
    }
  }

  /** Every resource, in input order. */
  all(): readonly Item[] {
    return this.items;
  }

  /** Resources of a group/kind, in input order. */
  each(gk: Gk): readonly Item[] {
    return this.byGk.get(gk) ?? [];
  }

  /** A resource by group/kind and Istio full name (`ns/name`, or `name` for cluster-scoped kinds). */
  find(gk: Gk, full: string): Item | undefined {
    return this.byName.get(`${gk}|${full}`);
  }

  report(name: MessageName, item: Item | undefined, ...args: MessageArg[]): void {
    const type = messageType(name);
    this.messages.push({ type, item, args, text: formatTemplate(type.template, args), analyzer: this.current });
  }

  /** Runs one analyzer, attributing its messages to it. */
  run(a: Analyzer): void {
    this.current = a.name;
    try {
      a.analyze(this);
    } finally {
      this.current = '';
    }
  }
}
