// WorkloadGroup auto-registration, as Istio does for VMs: a proxy that connects naming a WorkloadGroup
// (AUTO_REGISTER_GROUP) becomes a WorkloadEntry built from the group's template and the proxy's own labels,
// address, ports and service account. When its last connection goes, the entry is removed after a grace period.
import type { Resource } from '../config/api/resource.ts';
import { type Result, ok, err } from '../core/result.ts';
import type { Proxy } from '../discovery/proxy.ts';
import { TLS_MODE_LABEL, type Workload } from './service-entry.ts';
import { autoRegisteredName } from '../discovery/snapshot/model.ts';
import type { WorkloadGroupSpec } from './specs.ts';

/** Timers, injected so tests control time. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export { autoRegisteredName } from '../discovery/snapshot/model.ts';

/** Build the WorkloadEntry for `proxy` from `group` (pure). */
export function workloadFromGroup(group: Resource<WorkloadGroupSpec>, proxy: Proxy): Result<Workload, string> {
  const ip = proxy.ipAddresses[0];
  if (ip === undefined) return err(`proxy ${proxy.id} asks to auto-register in WorkloadGroup ${group.metadata.name} but sent no INSTANCE_IPS and no IP in its node id`);
  const tpl = group.spec.template ?? {};
  const ports: Record<string, number> = { ...(tpl.ports ?? {}), ...proxy.workloadPorts };
  return ok({
    name: autoRegisteredName(group.metadata.name, ip),
    namespace: group.metadata.namespace ?? 'default',
    spec: {
      ...tpl,
      address: ip,
      labels: { ...(group.spec.metadata?.labels ?? {}), ...(tpl.labels ?? {}), ...proxy.labels, [TLS_MODE_LABEL]: 'istio' },
      ports,
      serviceAccount: tpl.serviceAccount ?? proxy.serviceAccount,
      ...(proxy.locality.region !== '' || proxy.locality.zone !== ''
        ? { locality: [proxy.locality.region, proxy.locality.zone, proxy.locality.subZone].filter((s) => s !== '').join('/') }
        : {}),
    },
  });
}

interface Entry {
  workload: Workload;
  connections: number;
  removal: unknown;
}

/**
 * Live auto-registered entries with connection counting: a proxy may reconnect (or hold two connections) before the
 * grace period ends, and only the disconnect of its last connection starts the removal timer.
 */
export class AutoRegistrations {
  readonly #entries = new Map<string, Entry>();
  readonly #timers: Timers;
  readonly #graceMs: number;
  readonly #changed: () => void;

  constructor(opts: { timers: Timers; graceMs: number; changed: () => void }) {
    this.#timers = opts.timers;
    this.#graceMs = opts.graceMs;
    this.#changed = opts.changed;
  }

  /** Record a connection of `workload`; notifies `changed` when the set of entries (or an entry) changed. */
  connect(workload: Workload): void {
    const key = `${workload.namespace}/${workload.name}`;
    const e = this.#entries.get(key);
    if (e) {
      if (e.removal !== undefined) this.#timers.clearTimeout(e.removal);
      e.removal = undefined;
      e.connections++;
      if (JSON.stringify(e.workload) !== JSON.stringify(workload)) {
        e.workload = workload;
        this.#changed();
      }
      return;
    }
    this.#entries.set(key, { workload, connections: 1, removal: undefined });
    this.#changed();
  }

  disconnect(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const e = this.#entries.get(key);
    if (!e) return;
    e.connections = Math.max(0, e.connections - 1);
    if (e.connections > 0 || e.removal !== undefined) return;
    e.removal = this.#timers.setTimeout(() => {
      const cur = this.#entries.get(key);
      if (cur && cur.connections === 0) {
        this.#entries.delete(key);
        this.#changed();
      }
    }, this.#graceMs);
  }

  list(): Workload[] {
    return [...this.#entries.values()].map((e) => e.workload);
  }

  /** Cancel pending removals (shutdown). */
  close(): void {
    for (const e of this.#entries.values()) if (e.removal !== undefined) this.#timers.clearTimeout(e.removal);
  }
}
