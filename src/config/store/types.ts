// The config store contract: what the control plane reads (list/get) and the one event stream it consumes.
// Two implementations: MemoryStore (tests, embedding) and DirectoryStore (a watched directory of YAML/JSON files).
// Both validate with the same pipeline as `weft validate`; only valid resources ever reach the store's state.
import type { FieldError } from '../../core/result.ts';
import type { Origin, Resource, ResourceKey } from '../api/resource.ts';

/** A valid resource as held by a store. Immutable: a change produces a new object. */
export interface StoredResource {
  key: ResourceKey;
  /** The validated resource (apiVersion as written, e.g. networking.istio.io/v1beta1). */
  resource: Resource;
  /** Where the winning copy came from (file and document index). */
  origin: Origin;
  /**
   * Content version: a hash of apiVersion, kind, metadata (name, namespace, labels, annotations) and spec.
   * Equal versions mean equal content, whatever the file or the time.
   */
  version: string;
  /** Store revision at which this resource last changed (monotonic per store, starts at 1). */
  revision: number;
  /** Validation warnings (accepted, as Istio's webhook accepts with warnings). */
  warnings: FieldError[];
}

/** One validation or parse problem of a rejected input, with the document it was found in. */
export interface RejectedError extends FieldError {
  /** Document index in the file (0-based), when the problem belongs to one document. */
  document?: number;
  /** The resource's key, when the document got far enough to have one. */
  key?: ResourceKey;
}

/**
 * What happened in a store. Subscribers get events synchronously, in order, after the store's state
 * (list/get) already reflects them. Events of one change (one file write, one apply) share a revision.
 *
 * - `added` / `updated` / `deleted`: the effective set of resources changed. `updated` is only sent when the
 *   content version changed; `deleted` carries the last stored value.
 * - `rejected`: an input (a file, or one MemoryStore.apply) failed to parse or validate. Nothing it contained
 *   was applied: for a file, the last good version of that file's resources stays in force.
 * - `conflict`: two or more documents claim the same kind/namespace/name. The winner (documented in
 *   docs/store.md: first file in path order, then first document) is in force; `files` lists all claimants.
 *   Sent when a conflict appears or its set of files changes.
 * - `recovered`: a file that was rejected is valid again (or was deleted), so its rejection no longer stands.
 */
export type ConfigEvent =
  | { type: 'added'; key: ResourceKey; resource: StoredResource; origin: Origin; revision: number }
  | { type: 'updated'; key: ResourceKey; resource: StoredResource; previous: StoredResource; origin: Origin; revision: number }
  | { type: 'deleted'; key: ResourceKey; resource: StoredResource; origin: Origin; revision: number }
  | { type: 'rejected'; file: string; errors: RejectedError[]; revision: number }
  | { type: 'recovered'; file: string; revision: number }
  | { type: 'conflict'; key: ResourceKey; files: string[]; winner: string; revision: number };

export type ConfigEventType = ConfigEvent['type'];
export type ConfigListener = (e: ConfigEvent) => void;

/** A current duplicate: several documents for one key. */
export interface Conflict {
  key: ResourceKey;
  /** Every claimant file, in precedence order (the winner first). A file may appear twice (two documents). */
  files: string[];
  winner: string;
}

/** A file (or memory input) currently rejected, and why. */
export interface Rejection {
  file: string;
  errors: RejectedError[];
}

/**
 * The read side of a config store, the only interface the control plane depends on.
 * Consistent snapshot pattern: call list() and subscribe() in the same synchronous turn; every later change
 * then arrives as events.
 */
export interface ConfigStore {
  /** Resources of a kind (Kind name such as `VirtualService`; all kinds when undefined), optionally in one namespace. Sorted by kind, namespace, name. */
  list(kind?: string, namespace?: string): StoredResource[];
  get(key: ResourceKey): StoredResource | undefined;
  /** Registers a listener; returns the function that unregisters it. A throwing listener does not affect others. */
  subscribe(listener: ConfigListener): () => void;
  /** Current store revision: increases by one per applied change batch. */
  revision(): number;
  /** Duplicate keys currently present. */
  conflicts(): Conflict[];
  /** Inputs currently rejected (their previous good content, if any, is in force). */
  rejections(): Rejection[];
  /** Stops watching and releases resources. Idempotent. */
  close(): Promise<void>;
}

/** Where store diagnostics go (rejections, conflicts, watch errors). Default: standard error. */
export type StoreLog = (level: 'info' | 'warn' | 'error', message: string) => void;
