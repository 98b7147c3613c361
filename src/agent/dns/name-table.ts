// The names the DNS proxy answers itself: every mesh service host, plus the shorter names a Kubernetes pod
// resolves through its search path (`reviews`, `reviews.default`, `reviews.default.svc`), with the service's
// VIPs or auto-allocated addresses. Built from what the sidecar knows (its services, ServiceEntry hosts);
// immutable: a new configuration builds a new table.

import { isIPv4, isIPv6 } from 'node:net';
import { allocateAddresses } from './allocate.ts';
import type { AllocatedAddress } from './allocate.ts';

/** One service as the sidecar knows it. */
export interface NameTableService {
  /** Its host: a Kubernetes-style FQDN (`reviews.default.svc.cluster.local`) or any ServiceEntry host. */
  readonly host: string;
  /** Its VIPs (IPv4 and/or IPv6). Empty: an address is auto-allocated from 240.240.0.0/16. */
  readonly addresses: readonly string[];
}

/** How to build the table. */
export interface NameTableOptions {
  readonly services: readonly NameTableService[];
  /** The workload's namespace: services in it also answer to their bare name (`reviews`). */
  readonly namespace: string;
  /** Cluster domain suffix. Default `cluster.local`. */
  readonly domainSuffix?: string;
  /** Answer AAAA queries for auto-allocated hosts with their IPv6 address (dual-stack workloads). Default false. */
  readonly ipv6?: boolean;
  /** Auto-allocations to keep (from the previous table), so a running app's cached answers stay right. */
  readonly previous?: NameTable;
}

/** What a name resolves to. */
export interface NameTableAnswer {
  /** The service host the name stands for. */
  readonly host: string;
  readonly ipv4: readonly string[];
  readonly ipv6: readonly string[];
  /** True when the addresses were auto-allocated. */
  readonly allocated: boolean;
}

export class NameTable {
  readonly #names: ReadonlyMap<string, NameTableAnswer>;
  readonly #searchSuffixes: readonly string[];
  /** Auto-allocations, by host. */
  readonly allocations: ReadonlyMap<string, AllocatedAddress>;

  constructor(names: ReadonlyMap<string, NameTableAnswer>, searchSuffixes: readonly string[], allocations: ReadonlyMap<string, AllocatedAddress>) {
    this.#names = names;
    this.#searchSuffixes = searchSuffixes;
    this.allocations = allocations;
  }

  /** Number of names (aliases included). */
  get size(): number {
    return this.#names.size;
  }

  /**
   * The answer for a queried name (case-insensitive, trailing dot optional), or undefined when it is not a
   * mesh name. A name that is a mesh name with one of the pod's search suffixes appended (what a resolver
   * asks while walking its search list, e.g. `reviews.default.default.svc.cluster.local`) answers too.
   */
  lookup(name: string): NameTableAnswer | undefined {
    const n = name.toLowerCase().replace(/\.$/, '');
    const direct = this.#names.get(n);
    if (direct) return direct;
    for (const suffix of this.#searchSuffixes) {
      if (n.endsWith(`.${suffix}`)) {
        const hit = this.#names.get(n.slice(0, -suffix.length - 1));
        if (hit) return hit;
      }
    }
    return undefined;
  }

  /** Every name and what it resolves to, sorted by name (for debugging dumps). */
  dump(): Array<[string, NameTableAnswer]> {
    return [...this.#names].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
}

/** Build the table. Pure. */
export function buildNameTable(options: NameTableOptions): NameTable {
  const domain = (options.domainSuffix ?? 'cluster.local').toLowerCase();
  const ns = options.namespace.toLowerCase();
  const services = options.services.map((s) => ({ host: s.host.toLowerCase().replace(/\.$/, ''), addresses: s.addresses })).filter((s) => !s.host.includes('*'));
  const needAllocation = services.filter((s) => s.addresses.length === 0).map((s) => s.host);
  const allocations = allocateAddresses(needAllocation, options.previous?.allocations);

  const names = new Map<string, NameTableAnswer>();
  // Explicit names win over aliases: a ServiceEntry host `reviews` beats the alias of reviews.<ns>.svc.<domain>.
  const aliases: Array<[string, NameTableAnswer]> = [];
  for (const s of services) {
    const alloc = allocations.get(s.host);
    const answer: NameTableAnswer = alloc
      ? { host: s.host, ipv4: [alloc.ipv4], ipv6: options.ipv6 ? [alloc.ipv6] : [], allocated: true }
      : { host: s.host, ipv4: s.addresses.filter((a) => isIPv4(a)), ipv6: s.addresses.filter((a) => isIPv6(a)), allocated: false };
    if (!names.has(s.host)) names.set(s.host, answer);
    const k8s = kubernetesParts(s.host, domain);
    if (k8s) {
      aliases.push([`${k8s.name}.${k8s.namespace}.svc`, answer], [`${k8s.name}.${k8s.namespace}`, answer]);
      if (k8s.namespace === ns) aliases.push([k8s.name, answer]);
    }
  }
  for (const [alias, answer] of aliases) if (!names.has(alias)) names.set(alias, answer);
  return new NameTable(names, [`${ns}.svc.${domain}`, `svc.${domain}`, domain], allocations);
}

/** `name.namespace.svc.<domain>` → its parts; undefined for any other host. */
function kubernetesParts(host: string, domain: string): { name: string; namespace: string } | undefined {
  const suffix = `.svc.${domain}`;
  if (!host.endsWith(suffix)) return undefined;
  const parts = host.slice(0, -suffix.length).split('.');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  return { name: parts[0], namespace: parts[1] };
}
