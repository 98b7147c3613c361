// ObjectMeta as the API server validates it for a custom resource: the known fields and their types (strict field
// validation rejects others), name as a DNS-1123 subdomain, namespace as a DNS-1123 label, label and annotation
// keys as qualified names, label values by Kubernetes' rules, and the annotation size limit.
import type { FieldError } from '../../../core/result.ts';
import { childPath, isPlainObject, mapKeyPath, show, typeMessage, unknownFieldMessage } from './compile.ts';

const DNS1123_LABEL = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(?:(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** Total size of all annotation keys and values. */
const ANNOTATIONS_MAX_BYTES = 256 * 1024;

type Kind = 'string' | 'integer' | 'stringMap' | 'array' | 'timestamp';

/** ObjectMeta's fields. Go's decoder accepts null for any of them (it leaves the zero value). */
const FIELDS: ReadonlyMap<string, Kind> = new Map<string, Kind>([
  ['name', 'string'],
  ['generateName', 'string'],
  ['namespace', 'string'],
  ['selfLink', 'string'],
  ['uid', 'string'],
  ['resourceVersion', 'string'],
  ['generation', 'integer'],
  ['creationTimestamp', 'timestamp'],
  ['deletionTimestamp', 'timestamp'],
  ['deletionGracePeriodSeconds', 'integer'],
  ['labels', 'stringMap'],
  ['annotations', 'stringMap'],
  ['ownerReferences', 'array'],
  ['finalizers', 'array'],
  ['managedFields', 'array'],
]);

const typeOk = (kind: Kind, v: unknown): boolean => {
  switch (kind) {
    case 'string':
    case 'timestamp':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'stringMap':
      return isPlainObject(v);
    case 'array':
      return Array.isArray(v);
  }
};

const SUBDOMAIN_HINT = "lower-case letters, digits, '-' and '.', starting and ending with a letter or digit";
const LABEL_HINT = "lower-case letters, digits and '-', starting and ending with a letter or digit";
const QUALIFIED_HINT = "letters, digits, '-', '_' and '.', starting and ending with a letter or digit";

/** Why `s` is not a DNS-1123 subdomain (≤ 253 characters), or undefined. */
export function dns1123SubdomainError(s: string): string | undefined {
  if (s.length > 253) return `must be no more than 253 characters`;
  if (!DNS1123_SUBDOMAIN.test(s)) return `must be a lowercase RFC 1123 subdomain: ${SUBDOMAIN_HINT} (e.g. "reviews-v1")`;
  return undefined;
}

/** Why `s` is not a DNS-1123 label (≤ 63 characters), or undefined. */
export function dns1123LabelError(s: string): string | undefined {
  if (s.length > 63) return `must be no more than 63 characters`;
  if (!DNS1123_LABEL.test(s)) return `must be a lowercase RFC 1123 label: ${LABEL_HINT} (e.g. "bookinfo")`;
  return undefined;
}

/** Why `key` is not a qualified name (`[prefix/]name`, prefix a DNS subdomain, name ≤ 63), or undefined. */
export function qualifiedNameError(key: string): string | undefined {
  const slash = key.indexOf('/');
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    if (prefix === '') return 'prefix part must be non-empty';
    const bad = dns1123SubdomainError(prefix);
    if (bad !== undefined) return `prefix part ${bad}`;
  }
  if (name === '') return 'name part must be non-empty';
  if (name.length > 63) return 'name part must be no more than 63 characters';
  if (!QUALIFIED_NAME.test(name)) return `name part must consist of ${QUALIFIED_HINT} (e.g. "app.kubernetes.io/name")`;
  return undefined;
}

/** Why `value` is not a label value (empty, or ≤ 63 qualified-name characters), or undefined. */
export function labelValueError(value: string): string | undefined {
  if (value.length > 63) return 'must be no more than 63 characters';
  if (!LABEL_VALUE.test(value)) return `must be empty or consist of ${QUALIFIED_HINT}`;
  return undefined;
}

function checkStringMap(m: Record<string, unknown>, path: string, labels: boolean, out: FieldError[]): void {
  let bytes = 0;
  for (const [k, v] of Object.entries(m)) {
    const at = mapKeyPath(path, k);
    const keyBad = qualifiedNameError(k);
    if (keyBad !== undefined) out.push({ path, message: `Invalid value: ${show(k)}: ${keyBad}` });
    if (typeof v !== 'string') {
      if (v !== null) out.push({ path: at, message: typeMessage('string', v) });
      continue;
    }
    bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
    if (labels) {
      const bad = labelValueError(v);
      if (bad !== undefined) out.push({ path: at, message: `Invalid value: ${show(v)}: ${bad}` });
    }
  }
  if (!labels && bytes > ANNOTATIONS_MAX_BYTES) out.push({ path, message: `Too long: must have at most ${ANNOTATIONS_MAX_BYTES} bytes` });
}

/** Validate `metadata` of a custom resource whose kind has the given scope. Never throws. */
export function validateObjectMeta(meta: unknown, path: string, namespaced: boolean, out: FieldError[]): void {
  if (meta === undefined || meta === null) {
    out.push({ path: childPath(path, 'name'), message: 'Required value: name or generateName is required' });
    return;
  }
  if (!isPlainObject(meta)) {
    out.push({ path, message: typeMessage('object', meta) });
    return;
  }
  for (const [k, v] of Object.entries(meta)) {
    if (v === undefined) continue;
    const kind = FIELDS.get(k);
    const at = childPath(path, k);
    if (kind === undefined) out.push({ path: at, message: unknownFieldMessage(k, [...FIELDS.keys()]) });
    else if (v !== null && !typeOk(kind, v)) {
      out.push({ path: at, message: typeMessage(kind === 'stringMap' ? 'object' : kind === 'timestamp' ? 'string' : kind, v) });
    }
  }
  const name = typeof meta['name'] === 'string' ? meta['name'] : '';
  if (name === '') {
    // A file or a webhook has no server to generate a name from generateName, so a name is required.
    out.push({ path: childPath(path, 'name'), message: 'Required value: name or generateName is required' });
  } else {
    const bad = dns1123SubdomainError(name);
    if (bad !== undefined) out.push({ path: childPath(path, 'name'), message: `Invalid value: ${show(name)}: ${bad}` });
  }
  const ns = meta['namespace'];
  if (typeof ns === 'string' && ns !== '') {
    if (!namespaced) out.push({ path: childPath(path, 'namespace'), message: 'Forbidden: not allowed on this type (cluster-scoped)' });
    else {
      const bad = dns1123LabelError(ns);
      if (bad !== undefined) out.push({ path: childPath(path, 'namespace'), message: `Invalid value: ${show(ns)}: ${bad}` });
    }
  }
  if (isPlainObject(meta['labels'])) checkStringMap(meta['labels'], childPath(path, 'labels'), true, out);
  if (isPlainObject(meta['annotations'])) checkStringMap(meta['annotations'], childPath(path, 'annotations'), false, out);
  const finalizers = meta['finalizers'];
  if (Array.isArray(finalizers)) {
    finalizers.forEach((f, i) => {
      if (typeof f !== 'string') out.push({ path: `${childPath(path, 'finalizers')}[${i}]`, message: typeMessage('string', f) });
    });
  }
  const gen = meta['generation'];
  if (typeof gen === 'number' && gen < 0) out.push({ path: childPath(path, 'generation'), message: `Invalid value: ${gen}: must be greater than or equal to 0` });
}
