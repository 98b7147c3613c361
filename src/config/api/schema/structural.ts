// The structural validation layer: checks a resource of an Istio CRD kind exactly as the Kubernetes API server does
// with Istio's CRDs (OpenAPI v3 structural schema + CEL x-kubernetes-validations + ObjectMeta rules). The schemas
// come from crds.gen.json (generated from Istio's crd-all.gen.yaml); each is compiled once into validator closures.
import { readFileSync } from 'node:fs';
import type { Validation } from '../validation/report.ts';
import { childPath, compileNode, isPlainObject, typeMessage } from './compile.ts';
import type { Check } from './compile.ts';
import { validateObjectMeta } from './metadata.ts';
import { compilePrune } from './prune.ts';
import type { CrdData, CrdEntry, SchemaNode } from './types.ts';

export interface Gvk {
  group: string;
  version: string;
  kind: string;
}

/** A CRD kind Weft knows the schema of. */
export interface CrdKind {
  group: string;
  kind: string;
  plural: string;
  scope: 'Namespaced' | 'Cluster';
  /** Served versions, the storage version first. */
  versions: string[];
}

export interface StructureOptions {
  /** Validate `metadata` (name, namespace, labels, annotations, known fields). Default true. */
  metadata?: boolean;
}

type Compiled = (obj: unknown, out: Validation, meta: boolean) => void;

let data: CrdData | undefined;

function crdData(): CrdData {
  data ??= JSON.parse(readFileSync(new URL('./crds.gen.json', import.meta.url), 'utf8')) as CrdData;
  return data;
}

const gvkKey = (g: Gvk): string => `${g.group}/${g.version}/${g.kind}`;

/** Every CRD kind in the generated schema data, sorted by group and kind. */
export function crdKinds(): CrdKind[] {
  return crdData().crds.map((c) => ({
    group: c.group,
    kind: c.kind,
    plural: c.plural,
    scope: c.scope,
    versions: [...c.versions].sort((a, b) => Number(b.storage) - Number(a.storage)).map((v) => v.name),
  }));
}

/** The CRD entry for a group and kind, if Weft has its schema. */
function findCrd(group: string, kind: string): CrdEntry | undefined {
  return crdData().crds.find((c) => c.group === group && c.kind === kind);
}

/** The envelope fields every resource has beside what the CRD's schema declares (metadata is handled apart). */
const ENVELOPE: Record<string, SchemaNode> = { apiVersion: { type: 'string' }, kind: { type: 'string' } };

/**
 * The envelope around the CRD's schema: apiVersion and kind are strings, metadata is ObjectMeta, status is dropped
 * on create (Istio's CRDs have the status subresource) and so not validated; everything else follows the schema.
 */
function compileRoot(schema: SchemaNode, namespaced: boolean): Compiled {
  const { properties = {}, ...rest } = schema;
  const envelope: Record<string, SchemaNode> = { ...properties, ...ENVELOPE };
  delete envelope['status'];
  delete envelope['metadata'];
  const body: Check = compileNode({ ...rest, properties: envelope, required: [...(schema.required ?? []), 'apiVersion', 'kind'] });
  return (obj, out, meta) => {
    if (!isPlainObject(obj)) {
      out.errors.push({ path: '', message: typeMessage('object', obj) });
      return;
    }
    const { metadata, status: _status, ...others } = obj;
    if (meta) validateObjectMeta(metadata, 'metadata', namespaced, out.errors);
    else if (metadata !== undefined && metadata !== null && !isPlainObject(metadata)) {
      out.errors.push({ path: childPath('', 'metadata'), message: typeMessage('object', metadata) });
    }
    body(others, '', out);
  };
}

/** Compiled validators by gvk, and by schema (served versions of a kind usually share one schema). */
const cache = new Map<string, Compiled>();
const bySchema = new Map<string, Compiled>();

function compiledFor(gvk: Gvk): Compiled | string {
  const key = gvkKey(gvk);
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const crd = findCrd(gvk.group, gvk.kind);
  const apiVersion = gvk.group === '' ? gvk.version : `${gvk.group}/${gvk.version}`;
  if (crd === undefined) return `no matches for kind ${JSON.stringify(gvk.kind)} in version ${JSON.stringify(apiVersion)}`;
  const version = crd.versions.find((v) => v.name === gvk.version);
  if (version === undefined) {
    return `no matches for kind ${JSON.stringify(gvk.kind)} in version ${JSON.stringify(apiVersion)}; served versions: ${crd.versions.map((v) => v.name).join(', ')}`;
  }
  const schema = crdData().schemas[version.schema];
  if (schema === undefined) throw new Error(`crds.gen.json: ${key} points at missing schema ${version.schema}`);
  const schemaKey = `${version.schema}/${crd.scope}`;
  const compiled = bySchema.get(schemaKey) ?? compileRoot(schema, crd.scope === 'Namespaced');
  bySchema.set(schemaKey, compiled);
  cache.set(key, compiled);
  return compiled;
}

const pruners = new Map<string, (v: unknown) => unknown>();

/**
 * The object as the API server stores it: `null` removed from every field that is not nullable (YAML's `field:`
 * with no value), at any depth the schema describes. Use it to build typed resources from a document that
 * validateStructure accepted. Returns the input itself when nothing is dropped (and for unknown kinds); never
 * mutates it.
 */
export function dropNulls(obj: unknown, gvk: Gvk): unknown {
  const key = gvkKey(gvk);
  let prune = pruners.get(key);
  if (prune === undefined) {
    const version = findCrd(gvk.group, gvk.kind)?.versions.find((v) => v.name === gvk.version);
    const schema = version !== undefined ? crdData().schemas[version.schema] : undefined;
    if (schema === undefined) return obj;
    const { status: _status, ...properties } = schema.properties ?? {};
    prune = compilePrune({ ...schema, properties: { ...properties, ...ENVELOPE } });
    pruners.set(key, prune);
  }
  return prune(obj);
}

/**
 * Validate a whole resource (apiVersion, kind, metadata, spec …) of an Istio CRD kind against that kind's schema,
 * as `kubectl apply` (strict field validation) against an API server with Istio's CRDs would. Errors carry field
 * paths from the resource root (`spec.http[0].route[1].weight`, map entries as `metadata.labels[app]`).
 * Never throws on bad input; an unknown group/version/kind is reported as an error at `kind`.
 */
export function validateStructure(obj: unknown, gvk: Gvk, options: StructureOptions = {}): Validation {
  const out: Validation = { errors: [], warnings: [] };
  const compiled = compiledFor(gvk);
  if (typeof compiled === 'string') {
    out.errors.push({ path: 'kind', message: compiled });
    return out;
  }
  compiled(obj, out, options.metadata !== false);
  return out;
}
