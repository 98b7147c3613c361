// Per-connection, per-type xDS state: what the proxy subscribed to, what was sent (version, nonce, and each
// resource's version), what it acknowledged, and its last rejection. The same record serves state-of-the-world
// and delta streams; `diff` decides what a push must carry under each protocol's rules.
import { TypeUrl } from '../../xds/protos.ts';
import type { EncodedResource } from './encode.ts';

/** LDS and CDS: in SotW every response carries the full set (absence means deletion); empty names mean wildcard. */
export function isSotwFullSetType(typeUrl: string): boolean {
  return typeUrl === TypeUrl.listener || typeUrl === TypeUrl.cluster;
}

/** A resource as last sent. `resource` is absent for versions a delta client declared on reconnect. */
export interface SentResource {
  version: string;
  resource: Record<string, unknown> | undefined;
}

/** A response that was sent and not yet acknowledged. */
export interface Outstanding {
  nonce: string;
  version: string;
  /** name → resource version carried by this response. */
  resources: Map<string, string>;
  removed: string[];
  /** When the change behind this response was first seen (ms since epoch), for convergence time. */
  startMs: number;
  sentAtMs: number;
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
  names: Set<string> | undefined;
  /** Last response sent. */
  sentNonce: string | undefined;
  sentVersion: string | undefined;
  /** Last response acknowledged. */
  ackedNonce: string | undefined;
  ackedVersion: string | undefined;
  nack: Nack | undefined;
  /** Resources the proxy has been sent (and has, unless it NACKed): name → version and the object (for dumps). */
  readonly sent = new Map<string, SentResource>();
  /** name → version the proxy acknowledged. */
  readonly acked = new Map<string, string>();
  /** Responses sent but not yet ACKed or NACKed, oldest first. Bounded: a proxy that never answers keeps only the last few. */
  readonly outstanding: Outstanding[] = [];

  constructor(typeUrl: string, names: Set<string> | undefined) {
    this.typeUrl = typeUrl;
    this.names = names;
  }

  /** Names to generate: undefined for a wildcard subscription. */
  requestedNames(): string[] | undefined {
    return this.names === undefined ? undefined : [...this.names].sort();
  }

  recordSent(o: Outstanding, resources: readonly EncodedResource[], full: boolean): void {
    if (full) this.sent.clear();
    for (const r of resources) this.sent.set(r.name, { version: r.version, resource: r.resource });
    for (const n of o.removed) this.sent.delete(n);
    this.sentNonce = o.nonce;
    this.sentVersion = o.version;
    this.outstanding.push(o);
    if (this.outstanding.length > 8) this.outstanding.shift();
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
    for (const o of settled) {
      for (const [name, v] of o.resources) this.acked.set(name, v);
      for (const name of o.removed) this.acked.delete(name);
    }
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
  /** True when the response replaces the full set (SotW LDS/CDS). */
  fullSet: boolean;
}

/**
 * What a state-of-the-world push must carry. LDS/CDS: everything, and only if anything changed (or `force`, for a
 * request that must be answered). RDS/EDS: only resources whose version changed (absence is not deletion there).
 */
export function diffSotw(w: WatchedType, generated: readonly EncodedResource[], force: boolean): Diff | undefined {
  if (isSotwFullSetType(w.typeUrl)) {
    const same = generated.length === w.sent.size && generated.every((r) => w.sent.get(r.name)?.version === r.version);
    if (same && !force) return undefined;
    return { resources: [...generated], removed: [], fullSet: true };
  }
  const changed = generated.filter((r) => w.sent.get(r.name)?.version !== r.version);
  if (changed.length === 0 && !force) return undefined;
  return { resources: changed, removed: [], fullSet: false };
}

/**
 * What a delta push must carry: changed resources, and removals of names the proxy has (or asked for) that no
 * longer exist. `scope` limits removal to those names (a partial regeneration must not remove what it did not look at).
 */
export function diffDelta(
  w: WatchedType,
  generated: readonly EncodedResource[],
  scope: ReadonlySet<string> | undefined,
  newlySubscribed: readonly string[],
  force: boolean,
): Diff | undefined {
  const changed = generated.filter((r) => w.sent.get(r.name)?.version !== r.version);
  const present = new Set(generated.map((r) => r.name));
  const removed: string[] = [];
  for (const name of w.sent.keys()) {
    if (present.has(name)) continue;
    if (scope !== undefined && !scope.has(name)) continue;
    removed.push(name);
  }
  // A proxy that subscribes to a name that does not exist learns so at once instead of waiting for its timer.
  for (const name of newlySubscribed) if (!present.has(name) && !w.sent.has(name) && name !== '*') removed.push(name);
  if (changed.length === 0 && removed.length === 0 && !force) return undefined;
  return { resources: changed, removed, fullSet: false };
}
