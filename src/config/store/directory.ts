// DirectoryStore: the embedded default store, a directory tree of YAML/JSON files, watched for changes.
// Every change (editor save, rename-over, delete, new subdirectory) marks the tree dirty; after a short quiet
// period one rescan compares file signatures (inode, size, mtime, ctime), re-reads what changed and commits the
// new state as one revision. A file that fails to parse or validate is rejected as a whole and its last good
// resources stay in force. See docs/store.md for the layout, precedence and event semantics.
import type { Dirent, FSWatcher } from 'node:fs';
import { watch } from 'node:fs';
import { mkdir, readFile, readdir, stat } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { WeftError } from '../../core/errors.ts';
import type { ResourceKey } from '../api/resource.ts';
import type { TextLoader } from './loader.ts';
import { loadInput } from './loader.ts';
import type { Candidate } from './state.ts';
import { StoreState, defaultStoreLog } from './state.ts';
import type { ConfigListener, ConfigStore, Conflict, Rejection, StoreLog, StoredResource } from './types.ts';

export interface DirectoryStoreOptions {
  /** Parse + validate function (the shared pipeline, see pipeline.ts). */
  load: TextLoader;
  /** Watch for changes (default true). `weft get` and `weft apply` read once and do not watch. */
  watch?: boolean;
  /** Create the directory if it does not exist (default false: a missing directory is an error). */
  create?: boolean;
  /** Quiet period after the last file-system event before rescanning, in ms (default 25). */
  quietMs?: number;
  /** Longest a burst of events may postpone a rescan, in ms (default 250). */
  maxDelayMs?: number;
  /** Diagnostics sink (default: standard error). */
  log?: StoreLog;
}

/** File extensions the store reads. Everything else (and every name starting with `.`) is ignored. */
const configFile = /\.(ya?ml|json)$/i;

interface FileState {
  /** inode:size:mtime:ctime (ns), to skip unchanged files on rescan. */
  sig: string;
  /** Candidates of the last version of this file that was valid ([] if it never was). */
  good: Candidate[];
  rejected: boolean;
}

export class DirectoryStore implements ConfigStore {
  /** The directory as given (used in origins and messages). */
  readonly dir: string;
  private readonly abs: string;
  private readonly opts: Required<Omit<DirectoryStoreOptions, 'log'>>;
  private readonly log: StoreLog;
  private readonly state: StoreState;
  private readonly files = new Map<string, FileState>();
  private readonly watchers = new Map<string, FSWatcher>();
  /** Absolute paths named by file-system events since the last scan: looked at, and re-read even if their signature looks unchanged. */
  private readonly hinted = new Set<string>();
  /** Set when an event named no file or a watcher failed: the next scan walks the whole tree. */
  private fullScanNeeded = true;
  private timer: NodeJS.Timeout | undefined;
  private firstEventAt = 0;
  private scanning: Promise<void> | undefined;
  private rescanRequested = false;
  private missingRetry: NodeJS.Timeout | undefined;
  private missingReported = false;
  private closed = false;

  constructor(dir: string, options: DirectoryStoreOptions) {
    this.dir = dir;
    this.abs = resolve(dir);
    this.opts = { load: options.load, watch: options.watch ?? true, create: options.create ?? false, quietMs: options.quietMs ?? 25, maxDelayMs: options.maxDelayMs ?? 250 };
    this.log = options.log ?? defaultStoreLog;
    this.state = new StoreState(this.log);
  }

  /** Creates the store, loads the directory once and starts watching. Subscribe later, or use the constructor + start(). */
  static async open(dir: string, options: DirectoryStoreOptions): Promise<DirectoryStore> {
    const s = new DirectoryStore(dir, options);
    await s.start();
    return s;
  }

  /** Loads the directory (events go to listeners already subscribed) and starts watching. */
  async start(): Promise<void> {
    try {
      const st = await stat(this.abs);
      if (!st.isDirectory()) throw new WeftError('WEFT_ERR_IO', `config path ${this.dir} is not a directory; pass --config-dir with a directory`);
    } catch (e) {
      if (e instanceof WeftError) throw e;
      if (!this.opts.create) throw new WeftError('WEFT_ERR_IO', `config directory ${this.dir} does not exist; create it or run 'weft apply -f' to populate it`, { cause: e });
      await mkdir(this.abs, { recursive: true });
    }
    await this.rescan();
  }

  /** Rescans now (coalescing with a scan in progress). Resolves when the state reflects the tree as of the call. */
  async rescan(): Promise<void> {
    this.fullScanNeeded = true;
    await this.scan();
  }

  private async scan(): Promise<void> {
    if (this.scanning) {
      this.rescanRequested = true;
      await this.scanning;
      if (this.scanning) await this.scanning;
      return;
    }
    this.scanning = this.scanLoop().finally(() => (this.scanning = undefined));
    await this.scanning;
  }

  private async scanLoop(): Promise<void> {
    do {
      this.rescanRequested = false;
      await this.scanOnce();
    } while (this.rescanRequested && !this.closed);
  }

  private async scanOnce(): Promise<void> {
    const hinted = [...this.hinted];
    this.hinted.clear();
    const full = this.fullScanNeeded || this.files.size === 0;
    this.fullScanNeeded = false;
    const found = new Map<string, string>(); // display path -> signature, for the files looked at
    const dirs: string[] = [];
    const removed = new Set<string>();
    if (full) {
      // Every file and directory: the first load, and after events that name no file.
      const rootOk = await this.walk(this.abs, found, dirs, new Set());
      if (!rootOk) {
        // Losing the whole directory is far more often a remount, a checkout or a mistake than a wish to delete
        // every resource of the mesh: keep the last state in force, as with any other unreadable input.
        if (!this.missingReported) this.log('error', `config directory ${this.dir} cannot be read; the last loaded configuration stays in force until it is back`);
        this.missingReported = true;
        this.scheduleMissingRetry();
        if (this.opts.watch) this.syncWatchers([], true);
        return;
      }
      this.missingReported = false;
      for (const file of this.files.keys()) if (!found.has(file)) removed.add(file);
    } else {
      // Only what the events named: a file (re-stat it), a new directory (walk it), or a vanished path.
      for (const abs of hinted) await this.lookAt(abs, found, dirs, removed);
      if (removed.size > 0) {
        // Did the config directory itself go? Then the full scan decides (it keeps the state in force).
        const rootGone = await stat(this.abs).then(
          () => false,
          () => true,
        );
        if (rootGone) {
          this.fullScanNeeded = true;
          this.rescanRequested = true;
          return;
        }
      }
    }
    if (this.closed) return;
    const force = new Set(hinted.map((a) => this.display(a)));

    const rejectedNow: Rejection[] = [];
    const recovered: string[] = [];
    const gone = new Set<string>();
    for (const file of removed) {
      if (found.has(file)) continue;
      gone.add(file);
      if (this.files.get(file)?.rejected) recovered.push(file);
      this.files.delete(file);
    }
    for (const [file, sig] of found) {
      const prev = this.files.get(file);
      if (prev && prev.sig === sig && !force.has(file)) continue;
      let text: string;
      try {
        text = await readFile(resolve(file), 'utf8');
      } catch (e) {
        // Vanished between listing and reading (rename-over in progress): the next event rescans.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        rejectedNow.push({ file, errors: [{ path: '', message: `cannot read: ${(e as Error).message}` }] });
        this.files.set(file, { sig, good: prev?.good ?? [], rejected: true });
        continue;
      }
      const outcome = loadInput(this.opts.load, text, file);
      if (outcome.ok) {
        if (prev?.rejected) recovered.push(file);
        this.files.set(file, { sig, good: outcome.candidates, rejected: false });
      } else {
        rejectedNow.push(outcome.rejection);
        this.files.set(file, { sig, good: prev?.good ?? [], rejected: true });
      }
    }
    if (this.closed) return;
    if (found.size > 0 || removed.size > 0 || rejectedNow.length > 0) this.state.commit(this.candidates(), rejectedNow, recovered, gone);
    if (this.opts.watch) this.syncWatchers(dirs, full);
  }

  /** Incremental scan of one path named by an event. */
  private async lookAt(abs: string, found: Map<string, string>, dirs: string[], removed: Set<string>): Promise<void> {
    const shown = this.display(abs);
    try {
      const st = await stat(abs, { bigint: true });
      if (st.isDirectory()) {
        const before = new Map<string, string>();
        await this.walk(abs, before, dirs, new Set());
        for (const [f, sig] of before) found.set(f, sig);
        // Files we knew under this directory that are no longer there (a directory renamed over another).
        for (const f of this.files.keys()) if (f.startsWith(shown + sep) && !before.has(f)) removed.add(f);
      } else if (st.isFile() && configFile.test(abs) && !basename(abs).startsWith('.')) {
        found.set(shown, `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`);
      }
    } catch {
      // Gone: a file, or a whole directory with everything under it.
      removed.add(shown);
      for (const f of this.files.keys()) if (f.startsWith(shown + sep)) removed.add(f);
      for (const [d, w] of this.watchers) {
        if (d === abs || d.startsWith(abs + sep)) {
          w.close();
          this.watchers.delete(d);
        }
      }
    }
  }

  /** All files' good candidates in precedence order: path order (code units, `/` separators), then document order. */
  private *candidates(): Iterable<Candidate> {
    const order = [...this.files.keys()].map((f) => ({ f, rel: relative(this.dir, f).split(sep).join('/') })).sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
    for (const { f } of order) yield* this.files.get(f)?.good ?? [];
  }

  /** Lists config files under `absDir` into `found`; returns false if `absDir` cannot be read. */
  private async walk(absDir: string, found: Map<string, string>, dirs: string[], seenDirs: Set<string>): Promise<boolean> {
    let entries: Dirent[];
    try {
      const st = await stat(absDir, { bigint: true });
      const id = `${st.dev}:${st.ino}`;
      if (seenDirs.has(id)) return true; // a symlink loop
      seenDirs.add(id);
      entries = await readdir(absDir, { withFileTypes: true });
    } catch {
      return false;
    }
    dirs.push(absDir);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const ent of entries) {
      if (ent.name.startsWith('.')) continue; // hidden files, editor swap files, our own temp files, ..data
      const abs = join(absDir, ent.name);
      let isDir = ent.isDirectory();
      let isFile = ent.isFile();
      if (ent.isSymbolicLink()) {
        try {
          const t = await stat(abs);
          isDir = t.isDirectory();
          isFile = t.isFile();
        } catch {
          continue; // dangling link
        }
      }
      if (isDir) {
        await this.walk(abs, found, dirs, seenDirs);
      } else if (isFile && configFile.test(ent.name)) {
        try {
          const st = await stat(abs, { bigint: true });
          found.set(this.display(abs), `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`);
        } catch {
          // removed while listing; the event that removed it schedules another scan
        }
      }
    }
    return true;
  }

  private display(abs: string): string {
    return join(this.dir, relative(this.abs, abs));
  }

  /** Watches `dirs`; after a full scan, also stops watching directories that are gone. */
  private syncWatchers(dirs: string[], full: boolean): void {
    const want = new Set(dirs);
    if (full) {
      for (const [d, w] of this.watchers) {
        if (!want.has(d)) {
          w.close();
          this.watchers.delete(d);
        }
      }
    }
    for (const d of want) {
      if (this.watchers.has(d)) continue;
      try {
        const w = watch(d, { persistent: false }, (_event, filename) => {
          if (filename === null) this.fullScanNeeded = true;
          else if (!filename.startsWith('.')) this.hinted.add(join(d, filename));
          else return; // hidden files (editor swap files, our own temp files) never matter
          this.schedule();
        });
        w.on('error', () => {
          w.close();
          this.watchers.delete(d);
          this.fullScanNeeded = true;
          this.schedule();
        });
        this.watchers.set(d, w);
      } catch {
        this.fullScanNeeded = true; // the directory vanished between the scan and now
        this.schedule();
      }
    }
  }

  /** Coalesces a burst of events: rescan after `quietMs` of silence, but no later than `maxDelayMs` after the first. */
  private schedule(): void {
    if (this.closed) return;
    const now = Date.now();
    if (this.timer === undefined) this.firstEventAt = now;
    else clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(this.opts.quietMs, this.firstEventAt + this.opts.maxDelayMs - now));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.scan().catch((e: unknown) => this.log('error', `rescan of ${this.dir} failed: ${e instanceof Error ? e.message : String(e)}`));
    }, wait);
  }

  private scheduleMissingRetry(): void {
    if (this.missingRetry !== undefined || !this.opts.watch || this.closed) return;
    this.missingRetry = setInterval(() => {
      void stat(this.abs).then(
        () => {
          clearInterval(this.missingRetry);
          this.missingRetry = undefined;
          this.log('info', `config directory ${this.dir} is back`);
          this.fullScanNeeded = true;
          this.schedule();
        },
        () => {},
      );
    }, 1000);
    this.missingRetry.unref();
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

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.missingRetry !== undefined) clearInterval(this.missingRetry);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    await this.scanning;
  }
}
