// Load balancers over a cluster's hosts, as Envoy's: round robin (weighted when weights differ), least request
// (power of two choices, Envoy's default choice_count 2) and random. Hosts of the lowest priority with an available
// host are used; unhealthy (EDS) and ejected (outlier) hosts are skipped.
import type { LbPolicy } from './cluster-config.ts';
import type { Host } from './host.ts';
import { RingHash } from './ring-hash.ts';

export interface LoadBalancer {
  /** `hash`: the request's hash for consistent-hash policies (ignored by the others). */
  choose(hosts: readonly Host[], now: number, random: () => number, hash?: number): Host | undefined;
}

/** The available hosts of the best priority. Allocation only when some hosts are unavailable. */
function candidates(hosts: readonly Host[], now: number): readonly Host[] {
  let allAvailable = true;
  let minPriority = Infinity;
  for (const h of hosts) {
    if (!h.available(now)) allAvailable = false;
    else if (h.priority < minPriority) minPriority = h.priority;
  }
  if (allAvailable && (minPriority === 0 || hosts.length === 0)) return hosts;
  const out: Host[] = [];
  for (const h of hosts) if (h.available(now) && h.priority === minPriority) out.push(h);
  return out;
}

class RoundRobin implements LoadBalancer {
  private next = 0;
  choose(hosts: readonly Host[], now: number): Host | undefined {
    const c = candidates(hosts, now);
    if (c.length === 0) return undefined;
    if (c.length === 1) return c[0];
    let total = 0;
    let uniform = true;
    for (const h of c) {
      total += h.weight;
      if (h.weight !== c[0]!.weight) uniform = false;
    }
    const n = this.next++;
    if (uniform) return c[n % c.length];
    // Weighted: walk the cumulative weights at position n mod total (deterministic, proportional).
    let x = n % total;
    for (const h of c) {
      if (x < h.weight) return h;
      x -= h.weight;
    }
    return c[0];
  }
}

class LeastRequest implements LoadBalancer {
  choose(hosts: readonly Host[], now: number, random: () => number): Host | undefined {
    const c = candidates(hosts, now);
    if (c.length <= 1) return c[0];
    const a = c[Math.floor(random() * c.length)]!;
    const b = c[Math.floor(random() * c.length)]!;
    return b.active < a.active ? b : a;
  }
}

class RandomLb implements LoadBalancer {
  choose(hosts: readonly Host[], now: number, random: () => number): Host | undefined {
    const c = candidates(hosts, now);
    return c.length === 0 ? undefined : c[Math.floor(random() * c.length)];
  }
}

export function makeLoadBalancer(policy: LbPolicy, minRingSize = 1024): LoadBalancer {
  switch (policy) {
    case 'ring_hash':
      return new RingHash(minRingSize);
    case 'round_robin':
      return new RoundRobin();
    case 'least_request':
      return new LeastRequest();
    case 'random':
      return new RandomLb();
  }
}
