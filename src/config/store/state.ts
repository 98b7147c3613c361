// The state both stores share: the effective resource table, duplicate resolution, revisions and the
// event hub. A store hands over its whole candidate list in precedence order; `commit` diffs it against the
// current table and emits the events. All state changes go through `commit` (one mutator).
import { createHash } from 'node:crypto';
import type { FieldError } from '../../core/result.ts';
import type { Origin, Resource, ResourceKey } from '../api/resource.ts';
import type { ConfigEvent, ConfigListener, Conflict, Rejection, RejectedError, StoreLog, StoredResource } from './types.ts';

/** A valid resource offered by one input, before duplicate resolution. */
export interface Candidate {
  key: ResourceKey;
  resource: Resource;
  origin: Origin;
  warnings: FieldError[];
  version: string;
}

export const keyString = (k: ResourceKey): string => `${k.kind}/${k.namespace}/${k.name}`;

export function compareKeys(a: ResourceKey, b: ResourceKey): number {
  return a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** JSON with object keys sorted, so that equal content hashes equally whatever the key order in the file. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** Content version of a resource: 16 hex digits of SHA-256 over what the mesh reads (not status, not resourceVersion). */
export function contentVersion(r: Resource, key: ResourceKey): string {
  const m = r.metadata;
  const body = { apiVersion: r.apiVersion, kind: r.kind, name: key.name, namespace: key.namespace, labels: m.labels ?? {}, annotations: m.annotations ?? {}, spec: r.spec ?? null };
  return createHash('sha256').update(canonicalJson(body)).digest('hex').slice(0, 16);
}

export const defaultStoreLog: StoreLog = (level, message) => {
  process.stderr.write(`${new Date().toISOString()} ${level} config-store ${message}\n`);
};

/** The first candidate per key wins; every candidate's file is recorded as a claimant. */
function resolve(candidates: Iterable<Candidate>): { winners: Map<string, Candidate>; claimants: Map<string, string[]> } {
  const winners = new Map<string, Candidate>();
  const claimants = new Map<string, string[]>();
  for (const c of candidates) {
    const ks = keyString(c.key);
    const files = claimants.get(ks);
    if (files) files.push(c.origin.file);
    else claimants.set(ks, [c.origin.file]);
    if (!winners.has(ks)) winners.set(ks, c);
  }
  return { winners, claimants };
}

const byKey = (a: ConfigEvent, b: ConfigEvent): number => ('key' in a && 'key' in b ? compareKeys(a.key, b.key) : 0);

export class StoreState {
  private readonly table = new Map<string, StoredResource>();
  private readonly conflictMap = new Map<string, Conflict>();
  private readonly rejected = new Map<string, RejectedError[]>();
  private readonly listeners = new Set<ConfigListener>();
  private rev = 0;
  private sorted: StoredResource[] | undefined;
  private readonly log: StoreLog;

  constructor(log: StoreLog) {
    this.log = log;
  }

  revision(): number {
    return this.rev;
  }

  get(key: ResourceKey): StoredResource | undefined {
    return this.table.get(keyString(key));
  }

  list(kind?: string, namespace?: string): StoredResource[] {
    this.sorted ??= [...this.table.values()].sort((a, b) => compareKeys(a.key, b.key));
    if (kind === undefined && namespace === undefined) return this.sorted.slice();
    return this.sorted.filter((s) => (kind === undefined || s.key.kind === kind) && (namespace === undefined || s.key.namespace === namespace));
  }

  conflicts(): Conflict[] {
    return [...this.conflictMap.values()].sort((a, b) => compareKeys(a.key, b.key));
  }

  rejections(): Rejection[] {
    return [...this.rejected.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([file, errors]) => ({ file, errors }));
  }

  subscribe(listener: ConfigListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /**
   * Replaces the effective state with the winners among `candidates` (earlier entries take precedence) and
   * records rejection changes; emits the resulting events under one new revision, if anything changed.
   * `rejectedNow` holds the inputs rejected by this change; `recoveredNow` the inputs whose rejection ends.
   */
  commit(candidates: Iterable<Candidate>, rejectedNow: Rejection[] = [], recoveredNow: string[] = [], removedNow: ReadonlySet<string> = new Set()): ConfigEvent[] {
    const revision = this.rev + 1;
    const { winners, claimants } = resolve(candidates);
    const events = [...this.updateRejections(rejectedNow, recoveredNow, revision), ...this.updateTable(winners, revision), ...this.updateConflicts(winners, claimants, revision)];
    if (events.length === 0) return events;
    this.rev = revision;
    this.report(events, removedNow);
    for (const e of events) this.emit(e);
    return events;
  }

  private updateRejections(rejectedNow: Rejection[], recoveredNow: string[], revision: number): ConfigEvent[] {
    const events: ConfigEvent[] = [];
    for (const r of rejectedNow) {
      this.rejected.set(r.file, r.errors);
      events.push({ type: 'rejected', file: r.file, errors: r.errors, revision });
    }
    for (const file of recoveredNow) {
      if (this.rejected.delete(file)) events.push({ type: 'recovered', file, revision });
    }
    return events;
  }

  /** Brings the table to the winners; returns added/updated/deleted events sorted by key. */
  private updateTable(winners: Map<string, Candidate>, revision: number): ConfigEvent[] {
    const changes: ConfigEvent[] = [];
    for (const [ks, old] of this.table) {
      if (winners.has(ks)) continue;
      this.table.delete(ks);
      changes.push({ type: 'deleted', key: old.key, resource: old, origin: old.origin, revision });
    }
    for (const [ks, c] of winners) {
      const old = this.table.get(ks);
      if (old && old.version === c.version) {
        if (old.origin.file === c.origin.file && old.origin.document === c.origin.document && old.origin.line === c.origin.line) continue;
        // Same content from another place (a file renamed, a duplicate took over): no event, the origin moves.
        this.table.set(ks, { ...old, origin: c.origin, resource: c.resource, warnings: c.warnings });
        this.sorted = undefined;
        continue;
      }
      const stored: StoredResource = { key: c.key, resource: c.resource, origin: c.origin, version: c.version, revision, warnings: c.warnings };
      this.table.set(ks, stored);
      changes.push(old ? { type: 'updated', key: c.key, resource: stored, previous: old, origin: c.origin, revision } : { type: 'added', key: c.key, resource: stored, origin: c.origin, revision });
    }
    if (changes.length > 0) this.sorted = undefined;
    return changes.sort(byKey);
  }

  /** Records duplicates; returns a conflict event for each new duplicate or changed set of claimants. */
  private updateConflicts(winners: Map<string, Candidate>, claimants: Map<string, string[]>, revision: number): ConfigEvent[] {
    const events: ConfigEvent[] = [];
    for (const ks of [...this.conflictMap.keys()]) if ((claimants.get(ks)?.length ?? 0) < 2) this.conflictMap.delete(ks);
    for (const [ks, files] of claimants) {
      const key = winners.get(ks)?.key;
      if (files.length < 2 || key === undefined) continue;
      const prev = this.conflictMap.get(ks);
      if (prev && prev.files.join('\n') === files.join('\n')) continue;
      const winner = files[0] ?? '';
      this.conflictMap.set(ks, { key, files, winner });
      events.push({ type: 'conflict', key, files, winner, revision });
    }
    return events.sort(byKey);
  }

  /** `removed`: files deleted in this change, whose rejection ends because they are gone, not because they were fixed. */
  private report(events: ConfigEvent[], removed: ReadonlySet<string>): void {
    for (const e of events) {
      if (e.type === 'rejected') this.log('error', rejectionMessage(e.file, e.errors, this.holdsFrom(e.file)));
      else if (e.type === 'conflict') {
        this.log('warn', `${e.key.kind} ${e.key.namespace === '' ? '' : `${e.key.namespace}/`}${e.key.name} is defined ${e.files.length} times (${e.files.join(', ')}); using the one in ${e.winner}`);
      } else if (e.type === 'recovered') {
        this.log('info', removed.has(e.file) ? `${e.file} (rejected) was removed; the resources it last held validly are withdrawn` : `${e.file} is valid again`);
      }
    }
  }

  /** Whether some resource in force came from `file` (its last good version), for the rejection message. */
  private holdsFrom(file: string): boolean {
    for (const r of this.table.values()) if (r.origin.file === file) return true;
    return false;
  }

  private emit(e: ConfigEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch (err) {
        this.log('error', `a config listener threw on a ${e.type} event: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}

/** Errors shown per rejection in the log; the rest are counted (weft validate lists them all). */
const SHOWN_ERRORS = 5;

/**
 * The log line of a rejected file: what was rejected, that the last good config stays, each problem with its
 * resource (a file may hold many) and field path, and the command that lists them all.
 */
export function rejectionMessage(file: string, errors: readonly RejectedError[], hasLastGood = true): string {
  const shown = errors.slice(0, SHOWN_ERRORS).map((x) => {
    const where = x.key === undefined ? (x.document !== undefined && x.document > 0 ? `document ${x.document + 1}: ` : '') : `${formatKey(x.key)}: `;
    return `${where}${x.path === '' ? '' : `${x.path}: `}${x.message}`;
  });
  const more = errors.length > SHOWN_ERRORS ? ` (+${errors.length - SHOWN_ERRORS} more)` : '';
  const kept = hasLastGood ? 'the last good version of its resources stays in force' : 'nothing in it is loaded';
  return `rejected ${file} (${kept}): ${shown.join('; ')}${more}; fix the file and save it again ('weft validate -f ${file}' lists every problem)`;
}

function formatKey(k: ResourceKey): string {
  return `${k.kind} ${k.namespace === '' ? '' : `${k.namespace}/`}${k.name}`;
}
