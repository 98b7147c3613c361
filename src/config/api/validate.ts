// The validation pipeline: one raw document in, one LoadedResource out. The layers run in the order the Kubernetes
// API server runs them for Istio: the envelope (apiVersion, kind, metadata), the structural layer (the CRD's
// OpenAPI schema and CEL rules, or Weft's Kubernetes checks), then the semantic layer (Istio's validating webhook),
// which only runs when the structure is sound. The CLI, the stores, the webhook and the tests all call this.
import type { FieldError } from '../../core/result.ts';
import { classifyKind, apiVersionOf, type KindInfo } from './kinds.ts';
import type { ObjectMeta, Origin, Resource, ResourceKey } from './resource.ts';
import { parseApiVersion } from './resource.ts';
import { validateStructure } from './schema/structural.ts';
import { validateLabelKey, validateLabelValue } from './validation/common/labels.ts';
import { type Validation, type ValidationContext, defaultValidationContext, emptyValidation, Reporter } from './validation/report.ts';

/** A reporter for a map entry, printed the Kubernetes way: `metadata.labels[app]`. */
const atKey = (r: Reporter, key: string): Reporter => new Reporter(`${r.path}[${key}]`, r.out);

/**
 * What Weft did with a resource: `mesh` — a kind Weft acts on; `ignored` — an Istio kind Weft validates but does not
 * act on (accepted with a warning); `skipped` — a kind from another API group, not validated (accepted with a warning);
 * `unparsed` — the document could not be parsed or has no usable envelope.
 */
export type Support = 'mesh' | 'ignored' | 'skipped' | 'unparsed';

export interface LoadedResource {
  origin: Origin;
  /** Kind/namespace/name; namespace '' for cluster-scoped kinds and unparseable documents. */
  key: ResourceKey;
  /** As written in the document (`networking.istio.io/v1beta1`), '' when absent. */
  apiVersion: string;
  /** The resource with metadata typed and `metadata.namespace` defaulted to `default` for namespaced kinds. */
  resource: Resource;
  /** False when any error was found: Istio would reject it. */
  valid: boolean;
  errors: FieldError[];
  warnings: FieldError[];
  support: Support;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DRY_RUN = 'istio.io/dry-run';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Validate one raw document (already parsed from YAML/JSON) that came from `origin`. Never throws on bad input. */
export function validateResource(raw: unknown, origin: Origin, ctx: ValidationContext = defaultValidationContext): LoadedResource {
  const v = emptyValidation();
  const r = new Reporter('', v);
  if (!isRecord(raw)) {
    r.error(`the document is ${describe(raw)}, not an object; a resource needs apiVersion, kind, metadata and spec`);
    return done(origin, { kind: '', namespace: '', name: '' }, '', emptyResource('', ''), v, 'unparsed');
  }
  const apiVersion = str(raw['apiVersion']);
  const kind = str(raw['kind']);
  if (apiVersion === '') r.at('apiVersion').error(`required: set apiVersion, e.g. "networking.istio.io/v1"${typeof raw['apiVersion'] === 'string' || raw['apiVersion'] === undefined ? '' : ' (it must be a string)'}`);
  if (kind === '') r.at('kind').error(`required: set kind, e.g. "VirtualService"${typeof raw['kind'] === 'string' || raw['kind'] === undefined ? '' : ' (it must be a string)'}`);
  const { group, version } = parseApiVersion(apiVersion);
  const cls = apiVersion === '' || kind === '' ? undefined : classifyKind({ group, version, kind });
  const info = cls?.type === 'known' || cls?.type === 'wrong-version' ? cls.info : undefined;
  const clusterScoped = info?.scope === 'Cluster';
  const foreign = cls?.type === 'foreign';
  // A foreign kind's scope is unknown: its key shows the namespace only when the document sets one.
  const metadata = checkMetadata(raw['metadata'], r.at('metadata'), !clusterScoped && !foreign, foreign);
  const key: ResourceKey = { kind, namespace: clusterScoped ? '' : (metadata.namespace ?? ''), name: metadata.name };
  const resource = buildResource(raw, apiVersion, kind, metadata, info);

  if (cls === undefined) return done(origin, key, apiVersion, resource, v, 'unparsed');
  switch (cls.type) {
    case 'foreign':
      r.warn(`${kind} (${apiVersion}) is not a kind Weft acts on; skipped without validation`);
      return done(origin, key, apiVersion, resource, v, 'skipped');
    case 'unknown-istio-kind':
      r.at('kind').error(
        `${group} has no kind ${JSON.stringify(kind)}; known kinds in this group: ${cls.known.map((k) => k.kind).join(', ')}`,
      );
      return done(origin, key, apiVersion, resource, v, 'unparsed');
    case 'wrong-version':
      r.at('apiVersion').error(
        `${kind} is not served at ${apiVersion}; use one of ${cls.info.versions.map((ver) => apiVersionOf(cls.info.group, ver)).join(', ')}`,
      );
      return done(origin, key, apiVersion, resource, v, cls.info.support);
    case 'known':
      break;
  }
  const kindInfo = cls.info;
  if (v.errors.length > 0) return done(origin, key, apiVersion, resource, v, kindInfo.support);

  // Structural layer: the whole object against the CRD schema (or Weft's Kubernetes checks).
  const structural = structure(raw, kindInfo, { group, version, kind });
  v.errors.push(...structural.errors);
  v.warnings.push(...structural.warnings);
  if (v.errors.length > 0) return done(origin, key, apiVersion, resource, v, kindInfo.support);

  // Semantic layer: Istio's webhook rules, given the typed resource with its namespace defaulted.
  checkAnnotations(resource, r.at('metadata').at('annotations'));
  if (kindInfo.semantic && v.errors.length === 0) {
    try {
      const sem = kindInfo.semantic(resource, ctx);
      v.errors.push(...sem.errors);
      v.warnings.push(...sem.warnings);
    } catch (e) {
      // A validator bug must not take down the store or the CLI: the resource is refused, and the message says why.
      r.at('spec').error(`internal error while validating ${kind} (a Weft bug; please report it with 'weft bug-report'): ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (kindInfo.support === 'ignored') {
    r.warn(`Weft does not act on ${kind}: it was validated against Istio's schema and is accepted, but has no effect`);
  }
  return done(origin, key, apiVersion, resource, v, kindInfo.support);
}

function structure(raw: Record<string, unknown>, info: KindInfo, gvk: { group: string; version: string; kind: string }): Validation {
  switch (info.structure.type) {
    case 'crd':
      return validateStructure(raw, gvk);
    case 'kube':
      return info.structure.check(raw, info.kind);
  }
}

function done(origin: Origin, key: ResourceKey, apiVersion: string, resource: Resource, v: Validation, support: Support): LoadedResource {
  return { origin, key, apiVersion, resource, valid: v.errors.length === 0, errors: v.errors, warnings: v.warnings, support };
}

function emptyResource(apiVersion: string, kind: string): Resource {
  return { apiVersion, kind, metadata: { name: '' }, spec: {} };
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return `a ${typeof v}`;
}

/**
 * The typed resource. Istio kinds keep their `spec` (an absent spec is `{}`, as the API server stores it);
 * Kubernetes kinds keep `spec` when they have one, and kinds without one (EndpointSlice, ServiceAccount) carry
 * their top-level fields other than apiVersion/kind/metadata/status in `spec`. `status` is kept untouched
 * (the registry reads Pod IPs from it) and never validated.
 */
function buildResource(raw: Record<string, unknown>, apiVersion: string, kind: string, metadata: ObjectMeta, info: KindInfo | undefined): Resource {
  let spec: unknown = raw['spec'];
  if (info && info.structure.type === 'kube' && !('spec' in raw)) {
    const body: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(raw)) if (!['apiVersion', 'kind', 'metadata', 'status'].includes(k)) body[k] = val;
    spec = body;
  }
  const res: Resource = { apiVersion, kind, metadata, spec: spec ?? {} };
  if (raw['status'] !== undefined) res.status = raw['status'];
  return res;
}

/** Check `metadata` and return it typed. `lenient` (foreign kinds) reports nothing: Weft does not judge those. */
function checkMetadata(raw: unknown, r: Reporter, defaultNamespace: boolean, lenient: boolean): ObjectMeta {
  const rep = lenient ? new Reporter(r.path) : r;
  if (raw === undefined || raw === null) {
    rep.error('required: set metadata.name (and metadata.namespace, or it defaults to "default")');
    return defaultNamespace ? { name: '', namespace: 'default' } : { name: '' };
  }
  if (!isRecord(raw)) {
    rep.error(`must be an object with name and namespace, found ${describe(raw)}`);
    return { name: '' };
  }
  const name = str(raw['name']);
  if (name === '') {
    rep.at('name').error(
      raw['generateName'] !== undefined ? 'required: generateName is not supported here; set metadata.name' : 'required: set metadata.name',
    );
  } else if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    rep.at('name').error(
      `${JSON.stringify(name)} is not a valid name: use at most 253 lower-case letters, digits, '-' and '.', starting and ending with a letter or digit`,
    );
  }
  const meta: ObjectMeta = { name };
  const ns = raw['namespace'];
  if (ns !== undefined && ns !== null && ns !== '') {
    if (typeof ns !== 'string' || ns.length > 63 || !DNS1123_LABEL.test(ns)) {
      rep.at('namespace').error(`${JSON.stringify(ns)} is not a valid namespace: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit`);
    } else {
      meta.namespace = ns;
    }
  }
  if (defaultNamespace && meta.namespace === undefined) meta.namespace = 'default';
  const labels = stringMap(raw['labels'], rep.at('labels'), true);
  if (labels) meta.labels = labels;
  const annotations = stringMap(raw['annotations'], rep.at('annotations'), false);
  if (annotations) meta.annotations = annotations;
  if (typeof raw['resourceVersion'] === 'string') meta.resourceVersion = raw['resourceVersion'];
  if (typeof raw['generation'] === 'number') meta.generation = raw['generation'];
  if (typeof raw['creationTimestamp'] === 'string') meta.creationTimestamp = raw['creationTimestamp'];
  if (typeof raw['uid'] === 'string') meta.uid = raw['uid'];
  return meta;
}

/** A string→string map (labels, annotations). Labels are also checked against Kubernetes' key and value syntax. */
function stringMap(raw: unknown, r: Reporter, labels: boolean): Record<string, string> | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isRecord(raw)) {
    r.error(`must be a map of string keys to string values, found ${describe(raw)}`);
    return undefined;
  }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(raw)) {
    const at = atKey(r, k);
    if (typeof val !== 'string') {
      at.error(`value must be a string, found ${describe(val)} ${JSON.stringify(val)}; quote it, e.g. "${String(val)}"`);
      continue;
    }
    if (labels) {
      const why = validateLabelKey(k) ?? validateLabelValue(val);
      if (why) at.error(why);
    }
    out[k] = val;
  }
  return out;
}

/** Annotations only Istio itself may set: the webhook rejects them on user config. */
const INTERNAL_ANNOTATIONS: readonly string[] = ['internal.istio.io/webhook-always-reject', 'internal.istio.io/parents', 'internal.istio.io/parent-namespace'];

/**
 * Istio's metadata rules: internal annotations are refused; the dry-run annotation is only for ALLOW and DENY
 * AuthorizationPolicies, with a boolean value.
 */
function checkAnnotations(res: Resource, r: Reporter): void {
  for (const a of INTERNAL_ANNOTATIONS) {
    if (res.metadata.annotations?.[a] !== undefined && res.apiVersion.includes('.istio.io/')) {
      atKey(r, a).error(`the ${a} annotation is reserved for Istio's own use and may not be set: remove it`);
    }
  }
  const value = res.metadata.annotations?.[DRY_RUN];
  if (value === undefined) return;
  const at = atKey(r, DRY_RUN);
  if (res.kind !== 'AuthorizationPolicy' || !res.apiVersion.startsWith('security.istio.io/')) {
    at.error(`${res.kind} does not support the ${DRY_RUN} annotation (only AuthorizationPolicy does); remove it`);
    return;
  }
  const spec = isRecord(res.spec) ? res.spec : {};
  const action = typeof spec['action'] === 'string' ? spec['action'] : 'ALLOW';
  if (action !== 'ALLOW' && action !== 'DENY') {
    at.error(`${DRY_RUN} only supports action ALLOW or DENY, found action ${action}; remove the annotation or change the action`);
  } else if (!['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) {
    at.error(`${DRY_RUN} must be "true" or "false", found ${JSON.stringify(value)}`);
  }
}
