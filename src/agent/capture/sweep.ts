// Removes workload namespaces that a crashed or killed Weft process left behind: every `weft-*` namespace whose
// owner record (/run/weft/netns/<ns>.json) names a process that is gone, or that has no record and is older than
// a grace period (its creator died between the record and the namespace, or it predates records). Also removes
// orphaned /etc/netns/weft-* directories and records. Never touches names without the weft- prefix.

import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { NAME_PREFIX, OWNER_DIR, processStartTime, removeNamespace } from './namespace.ts';
import { runTool } from './command.ts';

/** What the sweep removed. */
export interface SweepReport {
  readonly removed: readonly string[];
  readonly kept: readonly string[];
}

/**
 * Sweep stale namespaces. `graceMs` protects namespaces without a record that were created in the last moments
 * (default 60 s). Needs root; without it, or without `ip`, it removes nothing and reports nothing.
 */
export async function sweepStaleNamespaces(options: { graceMs?: number; now?: number } = {}): Promise<SweepReport> {
  const grace = options.graceMs ?? 60_000;
  const now = options.now ?? Date.now();
  const listed = await runTool('ip', ['netns', 'list']).catch(() => undefined);
  if (!listed || listed.code !== 0) return { removed: [], kept: [] };
  const names = listed.stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(NAME_PREFIX));
  const removed: string[] = [];
  const kept: string[] = [];
  for (const netns of names) {
    if (isStale(netns, grace, now)) {
      await removeNamespace(netns, hostVethOf(netns));
      removed.push(netns);
    } else {
      kept.push(netns);
    }
  }
  // Files whose namespace is gone.
  const present = new Set(names);
  for (const dir of listDir('/etc/netns')) {
    if (dir.startsWith(NAME_PREFIX) && !present.has(dir)) rmSync(`/etc/netns/${dir}`, { recursive: true, force: true });
  }
  for (const file of listDir(OWNER_DIR)) {
    const netns = file.replace(/\.json$/, '');
    if (netns.startsWith(NAME_PREFIX) && !present.has(netns) && isStale(netns, grace, now)) rmSync(`${OWNER_DIR}/${file}`, { force: true });
  }
  return { removed, kept };
}

function isStale(netns: string, graceMs: number, now: number): boolean {
  const owner = readOwner(netns);
  if (owner) return processStartTime(owner.pid) !== owner.start || owner.start === undefined;
  const created = mtime(`/run/netns/${netns}`) ?? mtime(`${OWNER_DIR}/${netns}.json`);
  return created === undefined || now - created > graceMs;
}

/** `weft-<name>-<id>` → host veth `weft-<id>`. */
function hostVethOf(netns: string): string | undefined {
  const id = netns.slice(netns.lastIndexOf('-') + 1);
  return /^[0-9a-f]{8}$/.test(id) ? `${NAME_PREFIX}${id}` : undefined;
}

function readOwner(netns: string): { pid: number; start: string | undefined } | undefined {
  try {
    const raw: unknown = JSON.parse(readFileSync(`${OWNER_DIR}/${netns}.json`, 'utf8'));
    if (typeof raw !== 'object' || raw === null) return undefined;
    const { pid, start } = raw as { pid?: unknown; start?: unknown };
    if (typeof pid !== 'number') return undefined;
    return { pid, start: typeof start === 'string' ? start : undefined };
  } catch {
    return undefined;
  }
}

function mtime(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
