// The service registry: every source of services and endpoints (ServiceEntry, WorkloadEntry, auto-registered
// proxies, Kubernetes Services/Pods/EndpointSlices) folded into one RegistryState, plus change notifications
// that say whether only endpoints changed (the snapshot's fast path) or services did (a full rebuild).
import type { Resource } from '../config/api/resource.ts';
import { type Result, ok, err } from '../core/result.ts';
import type { Proxy } from '../discovery/proxy.ts';
import type { Endpoint, RegistryState, Service } from '../discovery/snapshot/model.ts';
import { AutoRegistrations, type Timers, autoRegisteredName, realTimers, workloadFromGroup } from './auto-register.ts';
import { kubeToModel } from './kube.ts';
import { type Workload, serviceEntryToModel, TLS_MODE_LABEL, workloadIndex } from './service-entry.ts';
import type { KubeServiceSpec, ServiceEntrySpec, WorkloadEntrySpec, WorkloadGroupSpec } from './specs.ts';

/** What changed in the registry: `endpoints` when the services are identical and only endpoints moved. */
export interface RegistryChange {
  kind: 'full' | 'endpoints';
  /** Hosts whose services or endpoints changed. */
  hosts: string[];
  /**
   * Workload addresses whose endpoints appeared, disappeared or changed. A proxy at one of these addresses has new
   * inbound ports (listeners and inbound clusters come from its own endpoints), so it needs LDS/CDS, not only EDS,
   * even when the change is `endpoints`.
   */
  addresses: string[];
}

/** Workloads from WorkloadEntry configs. */
function configWorkloads(configs: readonly Resource[]): Workload[] {
  return configs
    .filter((r) => r.kind === 'WorkloadEntry')
    .map((r) => ({ name: r.metadata.name, namespace: r.metadata.namespace ?? 'default', spec: r.spec as WorkloadEntrySpec }));
}

/** Kubernetes Services select WorkloadEntries too (Istio's VM integration), not only Pods. */
function kubeWorkloadEndpoints(configs: readonly Resource[], services: readonly Service[], workloads: readonly Workload[]): Endpoint[] {
  const out: Endpoint[] = [];
  if (workloads.length === 0) return out;
  const select = workloadIndex(workloads);
  const byName = new Map(services.filter((s) => s.source === 'Kubernetes').map((s) => [`${s.namespace}/${s.name}`, s]));
  for (const svc of configs.filter((r) => r.kind === 'Service' && r.apiVersion === 'v1') as Array<Resource<KubeServiceSpec>>) {
    const selector = svc.spec?.selector;
    if (!selector || Object.keys(selector).length === 0) continue;
    const ns = svc.metadata.namespace ?? 'default';
    const model = byName.get(`${ns}/${svc.metadata.name}`);
    if (!model) continue;
    for (const w of select(ns, selector)) {
      if (!w.spec.address) continue;
      const labels = w.spec.labels ?? {};
      for (const kp of svc.spec.ports ?? []) {
        const named = kp.name !== undefined ? w.spec.ports?.[kp.name] : undefined;
        out.push({
          serviceHost: model.hostname,
          servicePort: kp.port,
          address: w.spec.address,
          port: named ?? (typeof kp.targetPort === 'number' ? kp.targetPort : kp.port),
          labels,
          serviceAccount: w.spec.serviceAccount ?? 'default',
          locality: w.spec.locality ?? '',
          weight: w.spec.weight && w.spec.weight > 0 ? w.spec.weight : 1,
          healthy: true,
          tlsMode: labels[TLS_MODE_LABEL] === 'istio' ? 'istio' : 'disabled',
          namespace: w.namespace,
          workloadName: w.name,
        });
      }
    }
  }
  return out;
}

/** Build the registry state from configs plus auto-registered workloads (pure). */
export function buildRegistryState(configs: readonly Resource[], autoRegistered: readonly Workload[], domainSuffix: string): RegistryState {
  const workloads = [...configWorkloads(configs), ...autoRegistered];
  const services: Service[] = [];
  const endpoints: Endpoint[] = [];
  const select = workloadIndex(workloads);
  for (const se of configs.filter((r) => r.kind === 'ServiceEntry') as Array<Resource<ServiceEntrySpec>>) {
    const m = serviceEntryToModel(se, select, domainSuffix);
    services.push(...m.services);
    endpoints.push(...m.endpoints);
  }
  const kube = kubeToModel(configs, domainSuffix);
  services.push(...kube.services);
  endpoints.push(...kube.endpoints, ...kubeWorkloadEndpoints(configs, kube.services, workloads));
  return { services, endpoints };
}

function groupByHost<T>(items: readonly T[], host: (t: T) => string): Map<string, string> {
  const m = new Map<string, string[]>();
  for (const it of items) {
    const h = host(it);
    const list = m.get(h) ?? [];
    list.push(JSON.stringify(it));
    m.set(h, list);
  }
  return new Map([...m].map(([h, l]) => [h, l.sort().join('\n')]));
}

function changedKeys(a: Map<string, string>, b: Map<string, string>): string[] {
  const out = new Set<string>();
  for (const [k, v] of a) if (b.get(k) !== v) out.add(k);
  for (const k of b.keys()) if (!a.has(k)) out.add(k);
  return [...out].sort();
}

/** Classify the difference between two registry states. Returns undefined when nothing changed. */
export function diffRegistry(before: RegistryState, after: RegistryState): RegistryChange | undefined {
  const svcHosts = changedKeys(groupByHost(before.services, (s) => s.hostname), groupByHost(after.services, (s) => s.hostname));
  const epHosts = changedKeys(groupByHost(before.endpoints, (e) => e.serviceHost), groupByHost(after.endpoints, (e) => e.serviceHost));
  if (svcHosts.length === 0 && epHosts.length === 0) return undefined;
  const addresses = epHosts.length === 0 ? [] : changedKeys(groupByHost(before.endpoints, (e) => e.address), groupByHost(after.endpoints, (e) => e.address));
  if (svcHosts.length > 0) return { kind: 'full', hosts: [...new Set([...svcHosts, ...epHosts])].sort(), addresses };
  return { kind: 'endpoints', hosts: epHosts, addresses };
}

export interface RegistryOptions {
  /** DNS suffix for Kubernetes hosts and short names, default `cluster.local`. */
  domainSuffix?: string;
  /** Time an auto-registered WorkloadEntry survives its proxy's disconnect, ms. Default 10 000 (Istio: 10 s). */
  autoRegisterGraceMs?: number;
  timers?: Timers;
}

/**
 * The live registry: `setConfigs` with each new validated config set, `autoRegister`/`disconnected` from the xDS
 * server as proxies come and go. Listeners hear each change with its kind.
 */
export class ServiceRegistry {
  readonly domainSuffix: string;
  #configs: readonly Resource[] = [];
  #state: RegistryState = { services: [], endpoints: [] };
  readonly #listeners = new Set<(c: RegistryChange) => void>();
  readonly #auto: AutoRegistrations;

  constructor(opts: RegistryOptions = {}) {
    this.domainSuffix = opts.domainSuffix ?? 'cluster.local';
    this.#auto = new AutoRegistrations({
      timers: opts.timers ?? realTimers,
      graceMs: opts.autoRegisterGraceMs ?? 10_000,
      changed: () => this.#recompute(),
    });
  }

  state(): RegistryState {
    return this.#state;
  }

  /** Auto-registered workloads, for /debug/registryz. */
  autoRegistered(): Workload[] {
    return this.#auto.list();
  }

  onChange(fn: (c: RegistryChange) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  setConfigs(configs: readonly Resource[]): void {
    this.#configs = configs;
    this.#recompute();
  }

  /**
   * Register a connecting proxy that names a WorkloadGroup (AUTO_REGISTER_GROUP). Returns the entry, or an error
   * when the group does not exist in the proxy's namespace. Proxies without a group are not registered (ok undefined).
   */
  autoRegister(proxy: Proxy): Result<Workload | undefined, string> {
    if (proxy.autoRegisterGroup === '') return ok(undefined);
    const group = this.#configs.find(
      (r) => r.kind === 'WorkloadGroup' && r.metadata.name === proxy.autoRegisterGroup && (r.metadata.namespace ?? 'default') === proxy.namespace,
    ) as Resource<WorkloadGroupSpec> | undefined;
    if (!group) return err(`WorkloadGroup ${proxy.namespace}/${proxy.autoRegisterGroup} not found: create it, or fix AUTO_REGISTER_GROUP of proxy ${proxy.id}`);
    const w = workloadFromGroup(group, proxy);
    if (!w.ok) return w;
    this.#auto.connect(w.value);
    return ok(w.value);
  }

  /** A proxy's connection closed: its auto-registered entry (if any) goes after the grace period unless it reconnects. */
  disconnected(proxy: Proxy): void {
    if (proxy.autoRegisterGroup === '' || proxy.ipAddresses[0] === undefined) return;
    this.#auto.disconnect(proxy.namespace, autoRegisteredName(proxy.autoRegisterGroup, proxy.ipAddresses[0]));
  }

  close(): void {
    this.#auto.close();
  }

  #recompute(): void {
    const next = buildRegistryState(this.#configs, this.#auto.list(), this.domainSuffix);
    const change = diffRegistry(this.#state, next);
    this.#state = next;
    if (change) for (const fn of this.#listeners) fn(change);
  }
}
