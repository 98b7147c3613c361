// The control plane's data flow in one place: config store events and registry changes are debounced, a new
// immutable snapshot is built (or, for endpoint-only changes, the old one gets a new endpoint index), and the
// discovery server serves it and pushes. Nothing here translates or serves: it only sequences the stages.
import type { Resource } from '../config/api/resource.ts';
import type { ConfigEvent, ConfigStore } from '../config/store/index.ts';
import type { Proxy } from '../discovery/proxy.ts';
import { Debouncer } from '../discovery/serve/debounce.ts';
import type { DiscoveryServer } from '../discovery/serve/server.ts';
import { mergePush } from '../discovery/serve/push-queue.ts';
import type { GeneratedResource, PushRequest, XdsView } from '../discovery/serve/types.ts';
import type { MeshSettings } from '../discovery/snapshot/mesh.ts';
import { buildSnapshot, withEndpoints, type MeshSnapshot } from '../discovery/snapshot/snapshot.ts';
import { newTracingFindings } from '../discovery/translate/tracing.ts';
import type { Endpoint, RegistryState } from '../discovery/snapshot/model.ts';
import { diffRegistry, type ServiceRegistry, type RegistryChange } from '../registry/registry.ts';

/** Translation entry point: (proxy, snapshot, type, names) → resources. Pure. */
export type Generate = (proxy: Proxy, snapshot: MeshSnapshot, typeUrl: string, names: readonly string[] | undefined) => GeneratedResource[];

export interface PipelineOptions {
  store: ConfigStore;
  registry: ServiceRegistry;
  server: DiscoveryServer<Proxy>;
  generate: Generate;
  /** Generation cache key of a proxy under a snapshot (see generate.ts); absent = no sharing. */
  cacheKey?: (proxy: Proxy, snapshot: MeshSnapshot) => string | undefined;
  mesh: MeshSettings;
  domainSuffix: string;
  /** Debounce quiet period, ms (default 100). */
  debounceQuietMs?: number;
  /** Debounce maximum delay, ms (default 10 000). */
  debounceMaxMs?: number;
  log?: (level: 'debug' | 'info' | 'warn', message: string) => void;
  now?: () => number;
  /** Called after each snapshot or endpoint update (metrics). */
  onRebuild?: (kind: 'full' | 'endpoints', ms: number) => void;
}

/** A pending change: what the debouncer merges. */
type Change = PushRequest;

/**
 * Kinds that only feed the service registry. A change to these alone, when the registry reports that only
 * endpoints moved, takes the endpoint fast path instead of a full rebuild.
 */
const registryKinds = new Set(['ServiceEntry', 'WorkloadEntry', 'WorkloadGroup', 'Service', 'Pod', 'EndpointSlice', 'Endpoints']);

/** Service accounts per host: CDS carries them (ISTIO_MUTUAL SANs), so a change there needs a full push. */
function accountsByHost(endpoints: readonly Endpoint[], hosts: ReadonlySet<string>): Map<string, string> {
  const m = new Map<string, Set<string>>();
  for (const e of endpoints) {
    if (!hosts.has(e.serviceHost)) continue;
    const s = m.get(e.serviceHost) ?? new Set<string>();
    s.add(e.serviceAccount);
    m.set(e.serviceHost, s);
  }
  return new Map([...m].map(([h, s]) => [h, [...s].sort().join(',')]));
}

function sameAccounts(before: RegistryState, after: RegistryState, hosts: readonly string[]): boolean {
  const set = new Set(hosts);
  const a = accountsByHost(before.endpoints, set);
  const b = accountsByHost(after.endpoints, set);
  return a.size === b.size && [...a].every(([h, v]) => b.get(h) === v);
}

export class MeshPipeline {
  readonly #o: PipelineOptions;
  readonly #debouncer: Debouncer<Change>;
  readonly #now: () => number;
  #snapshot: MeshSnapshot;
  #version = 0;
  #versionLabel = '';
  #rebuilding = false;
  /** Kinds of the config changes pending in the debouncer. */
  #pendingKinds = new Set<string>();
  /** The registry state the served snapshot was built from (the baseline for change detection). */
  #served: RegistryState = { services: [], endpoints: [] };
  /** Tracing findings already logged (a Telemetry naming a provider that yields no spans …): each is logged once. */
  #tracingFindings: ReadonlySet<string> = new Set();
  readonly #unsubscribe: Array<() => void> = [];
  /** Last store events that did not change state (rejections, conflicts), for /debug/configz. */
  readonly lastRejections: Array<{ file: string; errors: string[]; at: string }> = [];

  constructor(o: PipelineOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#debouncer = new Debouncer<Change>({
      quietMs: o.debounceQuietMs ?? 100,
      maxMs: o.debounceMaxMs ?? 10_000,
      merge: mergePush,
      fire: (c, firstMs) => this.#fire(c, firstMs),
      now: this.#now,
    });
    this.#snapshot = this.#build();
    this.#unsubscribe.push(o.store.subscribe((e) => this.#onConfig(e)));
    this.#unsubscribe.push(o.registry.onChange((c) => this.#onRegistry(c)));
  }

  /** The snapshot being served. */
  get snapshot(): MeshSnapshot {
    return this.#snapshot;
  }

  /** Version label of the snapshot being served (`<ISO time>/<n>`). */
  get version(): string {
    return this.#versionLabel;
  }

  /** The view the discovery server serves for the current snapshot. */
  view(): XdsView<Proxy> {
    const snapshot = this.#snapshot;
    const { generate, cacheKey } = this.#o;
    return {
      version: this.#versionLabel,
      generate: (proxy, typeUrl, names) => generate(proxy, snapshot, typeUrl, names),
      ...(cacheKey ? { cacheKey: (proxy: Proxy) => cacheKey(proxy, snapshot) } : {}),
    };
  }

  /** Apply anything pending now (shutdown, tests). */
  flush(): void {
    this.#debouncer.flush();
  }

  close(): void {
    this.#debouncer.cancel();
    for (const u of this.#unsubscribe) u();
  }

  #onConfig(e: ConfigEvent): void {
    switch (e.type) {
      case 'added':
      case 'updated':
      case 'deleted':
        this.#o.server.metrics.pushTriggers.inc({ type: 'config' });
        this.#pendingKinds.add(e.key.kind);
        this.#debouncer.add({ full: true, reasons: ['config'], startMs: this.#now() });
        return;
      case 'rejected':
        this.lastRejections.push({ file: e.file, errors: e.errors.map((x) => `${x.path}: ${x.message}`), at: new Date(this.#now()).toISOString() });
        if (this.lastRejections.length > 20) this.lastRejections.shift();
        // Not logged here: the store already logs each rejection once, with its resources and what to do.
        return;
      case 'recovered':
      case 'conflict':
        return;
    }
  }

  #onRegistry(c: RegistryChange): void {
    // Registry changes caused by our own setConfigs are part of the rebuild in progress.
    if (this.#rebuilding) return;
    this.#o.server.metrics.pushTriggers.inc({ type: c.kind === 'endpoints' ? 'endpoint' : 'service' });
    this.#debouncer.add(
      c.kind === 'endpoints'
        ? { full: false, edsNames: new Set(c.hosts), reasons: ['endpoint'], startMs: this.#now() }
        : { full: true, reasons: ['service'], startMs: this.#now() },
    );
  }

  /** Apply the store's configs to the registry without hearing our own change back; returns what moved. */
  #applyConfigs(kinds?: ReadonlySet<string>): { configs: Resource[]; change: RegistryChange | undefined } {
    const configs = this.#o.store.list().map((s) => s.resource);
    // The registry reads only registry kinds: when none changed, its state cannot have changed either.
    if (kinds !== undefined && kinds.size > 0 && ![...kinds].some((k) => registryKinds.has(k))) return { configs, change: undefined };
    this.#rebuilding = true;
    try {
      this.#o.registry.setConfigs(configs);
    } finally {
      this.#rebuilding = false;
    }
    return { configs, change: diffRegistry(this.#served, this.#o.registry.state()) };
  }

  #build(configs: readonly Resource[] = this.#applyConfigs().configs): MeshSnapshot {
    this.#served = this.#o.registry.state();
    const snapshot = buildSnapshot({ configs, registry: this.#served, mesh: this.#o.mesh, domainSuffix: this.#o.domainSuffix });
    const tracing = newTracingFindings(this.#tracingFindings, snapshot);
    this.#tracingFindings = tracing.seen;
    for (const line of tracing.lines) this.#o.log?.('warn', line);
    this.#nextVersion();
    return snapshot;
  }

  #nextVersion(): void {
    this.#version++;
    this.#versionLabel = `${new Date(this.#now()).toISOString().replace(/\.\d+Z$/, 'Z')}/${this.#version}`;
  }

  #fire(c: Change, firstMs: number): void {
    const t0 = this.#now();
    this.#o.server.metrics.debounceTime.observe(Math.max(0, t0 - firstMs) / 1000);
    const kinds = this.#pendingKinds;
    this.#pendingKinds = new Set();
    let push: PushRequest = { ...c, startMs: firstMs };
    let kind: 'full' | 'endpoints' = c.full ? 'full' : 'endpoints';
    const before = this.#served;
    if (c.full) {
      const applied = this.#applyConfigs(c.reasons.every((r) => r === 'config') ? kinds : undefined);
      const change = applied.change;
      const registryOnly = kinds.size > 0 && [...kinds].every((k) => registryKinds.has(k)) && c.reasons.every((r) => r === 'config');
      if (registryOnly && change === undefined) {
        // Only registry inputs changed, and nothing the mesh serves moved (e.g. a label no selector reads).
        this.#o.log?.('debug', `config change of ${[...kinds].join(', ')} changed no service or endpoint; nothing to push`);
        this.#snapshot = { ...this.#snapshot, configs: applied.configs };
        return;
      }
      if (registryOnly && change?.kind === 'endpoints' && sameAccounts(before, this.#o.registry.state(), change.hosts)) {
        this.#served = this.#o.registry.state();
        this.#snapshot = { ...withEndpoints(this.#snapshot, this.#served.endpoints), configs: applied.configs };
        this.#nextVersion();
        push = { full: false, edsNames: new Set(change.hosts), reasons: ['endpoint'], startMs: firstMs };
        kind = 'endpoints';
      } else {
        this.#snapshot = this.#build(applied.configs);
      }
    } else {
      this.#served = this.#o.registry.state();
      this.#snapshot = withEndpoints(this.#snapshot, this.#served.endpoints);
      this.#nextVersion();
    }
    const ms = this.#now() - t0;
    this.#o.onRebuild?.(kind, ms);
    this.#o.log?.('debug', `snapshot ${this.#versionLabel} (${kind}; ${push.reasons.join(',')}) built in ${ms} ms`);
    this.#o.server.update(this.view(), push);
    if (!push.full) {
      // A proxy whose own address gained or lost an endpoint has new inbound listeners and clusters: push it fully.
      const moved = new Set<string>();
      const hosts = push.edsNames ?? new Set<string>();
      for (const e of [...before.endpoints, ...this.#served.endpoints]) if (hosts.has(e.serviceHost)) moved.add(e.address);
      this.#o.server.pushWhere((p) => p.ipAddresses.some((ip) => moved.has(ip)), { full: true, reasons: ['proxy-endpoint'], startMs: firstMs });
    }
  }
}
