// Writes resources into a store directory (what `weft apply` and `weft delete` do). Layout: one file per
// resource at <dir>/<namespace>/<kind>-<name>.yaml (cluster-scoped kinds under <dir>/_cluster/), unless the
// resource already lives in another file: then that file is updated in place (its other documents kept).
// Every write is atomic (a hidden temp file renamed over the target), so a watching store never sees half a file.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { WeftError } from '../../core/errors.ts';
import type { Resource, ResourceKey } from '../api/resource.ts';
import type { StoredResource } from './types.ts';

/** Directory holding cluster-scoped resources (`_` cannot start a namespace name, so it never clashes). */
export const CLUSTER_DIR = '_cluster';

/** Kubernetes kinds whose fields sit at the top level rather than under `spec` (the pipeline keeps them in `spec`). */
const TOP_LEVEL_BODY = new Set(['ServiceAccount', 'EndpointSlice']);

/** Where a resource not yet in the store is written. */
export function canonicalPath(dir: string, key: ResourceKey): string {
  return join(dir, key.namespace === '' ? CLUSTER_DIR : key.namespace, `${key.kind.toLowerCase()}-${key.name}.yaml`);
}

/** The document written for a resource: apiVersion, kind, metadata (name, namespace, labels, annotations), spec. */
export function toDocument(r: Resource, key: ResourceKey): Record<string, unknown> {
  const metadata: Record<string, unknown> = { name: key.name };
  if (key.namespace !== '') metadata['namespace'] = key.namespace;
  if (r.metadata.labels && Object.keys(r.metadata.labels).length > 0) metadata['labels'] = r.metadata.labels;
  if (r.metadata.annotations && Object.keys(r.metadata.annotations).length > 0) metadata['annotations'] = r.metadata.annotations;
  const doc: Record<string, unknown> = { apiVersion: r.apiVersion, kind: r.kind, metadata };
  if (TOP_LEVEL_BODY.has(r.kind) && typeof r.spec === 'object' && r.spec !== null) Object.assign(doc, r.spec);
  else doc['spec'] = r.spec ?? {};
  return doc;
}

export function toYaml(doc: unknown): string {
  return stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false, indentSeq: false });
}

async function atomicWrite(file: string, text: string): Promise<void> {
  const abs = resolve(file);
  await mkdir(dirname(abs), { recursive: true });
  const tmp = join(dirname(abs), `.${basename(abs)}.weft-${process.pid}-${randomBytes(4).toString('hex')}`);
  await writeFile(tmp, text, { mode: 0o644 });
  try {
    await rename(tmp, abs);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

/**
 * The file's YAML documents as contiguous text blocks (each with its leading `---` and comments), cut at the
 * end of each document as the yaml parser numbers them (the same numbering as origins), and whether the
 * document at `index` is the resource `key` itself (not a List holding it).
 */
async function documentsOf(file: string, index: number, key: ResourceKey): Promise<{ blocks: string[]; isTarget: boolean }> {
  const text = await readFile(resolve(file), 'utf8');
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [];
  const blocks: string[] = [];
  let at = 0;
  list.forEach((d, i) => {
    const end = i === list.length - 1 ? text.length : d.range[2];
    blocks.push(text.slice(at, end));
    at = end;
  });
  const target = list[index]?.toJS() as Record<string, unknown> | null | undefined;
  const meta = (target?.['metadata'] ?? {}) as Record<string, unknown>;
  const isTarget = target?.['kind'] === key.kind && meta['name'] === key.name;
  return { blocks, isTarget };
}

function joinDocuments(blocks: string[]): string {
  return blocks
    .map((b, i) => {
      const body = b.endsWith('\n') ? b : `${b}\n`;
      return i === 0 || /^\s*(#.*\n\s*)*---/.test(body) ? body : `---\n${body}`;
    })
    .join('');
}

const isBlank = (b: string): boolean => b.split('\n').every((l) => /^\s*(#.*|---\s*|\.\.\.\s*)?$/.test(l));

/**
 * Writes `resource` (already validated) for `key`. `existing` is the store's current copy, if any: its file is
 * updated in place. Returns the file written.
 */
export async function writeResource(dir: string, key: ResourceKey, resource: Resource, existing: StoredResource | undefined): Promise<string> {
  const yaml = toYaml(toDocument(resource, key));
  if (!existing) {
    const file = canonicalPath(dir, key);
    await atomicWrite(file, yaml);
    return file;
  }
  const file = existing.origin.file;
  const { blocks, isTarget } = await documentsOf(file, existing.origin.document, key);
  if (blocks.length <= 1 && isTarget) {
    await atomicWrite(file, /\.json$/i.test(file) ? `${JSON.stringify(toDocument(resource, key), null, 2)}\n` : yaml);
    return file;
  }
  if (!isTarget) {
    throw new WeftError('WEFT_ERR_CONFIG_CONFLICT', `${key.kind} ${key.namespace}/${key.name} is defined inside a List in ${file}; edit that file directly, or move the resource to its own file`);
  }
  // Keep the comments (and the `---`) that lead the document: they usually describe it.
  const old = blocks[existing.origin.document] ?? '';
  const lead = /^(?:[ \t]*(?:#[^\n]*|---[^\n]*)?\n)*/.exec(old)?.[0] ?? '';
  blocks[existing.origin.document] = `${lead}${yaml}`;
  await atomicWrite(file, joinDocuments(blocks));
  return file;
}

/** Removes a stored resource from its file (the file is deleted when nothing else is left in it). */
export async function removeResource(existing: StoredResource): Promise<string> {
  const file = existing.origin.file;
  const { blocks, isTarget } = await documentsOf(file, existing.origin.document, existing.key);
  if (!isTarget) {
    throw new WeftError('WEFT_ERR_CONFIG_CONFLICT', `${existing.key.kind} ${existing.key.namespace}/${existing.key.name} is defined inside a List in ${file}; edit that file directly`);
  }
  const rest = blocks.filter((_b, i) => i !== existing.origin.document);
  if (rest.every(isBlank)) await unlink(resolve(file));
  else await atomicWrite(file, joinDocuments(rest));
  return file;
}
