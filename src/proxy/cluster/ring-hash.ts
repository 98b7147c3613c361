// Consistent hashing for RING_HASH and MAGLEV clusters (Istio's DestinationRule consistentHash): every host gets
// virtual nodes on a ring of 32-bit hashes; a request's hash (from the route's hash_policy) picks the first node
// clockwise. The ring is rebuilt only when the host set changes. Requests without a hash are spread at random, as
// Envoy does. (MAGLEV uses the same ring: the same affinity guarantees, not Maglev's table layout.)
import type { Host } from './host.ts';
import type { LoadBalancer } from './load-balancer.ts';

/** FNV-1a, 32 bit: fast, well spread for short keys. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Final avalanche (murmur3 fmix32), so that similar keys land far apart on the ring.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

interface Ring {
  hosts: readonly Host[];
  points: Uint32Array;
  owners: Host[];
}

export class RingHash implements LoadBalancer {
  private ring: Ring | undefined;
  private readonly minRingSize: number;

  constructor(minRingSize = 1024) {
    this.minRingSize = minRingSize;
  }

  private build(hosts: readonly Host[]): Ring {
    const totalWeight = hosts.reduce((a, h) => a + h.weight, 0) || 1;
    const entries: [number, Host][] = [];
    for (const h of hosts) {
      const n = Math.max(1, Math.ceil((this.minRingSize * h.weight) / totalWeight));
      for (let i = 0; i < n; i++) entries.push([hash32(`${h.key}_${i}`), h]);
    }
    entries.sort((a, b) => a[0] - b[0]);
    return { hosts, points: Uint32Array.from(entries.map((e) => e[0])), owners: entries.map((e) => e[1]) };
  }

  choose(hosts: readonly Host[], now: number, random: () => number, hash?: number): Host | undefined {
    if (hosts.length === 0) return undefined;
    if (this.ring?.hosts !== hosts) this.ring = this.build(hosts);
    const r = this.ring;
    const h = hash ?? Math.floor(random() * 0x100000000);
    // First point ≥ h (binary search), wrapping; skip unavailable hosts by walking on.
    let lo = 0;
    let hi = r.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (r.points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    for (let k = 0; k < r.points.length; k++) {
      const host = r.owners[(lo + k) % r.points.length]!;
      if (host.available(now)) return host;
    }
    return undefined;
  }
}
