// Per-connection, per-type xDS state: what the proxy subscribed to, what was sent (version, nonce, and each
// resource's version), what it acknowledged, and its last rejection. The same record serves state-of-the-world
// and delta streams; `diffSotw`/`diffDelta` decide what a push must carry under each protocol's rules.
//
// Scale: the resource maps are immutable and shared. Proxies that hold the same resources point at one map, and
// a diff against the same generated output is computed once and applied once for all of them (memoized by
// object identity), so a push to thousands of like proxies costs little more than a push to one.
import { TypeUrl } from '../../xds/protos.ts';
import type { EncodedResource } from './encode.ts';
import type { Names } from './names.ts';

/** LDS and CDS: in SotW every response carries the full set (absence means deletion); empty names mean wildcard. */
export function isSotwFullSetType(typeUrl: string): boolean {
  return typeUrl === TypeUrl.listener || typeUrl === TypeUrl.cluster;
}

/** A resource as last sent. `resource` is absent for versions a delta client declared on reconnect. */
export interface SentResource {
  version: string;
  resource: Record<string, unknown> | undefined;
}

/** Immutable name → resource map. Never mutate one: derive a new map. */
export type ResourceMap = ReadonlyMap<string, SentResource>;

export const emptyResources: ResourceMap = new Map();

/** A response that was sent and not yet acknowledged. */
export interface Outstanding {
  nonce: string;
  version: string;
  /** Resources carried and names removed by this response. */
  count: number;
  removed: number;
  /** What the proxy holds once it applies this response. */
  after: ResourceMap;
  /** When the change behind this response was first seen (ms since epoch), for convergence time. */
  startMs: number;
  sentAtMs: number;
  /** Encoded size of the resources carried, counted against the server's push budget until released. */
  bytes: number;
  /** The bytes were given back to the push budget (settled, dropped, or timed out). */
  released: boolean;
}

/** The proxy's last rejection of this type. */
export interface Nack {
  nonce: string;
  /** version_info the proxy reports it is still on (SotW), or the system version of the rejected response (delta). */
  version: string;
  message: string;
  atMs: number;
}

export class WatchedType {
  readonly typeUrl: string;
  /** undefined = wildcard (all resources of the type for this proxy). */
  names: Names | undefined;
  /** Last response sent. */
  sentNonce: string | undefined;
  sentVersion: string | undefined;
  /** Last response acknowledged. */
  ackedNonce: string | undefined;
  ackedVersion: string | undefined;
  nack: Nack | undefined;
  /** Resources the proxy has been sent (and has, unless it NACKed). */
  sent: ResourceMap = emptyResources;
  /** Resources as of the last acknowledged response: per resource, the version the proxy acknowledged. */
  acked: ResourceMap = emptyResources;
  /** Responses sent but not yet ACKed or NACKed, oldest first. Bounded: a proxy that never answers keeps only the last few. */
  readonly outstanding: Outstanding[] = [];

  constructor(typeUrl: string, names: Names | undefined) {
    this.typeUrl = typeUrl;
    this.names = names;
  }

  /** Names to generate: undefined for a wildcard subscription. */
  requestedNames(): Names | undefined {
    return this.names;
  }

  /** Record a response; returns the oldest outstanding one if it had to be forgotten (the list is bounded). */
  recordSent(o: Outstanding): Outstanding | undefined {
    this.sent = o.after;
    this.sentNonce = o.nonce;
    this.sentVersion = o.version;
    this.outstanding.push(o);
    return this.outstanding.length > 8 ? this.outstanding.shift() : undefined;
  }

  /**
   * Settle the response with this nonce (and, SotW semantics, every older outstanding one). Returns the settled
   * responses, oldest first; empty when the nonce is unknown or already settled (a stale request).
   */
  settle(nonce: string): Outstanding[] {
    const i = this.outstanding.findIndex((o) => o.nonce === nonce);
    if (i < 0) return [];
    return this.outstanding.splice(0, i + 1);
  }

  ack(settled: readonly Outstanding[]): void {
    const last = settled[settled.length - 1];
    if (last === undefined) return;
    this.acked = last.after;
    this.ackedNonce = last.nonce;
    this.ackedVersion = last.version;
    this.nack = undefined;
  }
}

export interface Diff {
  /** Resources to put in the response. */
  resources: EncodedResource[];
  /** Names to report removed (delta only). */
  removed: string[];
  /** What the proxy holds after applying the response. */
  after: ResourceMap;
}

function applied(before: ResourceMap, resources: readonly EncodedResource[], removed: readonly string[], fullSet: boolean): ResourceMap {
  const m = new Map<string, SentResource>(fullSet ? [] : before);
  for (const r of resources) m.set(r.name, r);
  for (const n of removed) m.delete(n);
  return m;
}

/** Memo: (held resources, generated output, scope) → diff. `null` records "nothing to send". */
const memo = new WeakMap<ResourceMap, WeakMap<readonly EncodedResource[], Map<unknown, Diff | null>>>();

function memoized(held: ResourceMap, generated: readonly EncodedResource[], key: unknown, compute: () => Diff | null): Diff | null {
  let byGen = memo.get(held);
  if (!byGen) {
    byGen = new WeakMap();
    memo.set(held, byGen);
  }
  let byKey = byGen.get(generated);
  if (!byKey) {
    byKey = new Map();
    byGen.set(generated, byKey);
  }
  const hit = byKey.get(key);
  if (hit !== undefined) return hit;
  const d = compute();
  byKey.set(key, d);
  return d;
}

/**
 * What a state-of-the-world push must carry. LDS/CDS: everything, and only if anything changed (or `force`, for a
 * request that must be answered). RDS/EDS: only resources whose version changed (absence is not deletion there).
 */
export function diffSotw(w: WatchedType, generated: readonly EncodedResource[], force: boolean): Diff | undefined {
  const held = w.sent;
  const fullSet = isSotwFullSetType(w.typeUrl);
  const d = memoized(held, generated, force ? 'sotw-force' : 'sotw', () => {
    if (fullSet) {
      const same = generated.length === held.size && generated.every((r) => held.get(r.name)?.version === r.version);
      if (same && !force) return null;
      return { resources: [...generated], removed: [], after: applied(held, generated, [], true) };
    }
    const changed = generated.filter((r) => held.get(r.name)?.version !== r.version);
    if (changed.length === 0 && !force) return null;
    return { resources: changed, removed: [], after: applied(held, changed, [], false) };
  });
  return d ?? undefined;
}

/**
 * What a delta push must carry: changed resources, and removals of names the proxy has (or asked for) that no
 * longer exist. `scope` limits removal to those names (a partial regeneration must not remove what it did not look at).
 */
export function diffDelta(
  w: WatchedType,
  generated: readonly EncodedResource[],
  scope: Names | undefined,
  newlySubscribed: Names | undefined,
  force: boolean,
): Diff | undefined {
  const held = w.sent;
  const compute = (): Diff | null => {
    const changed = generated.filter((r) => held.get(r.name)?.version !== r.version);
    const present = new Set(generated.map((r) => r.name));
    const removed: string[] = [];
    for (const name of held.keys()) {
      if (present.has(name)) continue;
      if (scope !== undefined && !scope.set.has(name)) continue;
      removed.push(name);
    }
    // A proxy that subscribes to a name that does not exist learns so at once instead of waiting for its timer.
    for (const name of newlySubscribed?.list ?? []) if (!present.has(name) && !held.has(name) && name !== '*') removed.push(name);
    if (changed.length === 0 && removed.length === 0 && !force) return null;
    return { resources: changed, removed, after: applied(held, changed, removed, false) };
  };
  // Names are interned and their ids never reused, so the key identifies scope and subscription exactly.
  const key = `delta|${scope?.id ?? '*'}|${newlySubscribed?.id ?? '-'}|${force}`;
  return memoized(held, generated, key, compute) ?? undefined;
}

/** The held map without some names (the proxy unsubscribed from them, or re-subscribed from scratch). */
export function withoutNames(held: ResourceMap, names: Iterable<string>): ResourceMap {
  const m = new Map(held);
  for (const n of names) m.delete(n);
  return m;
}
