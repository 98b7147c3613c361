// The control plane's data flow in one place: config store events and registry changes are debounced, a new
// immutable snapshot is built (or, for endpoint-only changes, the old one gets a new endpoint index), and the
// discovery server serves it and pushes. Nothing here translates or serves: it only sequences the stages.
import type { ConfigEvent, ConfigStore } from '../config/store/index.ts';
import type { Proxy } from '../discovery/proxy.ts';
import { Debouncer } from '../discovery/serve/debounce.ts';
import type { DiscoveryServer } from '../discovery/serve/server.ts';
import { mergePush } from '../discovery/serve/push-queue.ts';
import type { GeneratedResource, PushRequest, XdsView } from '../discovery/serve/types.ts';
import type { MeshSettings } from '../discovery/snapshot/mesh.ts';
import { buildSnapshot, withEndpoints, type MeshSnapshot } from '../discovery/snapshot/snapshot.ts';
import type { ServiceRegistry, RegistryChange } from '../registry/registry.ts';

/** Translation entry point: (proxy, snapshot, type, names) → resources. Pure. */
export type Generate = (proxy: Proxy, snapshot: MeshSnapshot, typeUrl: string, names: readonly string[] | undefined) => GeneratedResource[];

export interface PipelineOptions {
  store: ConfigStore;
  registry: ServiceRegistry;
  server: DiscoveryServer<Proxy>;
  generate: Generate;
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

export class MeshPipeline {
  readonly #o: PipelineOptions;
  readonly #debouncer: Debouncer<Change>;
  readonly #now: () => number;
  #snapshot: MeshSnapshot;
  #version = 0;
  #versionLabel = '';
  #rebuilding = false;
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
    const generate = this.#o.generate;
    return { version: this.#versionLabel, generate: (proxy, typeUrl, names) => generate(proxy, snapshot, typeUrl, names) };
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
        this.#debouncer.add({ full: true, reasons: ['config'], startMs: this.#now() });
        return;
      case 'rejected':
        this.lastRejections.push({ file: e.file, errors: e.errors.map((x) => `${x.path}: ${x.message}`), at: new Date(this.#now()).toISOString() });
        if (this.lastRejections.length > 20) this.lastRejections.shift();
        this.#o.log?.('warn', `config: ${e.file} rejected, its last good version stays in force: ${e.errors.map((x) => `${x.path ? x.path + ': ' : ''}${x.message}`).join('; ')}`);
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

  #build(): MeshSnapshot {
    const configs = this.#o.store.list().map((s) => s.resource);
    this.#rebuilding = true;
    try {
      this.#o.registry.setConfigs(configs);
    } finally {
      this.#rebuilding = false;
    }
    const snapshot = buildSnapshot({ configs, registry: this.#o.registry.state(), mesh: this.#o.mesh, domainSuffix: this.#o.domainSuffix });
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
    if (c.full) {
      this.#snapshot = this.#build();
    } else {
      this.#snapshot = withEndpoints(this.#snapshot, this.#o.registry.state().endpoints);
      this.#nextVersion();
    }
    const ms = this.#now() - t0;
    this.#o.onRebuild?.(c.full ? 'full' : 'endpoints', ms);
    this.#o.log?.('debug', `snapshot ${this.#versionLabel} (${c.full ? 'full' : 'endpoints'}; ${c.reasons.join(',')}) built in ${ms} ms`);
    this.#o.server.update(this.view(), { ...c, startMs: firstMs });
  }
}
