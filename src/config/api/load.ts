// The config loader: YAML (multi-document) and JSON text → validated resources, each with its origin
// (file, document index, line). `List` documents yield one result per item. Files and directories are read
// here and nowhere else in the config API; the CLI hands standard input in as text.
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Document, LineCounter, type Node, isMap, isSeq, parseAllDocuments } from 'yaml';
import type { Origin } from './resource.ts';
import { type LoadedResource, validateResource } from './validate.ts';
import { type ValidationContext, defaultValidationContext } from './validation/report.ts';
import { yamlErrorMessage } from './yaml-error.ts';

export type { LoadedResource, Support } from './validate.ts';

/** File name suffixes read when a directory is given (an explicitly named file is read whatever its suffix). */
export const CONFIG_SUFFIXES: readonly string[] = ['.yaml', '.yml', '.json'];

/** Aliases a document may expand, as a guard against "billion laughs" documents. */
const MAX_ALIAS_COUNT = 100;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Parse and validate every resource in `text` (YAML, multi-document, or JSON). Empty documents are skipped.
 * A document that cannot be parsed becomes one result with `valid: false` and a message with line and column.
 */
export function loadText(text: string, file: string, ctx: ValidationContext = defaultValidationContext): LoadedResource[] {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (!Array.isArray(docs)) return []; // an empty stream
  const out: LoadedResource[] = [];
  docs.forEach((doc, document) => {
    const line = lineOf(doc.contents ?? undefined, lineCounter) ?? lineCounter.linePos(doc.range[0]).line;
    const origin: Origin = { file, document, line };
    if (doc.errors.length > 0) {
      out.push(unparsed(origin, doc.errors.map(yamlErrorMessage)));
      return;
    }
    if (doc.contents === null) return;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      out.push(unparsed(origin, [`YAML error at line ${line}: ${e instanceof Error ? e.message : String(e)}`]));
      return;
    }
    if (value === null || value === undefined) return;
    if (isList(value)) {
      out.push(...listItems(value, doc, origin, lineCounter, ctx));
      return;
    }
    out.push(validateResource(value, origin, ctx));
  });
  return out;
}

/** `kind: List` (or a typed `VirtualServiceList` …) with an `items` array. */
function isList(v: unknown): v is Record<string, unknown> & { items: unknown[] } {
  if (!isRecord(v) || typeof v['kind'] !== 'string' || !Array.isArray(v['items'])) return false;
  return v['kind'] === 'List' || v['kind'].endsWith('List');
}

function listItems(list: { kind?: unknown; apiVersion?: unknown; items: unknown[] }, doc: Document, origin: Origin, lc: LineCounter, ctx: ValidationContext): LoadedResource[] {
  // Items of a typed list (`VirtualServiceList`) may omit their kind and apiVersion: they are the list's.
  const listKind = String(list.kind);
  const itemKind = listKind === 'List' ? undefined : listKind.slice(0, -'List'.length);
  const seq = isMap(doc.contents) ? doc.contents.get('items', true) : undefined;
  return list.items.map((item, i) => {
    const node = isSeq(seq) ? seq.items[i] : undefined;
    const itemOrigin: Origin = { file: origin.file, document: origin.document, line: lineOf(node as Node | undefined, lc) ?? origin.line };
    if (itemKind !== undefined && isRecord(item)) {
      const filled: Record<string, unknown> = { ...item };
      if (filled['kind'] === undefined) filled['kind'] = itemKind;
      if (filled['apiVersion'] === undefined) filled['apiVersion'] = list.apiVersion;
      return validateResource(filled, itemOrigin, ctx);
    }
    return validateResource(item, itemOrigin, ctx);
  });
}

function lineOf(node: Node | undefined, lc: LineCounter): number | undefined {
  const start = node?.range?.[0];
  return start === undefined ? undefined : lc.linePos(start).line;
}

/** The first line of a yaml error message, which already names the line and column. */
function unparsed(origin: Origin, messages: string[]): LoadedResource {
  return {
    origin,
    key: { kind: '', namespace: '', name: '' },
    apiVersion: '',
    resource: { apiVersion: '', kind: '', metadata: { name: '' }, spec: {} },
    valid: false,
    errors: messages.map((message) => ({ path: '', message })),
    warnings: [],
    support: 'unparsed',
  };
}

export interface LoadPathsOptions {
  /** Content of standard input, used for the path `-`. */
  stdin?: string;
  /** Directory relative paths resolve against (default: the process's). Origins keep the path as given. */
  cwd?: string;
}

export interface IoError {
  file: string;
  message: string;
}

/**
 * Load files and directories. Directories are walked recursively in sorted order, reading *.yaml, *.yml and *.json
 * and skipping hidden entries (names starting with '.');
 * `-` is standard input (`opts.stdin`). Unreadable paths become `ioErrors`; everything readable is still loaded.
 */
export async function loadPaths(
  paths: string[],
  ctx: ValidationContext = defaultValidationContext,
  opts: LoadPathsOptions = {},
): Promise<{ results: LoadedResource[]; ioErrors: IoError[]; files: string[] }> {
  const results: LoadedResource[] = [];
  const ioErrors: IoError[] = [];
  const files: string[] = [];
  const cwd = opts.cwd ?? process.cwd();
  for (const p of paths) {
    if (p === '-') {
      if (opts.stdin === undefined) {
        ioErrors.push({ file: '-', message: 'standard input was not provided' });
        continue;
      }
      files.push('-');
      results.push(...loadText(opts.stdin, '-', ctx));
      continue;
    }
    const found = await collect(p, resolve(cwd, p), ioErrors, new Set(), true);
    for (const f of found) {
      try {
        const text = await readFile(resolve(cwd, f), 'utf8');
        files.push(f);
        results.push(...loadText(text, f, ctx));
      } catch (e) {
        ioErrors.push({ file: f, message: ioMessage(e) });
      }
    }
  }
  return { results, ioErrors, files };
}

/** The files under `shown` (the path as the user wrote it), depth first, sorted by name within each directory. */
async function collect(shown: string, abs: string, ioErrors: IoError[], seen: Set<string>, explicit: boolean): Promise<string[]> {
  let st;
  try {
    st = await stat(abs);
  } catch (e) {
    ioErrors.push({ file: shown, message: ioMessage(e) });
    return [];
  }
  if (!st.isDirectory()) {
    if (explicit) return [shown];
    return st.isFile() && CONFIG_SUFFIXES.some((s) => shown.endsWith(s)) ? [shown] : [];
  }
  // Symbolic links may form cycles: visit each real directory once.
  const real = await realpath(abs);
  if (seen.has(real)) return [];
  seen.add(real);
  let names: string[];
  try {
    names = (await readdir(abs)).sort();
  } catch (e) {
    ioErrors.push({ file: shown, message: ioMessage(e) });
    return [];
  }
  const out: string[] = [];
  // Hidden entries (.git, .github …) are not config: a repository's CI workflows are YAML too.
  for (const name of names) if (!name.startsWith('.')) out.push(...(await collect(join(shown, name), join(abs, name), ioErrors, seen, false)));
  return out;
}

function ioMessage(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return e instanceof Error ? e.message : String(e);
  }
}
