// Named counters as Envoy keeps them: one counter per stat name (`http.inbound_0.0.0.0_8080.rbac.allowed`), shared
// by every filter instance that uses the name and kept across config updates, so a new listener version adds to the
// same counter instead of starting again at zero. Filters take their counters when compiled; the hot path only
// increments a field. Rendered by admin/admin-stats.ts (/stats) and admin/envoy-prometheus.ts (/stats/prometheus).

export class Counter {
  value = 0;
}

export class StatStore {
  private readonly counters = new Map<string, Counter>();

  /** The counter with this name (created at zero the first time). */
  counter(name: string): Counter {
    let c = this.counters.get(name);
    if (!c) {
      c = new Counter();
      this.counters.set(name, c);
    }
    return c;
  }

  /** Every counter, by name. */
  entries(): Array<[string, number]> {
    return [...this.counters].map(([k, c]) => [k, c.value]);
  }
}

/** Envoy's statPrefixJoin: `prefix` and `name` with exactly one dot between them. */
export function joinStat(prefix: string, name: string): string {
  if (prefix === '') return name;
  return prefix.endsWith('.') ? prefix + name : `${prefix}.${name}`;
}
