// MemoryStore: a config store held in memory, for tests and for embedding. Input goes through the same
// validation pipeline as files; an invalid apply changes nothing and is reported (return value + event).
import type { ResourceKey } from '../api/resource.ts';
import type { LoadedLike, TextLoader } from './loader.ts';
import { loadInput, toCandidates } from './loader.ts';
import type { Candidate } from './state.ts';
import { StoreState, keyString } from './state.ts';
import type { ConfigEvent, ConfigListener, ConfigStore, Conflict, Rejection, StoreLog, StoredResource } from './types.ts';

export interface MemoryStoreOptions {
  /** Parse + validate function (the shared pipeline). */
  load: TextLoader;
  /** Diagnostics sink; default discards (tests read events instead). */
  log?: StoreLog;
}

export type ApplyOutcome = { ok: true; events: ConfigEvent[] } | { ok: false; rejection: Rejection };

export class MemoryStore implements ConfigStore {
  private readonly state: StoreState;
  private readonly load: TextLoader;
  /** Insertion-ordered: one entry per key (apply replaces), so a MemoryStore never has conflicts. */
  private readonly entries = new Map<string, Candidate>();

  constructor(options: MemoryStoreOptions) {
    this.load = options.load;
    this.state = new StoreState(options.log ?? (() => {}));
  }

  /**
   * Applies YAML/JSON text (one or many documents) as one change: every document must be valid, or nothing
   * is applied and a `rejected` event is emitted. `source` names the input in origins and events.
   */
  apply(text: string, source = 'memory'): ApplyOutcome {
    return this.applyOutcome(loadInput(this.load, text, source), source);
  }

  /** Applies documents already run through the pipeline (e.g. by `loadPaths`). */
  applyLoaded(loaded: LoadedLike[], source = 'memory'): ApplyOutcome {
    return this.applyOutcome(toCandidates(loaded, source), source);
  }

  private applyOutcome(outcome: ReturnType<typeof toCandidates>, source: string): ApplyOutcome {
    if (!outcome.ok) {
      this.state.commit(this.entries.values(), [outcome.rejection]);
      return outcome;
    }
    for (const c of outcome.candidates) this.entries.set(keyString(c.key), c);
    return { ok: true, events: this.state.commit(this.entries.values(), [], [source]) };
  }

  /** Removes a resource; returns whether it existed. */
  delete(key: ResourceKey): boolean {
    if (!this.entries.delete(keyString(key))) return false;
    this.state.commit(this.entries.values());
    return true;
  }

  list(kind?: string, namespace?: string): StoredResource[] {
    return this.state.list(kind, namespace);
  }
  get(key: ResourceKey): StoredResource | undefined {
    return this.state.get(key);
  }
  subscribe(listener: ConfigListener): () => void {
    return this.state.subscribe(listener);
  }
  revision(): number {
    return this.state.revision();
  }
  conflicts(): Conflict[] {
    return this.state.conflicts();
  }
  rejections(): Rejection[] {
    return this.state.rejections();
  }
  async close(): Promise<void> {}
}
