// What `weft apply`, `weft get` and `weft delete` share: flag parsing, opening the directory store, and
// kubectl-style names (`virtualservice.networking.istio.io/reviews`).
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { UsageError } from '../../core/errors.ts';
import type { KindInfo } from '../../config/api/kinds.ts';
import type { LoadedResource } from '../../config/api/load.ts';
import { findKind, resolveKindName } from '../../config/api/kinds.ts';
import { parseApiVersion } from '../../config/api/resource.ts';
import { DirectoryStore } from '../../config/store/directory.ts';
import { pipelineLoader } from '../../config/store/pipeline.ts';
import type { CliIo } from '../io.ts';

/** Default store directory, relative to the working directory (DESIGN: `weft up` reads the same). */
export const DEFAULT_CONFIG_DIR = 'mesh';

export interface FlagSpec {
  /** Flags that take a value, with their aliases (`-n` → `namespace`). */
  values: Record<string, string>;
  /** Boolean flags, with their aliases. */
  bools: Record<string, string>;
}

export interface ParsedArgs {
  values: Record<string, string[]>;
  bools: Set<string>;
  positional: string[];
}

/** Parses `--flag value`, `--flag=value`, `-f value` and booleans; `-` alone is positional (stdin). */
export function parseFlags(args: string[], spec: FlagSpec, verb: string): ParsedArgs {
  const out: ParsedArgs = { values: {}, bools: new Set(), positional: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '-' || !a.startsWith('-')) {
      out.positional.push(a);
      continue;
    }
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const inline = eq > 0 ? a.slice(eq + 1) : undefined;
    const vname = spec.values[flag];
    if (vname !== undefined) {
      const v = inline ?? args[++i];
      if (v === undefined) throw new UsageError(`flag ${flag} needs a value`);
      (out.values[vname] ??= []).push(v);
      continue;
    }
    const bname = spec.bools[flag];
    if (bname !== undefined && inline === undefined) {
      out.bools.add(bname);
      continue;
    }
    throw new UsageError(`unknown flag ${a}; run 'weft ${verb} --help'`);
  }
  return out;
}

export function lastValue(p: ParsedArgs, name: string): string | undefined {
  const v = p.values[name];
  return v === undefined ? undefined : v[v.length - 1];
}

export function configDir(p: ParsedArgs, io: CliIo): { shown: string; abs: string } {
  const shown = lastValue(p, 'config-dir') ?? DEFAULT_CONFIG_DIR;
  return { shown, abs: resolve(io.cwd, shown) };
}

/** Opens the store once, without watching. `create` for apply; otherwise a missing directory reads as empty. */
export async function openStore(abs: string, io: CliIo, verb: string, create: boolean): Promise<DirectoryStore | undefined> {
  const log = (level: string, message: string): void => {
    if (level !== 'info') io.err(`weft ${verb}: warning: ${message}\n`);
  };
  try {
    return await DirectoryStore.open(abs, { load: pipelineLoader(), watch: false, create, log });
  } catch (e) {
    if (!create && e instanceof Error && /does not exist/.test(e.message)) {
      // Reads as empty (kubectl's answer for an empty namespace), but a mistyped or forgotten --config-dir is the
      // likely cause, so say which directory was looked at.
      io.err(`weft ${verb}: note: the config directory ${abs} does not exist; pass --config-dir DIR (the directory 'weft up' watches)\n`);
      return undefined;
    }
    throw e;
  }
}

/** `virtualservices.networking.istio.io` (plural.group), or `services` for the core group. */
export function resourceName(info: KindInfo): string {
  return info.group === '' ? info.plural : `${info.plural}.${info.group}`;
}

/** `virtualservice.networking.istio.io/reviews`, as kubectl prints the result of apply. */
export function objectRef(kind: string, apiVersion: string, name: string): string {
  const group = parseApiVersion(apiVersion).group;
  return `${kind.toLowerCase()}${group === '' ? '' : `.${group}`}/${name}`;
}

export function kindInfoFor(kind: string, apiVersion: string): KindInfo | undefined {
  return findKind(parseApiVersion(apiVersion).group, kind);
}

export function resolveKind(name: string): KindInfo {
  const info = resolveKindName(name);
  if (!info) throw new UsageError(`the server doesn't have a resource type "${name}"; try a kind (VirtualService), its plural (virtualservices) or short name (vs)`);
  return info;
}

/** kubectl's NotFound line. */
export function notFound(info: KindInfo, name: string): string {
  return `Error from server (NotFound): ${resourceName(info)} "${name}" not found\n`;
}

/**
 * kubectl and istioctl put resources that name no namespace into the `-n` namespace. The pipeline defaults them
 * to `default`, so look at the documents again to find the ones that did not name one, and move those.
 */
export async function withDefaultNamespace(results: LoadedResource[], namespace: string, stdin: string | undefined, io: CliIo): Promise<LoadedResource[]> {
  const implicit = new Map<string, Set<number>>();
  for (const file of new Set(results.map((r) => r.origin.file))) {
    const text = file === '-' ? (stdin ?? '') : await readFile(resolve(io.cwd, file), 'utf8').catch(() => '');
    const docs = parseAllDocuments(text);
    const set = new Set<number>();
    (Array.isArray(docs) ? docs : []).forEach((d, i) => {
      const v = d.errors.length > 0 ? undefined : (d.toJS() as unknown);
      const meta = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)['metadata'] : undefined;
      const items = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)['items'] : undefined;
      if (Array.isArray(items)) return; // a List: its items keep what the pipeline decided
      if (typeof meta !== 'object' || meta === null || (meta as Record<string, unknown>)['namespace'] === undefined) set.add(i);
    });
    implicit.set(file, set);
  }
  return results.map((r) => {
    if (r.key.namespace !== 'default' || !implicit.get(r.origin.file)?.has(r.origin.document)) return r;
    return { ...r, key: { ...r.key, namespace }, resource: { ...r.resource, metadata: { ...r.resource.metadata, namespace } } };
  });
}
