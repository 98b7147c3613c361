// Compiles one CRD schema node into a tree of validator closures, once, so that validating an object never
// interprets the raw schema. Semantics follow the Kubernetes API server's structural-schema validation
// (kube-openapi + apiextensions): type, nullable, unknown fields (strict field validation), required, enum,
// pattern (RE2), bounds, lengths, list types, oneOf/anyOf/allOf/not; CEL rules come from cel/rules.ts.
import { RE2JS } from 're2js';
import type { FieldError } from '../../../core/result.ts';
import type { Validation } from '../validation/report.ts';
import { celErrors, compileRules } from './cel/rules.ts';
import type { SchemaNode } from './types.ts';

/** Validates `value` found at `path` and appends what is wrong to `out`. Never throws on bad input. */
export type Check = (value: unknown, path: string, out: Validation) => void;

/**
 * `full`: a node of the structural schema (unknown fields are rejected, CEL rules run).
 * `value`: a branch of oneOf/anyOf/allOf/not, which Kubernetes only lets carry value validations.
 */
type Mode = 'full' | 'value';

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The JSON type name of a value, as the API server prints it in type errors. */
export function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : Number.isFinite(v) ? 'number' : String(v);
  if (typeof v === 'bigint') return 'integer';
  return typeof v;
}

/**
 * A type error: the API server's words (`must be of type array: "string"`), which kubectl users know, then what to
 * write instead, since those words alone do not say it. `durationField`: the field holds a Go duration ("5s").
 */
export function typeMessage(expected: string, v: unknown, durationField = false): string {
  return `must be of type ${expected}: ${JSON.stringify(jsonType(v))}${typeHint(expected, v, durationField)}`;
}

function typeHint(expected: string, v: unknown, durationField: boolean): string {
  const hint = (text: string): string => ` (${text})`;
  if (v === null) return hint('the value is empty: give it one, or remove the field');
  const numeric = typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v.trim());
  switch (expected) {
    case 'array':
      return hint('write a list: one "- item" line per entry, or [a, b]');
    case 'object':
      return hint(Array.isArray(v) ? 'write fields (key: value), not a list' : 'write fields (key: value) under it, not a single value');
    case 'integer':
      if (numeric && Number.isInteger(Number(v))) return hint(`write the number without quotes: ${String(v).trim()}`);
      return hint(typeof v === 'number' ? 'use a whole number' : 'write a whole number');
    case 'number':
      return hint(numeric ? `write the number without quotes: ${String(v).trim()}` : 'write a number');
    case 'boolean':
      return hint(v === 'true' || v === 'false' ? `write ${v} without quotes` : 'write true or false');
    case 'string':
      if (durationField && typeof v === 'number') return hint(`a duration is a string with a unit, e.g. "${v}s" or "${v}ms"`);
      return typeof v === 'number' || typeof v === 'boolean' ? hint(`quote it: "${String(v)}"`) : '';
  }
  return '';
}

/**
 * `unknown field "wieght"`, the API server's words, with the declared field it most likely misspells:
 * ` (did you mean "weight"?)`. Only close matches are offered (a case difference, or one or two edits).
 */
export function unknownFieldMessage(key: string, known: readonly string[]): string {
  const suggestion = closestName(key, known);
  return `unknown field ${JSON.stringify(key)}${suggestion === undefined ? '' : ` (did you mean ${JSON.stringify(suggestion)}?)`}`;
}

function closestName(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const sameCase = known.find((k) => k.toLowerCase() === lower);
  if (sameCase !== undefined) return sameCase;
  const limit = key.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const k of known) {
    if (Math.abs(k.length - key.length) > limit) continue;
    const d = editDistance(lower, k.toLowerCase(), limit);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

/** Optimal-string-alignment distance (insert, delete, substitute, swap two neighbours), or `limit + 1` past it. */
function editDistance(a: string, b: string, limit: number): number {
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (prev2[j - 2] ?? 0) + 1);
      row.push(d);
      rowMin = Math.min(rowMin, d);
    }
    if (rowMin > limit) return limit + 1;
    [prev2, prev] = [prev, row];
  }
  return prev[b.length] ?? limit + 1;
}

/** True when a string field's CEL rules parse it as a duration (Istio's duration fields). */
function isDurationField(s: SchemaNode): boolean {
  return (s['x-kubernetes-validations'] ?? []).some((r) => r.rule.includes('duration(self)'));
}

/** JSON text of a value, or a placeholder when it cannot be serialised (too deep, bigint): used as a set key. */
function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? 'undefined';
  } catch {
    return `<unserialisable ${jsonType(v)}>`;
  }
}

/** A short rendering of a value for messages: JSON, long strings cut to 60 characters inside their quotes. */
export function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}...` : v);
  const s = typeof v === 'bigint' ? v.toString() : safeJson(v);
  return s.length > 64 ? `${s.slice(0, 61)}...` : s;
}

export const childPath = (path: string, key: string): string => (path === '' ? key : `${path}.${key}`);
export const mapKeyPath = (path: string, key: string): string => `${path}[${key}]`;

const INT_RANGES: Record<string, readonly [number, number, string]> = {
  int32: [-2147483648, 2147483647, 'a 32-bit integer'],
  uint32: [0, 4294967295, 'an unsigned 32-bit integer'],
  int64: [-9223372036854775808, 9223372036854775807, 'a 64-bit integer'],
  uint64: [0, 18446744073709551615, 'an unsigned 64-bit integer'],
};

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** Type test for one declared type; returns an error message or undefined. */
function typeTest(s: SchemaNode): ((v: unknown) => string | undefined) | undefined {
  if (s['x-kubernetes-int-or-string'] === true) {
    return (v) =>
      typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint'
        ? undefined
        : `must be an integer or a string: ${JSON.stringify(jsonType(v))}`;
  }
  const t = s.type;
  if (t === undefined) return undefined;
  const duration = t === 'string' && isDurationField(s);
  const bad = (v: unknown): string => typeMessage(t, v, duration);
  switch (t) {
    case 'object':
      return (v) => (isPlainObject(v) ? undefined : bad(v));
    case 'array':
      return (v) => (Array.isArray(v) ? undefined : bad(v));
    case 'string':
      return (v) => (typeof v === 'string' ? undefined : bad(v));
    case 'boolean':
      return (v) => (typeof v === 'boolean' ? undefined : bad(v));
    case 'integer':
      return (v) => ((typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint' ? undefined : bad(v));
    case 'number':
      return (v) => ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'bigint' ? undefined : bad(v));
  }
}

function stringChecks(s: SchemaNode, checks: Check[]): void {
  const { minLength, maxLength, pattern, format } = s;
  if (maxLength !== undefined) {
    checks.push((v, path, out) => {
      // Kubernetes counts characters (code points), not UTF-16 units.
      if (typeof v === 'string' && v.length > maxLength && [...v].length > maxLength) {
        out.errors.push({ path, message: `Too long: may not be longer than ${maxLength} characters` });
      }
    });
  }
  if (minLength !== undefined) {
    checks.push((v, path, out) => {
      if (typeof v === 'string' && (v.length < minLength || [...v].length < minLength)) {
        out.errors.push({ path, message: `Invalid value: ${show(v)}: should be at least ${minLength} characters long` });
      }
    });
  }
  if (pattern !== undefined) {
    // The API server evaluates patterns with Go's regexp (RE2, unanchored search); re2js has the same semantics.
    const re = RE2JS.compile(pattern);
    checks.push((v, path, out) => {
      if (typeof v === 'string' && !re.test(v)) out.errors.push({ path, message: `Invalid value: ${show(v)}: should match '${pattern}'` });
    });
  }
  // Of the string formats the API server checks, Istio's schemas use `byte` and `date-time`; other formats are
  // accepted unchecked, as the API server does for formats outside its list.
  if (format === 'byte') {
    checks.push((v, path, out) => {
      if (typeof v === 'string' && !BASE64.test(v)) out.errors.push({ path, message: `Invalid value: ${show(v)}: must be base64-encoded (format byte)` });
    });
  } else if (format === 'date-time') {
    checks.push((v, path, out) => {
      if (typeof v === 'string' && !RFC3339.test(v)) out.errors.push({ path, message: `Invalid value: ${show(v)}: must be an RFC 3339 date-time` });
    });
  }
}

function numberChecks(s: SchemaNode, checks: Check[]): void {
  const { minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf } = s;
  const range = s.type === 'integer' && s.format !== undefined ? INT_RANGES[s.format] : undefined;
  if (range !== undefined) {
    const [lo, hi, what] = range;
    checks.push((v, path, out) => {
      const n = typeof v === 'bigint' ? Number(v) : v;
      if (typeof n === 'number' && (n < lo || n > hi)) out.errors.push({ path, message: `Invalid value: ${show(v)}: must be ${what} (${lo} to ${hi})` });
    });
  }
  if (minimum !== undefined) {
    const rel = exclusiveMinimum === true ? 'greater than' : 'greater than or equal to';
    checks.push((v, path, out) => {
      const n = typeof v === 'bigint' ? Number(v) : v;
      if (typeof n === 'number' && (exclusiveMinimum === true ? n <= minimum : n < minimum)) {
        out.errors.push({ path, message: `Invalid value: ${show(v)}: should be ${rel} ${minimum}` });
      }
    });
  }
  if (maximum !== undefined) {
    const rel = exclusiveMaximum === true ? 'less than' : 'less than or equal to';
    checks.push((v, path, out) => {
      const n = typeof v === 'bigint' ? Number(v) : v;
      if (typeof n === 'number' && (exclusiveMaximum === true ? n >= maximum : n > maximum)) {
        out.errors.push({ path, message: `Invalid value: ${show(v)}: should be ${rel} ${maximum}` });
      }
    });
  }
  if (multipleOf !== undefined) {
    checks.push((v, path, out) => {
      if (typeof v === 'number' && !Number.isInteger(v / multipleOf)) out.errors.push({ path, message: `Invalid value: ${show(v)}: should be a multiple of ${multipleOf}` });
    });
  }
}

function enumCheck(values: unknown[]): Check {
  const primitives = new Set(values.filter((x) => x === null || typeof x !== 'object'));
  const composite = values.filter((x) => x !== null && typeof x === 'object').map(safeJson);
  const supported = values.map((x) => JSON.stringify(x)).join(', ');
  return (v, path, out) => {
    if (v === null || typeof v !== 'object' ? primitives.has(v) : composite.includes(safeJson(v))) return;
    out.errors.push({ path, message: `Unsupported value: ${show(v)}: supported values: ${supported}` });
  };
}

/**
 * The API server drops `null` from fields that are not nullable (and have no default) before it validates
 * (apiextensions' PruneNonNullableNullsWithoutDefaults, run when the request is decoded), so `match:` with no value
 * in YAML means "not set". Weft does the same and says so in a warning.
 */
const NULL_DROPPED = 'null is not a value for this field; the API server drops it, as if the field were not set';

/** Is `key` set on `v` once the API server has dropped non-nullable nulls? */
const isSet = (v: Record<string, unknown>, key: string, nullable: boolean): boolean =>
  Object.hasOwn(v, key) && v[key] !== undefined && (v[key] !== null || nullable);

function objectChecks(s: SchemaNode, mode: Mode, checks: Check[]): void {
  const props = new Map<string, { check: Check; nullable: boolean }>();
  for (const [name, child] of Object.entries(s.properties ?? {})) props.set(name, { check: compileNode(child, mode), nullable: child.nullable === true });
  const addl = s.additionalProperties;
  const addlCheck = typeof addl === 'object' ? compileNode(addl, mode) : undefined;
  const addlNullable = typeof addl === 'object' && addl.nullable === true;
  // Strict field validation (kubectl apply --validate=strict, the default): fields the schema does not declare
  // are errors, unless the node preserves unknown fields or is a map. Value-validation branches never prune.
  const rejectUnknown = addl === false || (mode === 'full' && s['x-kubernetes-preserve-unknown-fields'] !== true && addl === undefined);
  const known = [...props.keys()];
  if (props.size > 0 || addlCheck !== undefined || rejectUnknown) {
    checks.push((v, path, out) => {
      if (!isPlainObject(v)) return;
      for (const key of Object.keys(v)) {
        const x = v[key];
        // An `undefined` property (possible only for objects built in code, never from YAML/JSON) is absent.
        if (x === undefined) continue;
        const prop = props.get(key);
        if (prop !== undefined || addlCheck !== undefined) {
          const at = prop !== undefined ? childPath(path, key) : mapKeyPath(path, key);
          if (x === null && !(prop !== undefined ? prop.nullable : addlNullable)) {
            if (mode === 'full') out.warnings.push({ path: at, message: NULL_DROPPED });
          } else {
            (prop?.check ?? (addlCheck as Check))(x, at, out);
          }
        } else if (rejectUnknown) {
          out.errors.push({ path: childPath(path, key), message: unknownFieldMessage(key, known) });
        }
      }
    });
  }
  const required = (s.required ?? []).map((name) => ({ name, nullable: props.get(name)?.nullable === true }));
  if (required.length > 0) {
    checks.push((v, path, out) => {
      if (!isPlainObject(v)) return;
      for (const r of required) if (!isSet(v, r.name, r.nullable)) out.errors.push({ path: childPath(path, r.name), message: 'Required value' });
    });
  }
  const { minProperties, maxProperties } = s;
  if (minProperties !== undefined || maxProperties !== undefined) {
    checks.push((v, path, out) => {
      if (!isPlainObject(v)) return;
      const n = Object.keys(v).filter((k) => isSet(v, k, props.get(k)?.nullable ?? addlNullable)).length;
      if (maxProperties !== undefined && n > maxProperties) out.errors.push({ path, message: `Too many: ${n}: must have at most ${maxProperties} properties` });
      if (minProperties !== undefined && n < minProperties) out.errors.push({ path, message: `Invalid value: ${n} properties: should have at least ${minProperties} properties` });
    });
  }
}

function arrayChecks(s: SchemaNode, mode: Mode, checks: Check[]): void {
  if (s.items !== undefined) {
    const item = compileNode(s.items, mode);
    checks.push((v, path, out) => {
      if (!Array.isArray(v)) return;
      for (let i = 0; i < v.length; i++) item(v[i], `${path}[${i}]`, out);
    });
  }
  const { minItems, maxItems } = s;
  if (minItems !== undefined || maxItems !== undefined) {
    checks.push((v, path, out) => {
      if (!Array.isArray(v)) return;
      if (maxItems !== undefined && v.length > maxItems) out.errors.push({ path, message: `Too many: ${v.length}: must have at most ${maxItems} items` });
      if (minItems !== undefined && v.length < minItems) out.errors.push({ path, message: `Invalid value: ${v.length} items: should have at least ${minItems} items` });
    });
  }
  const listType = s['x-kubernetes-list-type'];
  const mapKeys = s['x-kubernetes-list-map-keys'] ?? [];
  if (listType === 'map' && mapKeys.length > 0) {
    // A map-list is keyed by its map keys: two items with the same key tuple are a duplicate.
    checks.push((v, path, out) => {
      if (!Array.isArray(v)) return;
      const seen = new Set<string>();
      v.forEach((item, i) => {
        if (!isPlainObject(item)) return;
        const key = safeJson(Object.fromEntries(mapKeys.map((k) => [k, item[k] ?? null])));
        if (seen.has(key)) out.errors.push({ path: `${path}[${i}]`, message: `Duplicate value: ${key}` });
        seen.add(key);
      });
    });
  } else if (listType === 'set' || s.uniqueItems === true) {
    checks.push((v, path, out) => {
      if (!Array.isArray(v)) return;
      const seen = new Set<string>();
      v.forEach((item, i) => {
        const key = safeJson(item);
        if (seen.has(key)) out.errors.push({ path: `${path}[${i}]`, message: `Duplicate value: ${show(item)}` });
        seen.add(key);
      });
    });
  }
}

/** `required: [x]` and nothing else: the building block of Istio's "at most one of" constraints. */
function requiredOnly(s: SchemaNode): string | undefined {
  const keys = Object.keys(s);
  return keys.length === 1 && s.required?.length === 1 ? s.required[0] : undefined;
}

/**
 * Istio expresses "at most one of a, b, c" as
 * `oneOf: [{not: {anyOf: [{required: [a]}, {required: [b]}, …]}}, {required: [a]}, {required: [b]}, …]`.
 * Recognise it so the error names the fields instead of saying "must match exactly one schema".
 */
function atMostOneOf(branches: SchemaNode[]): string[] | undefined {
  const [first, ...rest] = branches;
  const inner = first?.not?.anyOf;
  if (first === undefined || Object.keys(first).length !== 1 || Object.keys(first.not ?? {}).length !== 1 || inner === undefined) return undefined;
  const names = inner.map(requiredOnly);
  const others = rest.map(requiredOnly);
  if (names.length !== others.length || names.some((n, i) => n === undefined || n !== others[i])) return undefined;
  return names as string[];
}

const quoteList = (xs: string[]): string => xs.map((x) => JSON.stringify(x)).join(', ');

/** A branch as a predicate: does the value pass it? */
function predicate(s: SchemaNode): (v: unknown) => boolean {
  const check = compileNode(s, 'value');
  return (v) => {
    const scratch: Validation = { errors: [], warnings: [] };
    check(v, '', scratch);
    return scratch.errors.length === 0;
  };
}

function junctorChecks(s: SchemaNode, checks: Check[]): void {
  if (s.oneOf !== undefined) {
    const fields = atMostOneOf(s.oneOf);
    const nullable = new Set(Object.entries(s.properties ?? {}).filter(([, p]) => p.nullable === true).map(([k]) => k));
    if (fields !== undefined) {
      checks.push((v, path, out) => {
        if (!isPlainObject(v)) return;
        const found = fields.filter((f) => isSet(v, f, nullable.has(f)));
        if (found.length > 1) out.errors.push({ path, message: `Invalid value: only one of ${quoteList(fields)} may be set, found ${quoteList(found)}` });
      });
    } else {
      const preds = s.oneOf.map(predicate);
      checks.push((v, path, out) => {
        const n = preds.filter((p) => p(v)).length;
        if (n !== 1) out.errors.push({ path, message: `Invalid value: must match exactly one schema in oneOf, matched ${n}` });
      });
    }
  }
  const intOrString =
    s['x-kubernetes-int-or-string'] === true &&
    s.anyOf?.length === 2 &&
    s.anyOf.every((b) => Object.keys(b).length === 1 && (b.type === 'integer' || b.type === 'string'));
  if (s.anyOf !== undefined && !intOrString) {
    const preds = s.anyOf.map(predicate);
    const fields = s.anyOf.map(requiredOnly);
    const named = fields.every((f) => f !== undefined) ? ` (set one of ${quoteList(fields as string[])})` : '';
    checks.push((v, path, out) => {
      if (!preds.some((p) => p(v))) out.errors.push({ path, message: `Invalid value: must match at least one schema in anyOf${named}` });
    });
  }
  for (const branch of s.allOf ?? []) checks.push(compileNode(branch, 'value'));
  if (s.not !== undefined) {
    const pass = predicate(s.not);
    const inner = s.not.anyOf?.map(requiredOnly);
    const named = inner !== undefined && inner.every((f) => f !== undefined) && Object.keys(s.not).length === 1;
    checks.push((v, path, out) => {
      if (!pass(v)) return;
      out.errors.push({ path, message: named ? `Forbidden: must not set any of ${quoteList(inner as string[])}` : 'Invalid value: must not match the schema in "not"' });
    });
  }
}

/** True when every error appended since `before` came from a CEL rule. */
function structurallySound(out: FieldError[], before: number): boolean {
  for (let i = before; i < out.length; i++) if (!celErrors.has(out[i] as FieldError)) return false;
  return true;
}

/** Compile a schema node (and, recursively, its children) into a Check. */
export function compileNode(s: SchemaNode, mode: Mode = 'full'): Check {
  const typeError = typeTest(s);
  const declaresType = s.type !== undefined || s['x-kubernetes-int-or-string'] === true;
  const nullable = s.nullable === true;
  const checks: Check[] = [];
  if (s.enum !== undefined) checks.push(enumCheck(s.enum));
  stringChecks(s, checks);
  numberChecks(s, checks);
  objectChecks(s, mode, checks);
  arrayChecks(s, mode, checks);
  junctorChecks(s, checks);
  const rules = mode === 'full' ? compileRules(s) : undefined;
  return (v, path, out) => {
    if (v === null) {
      if (nullable || !declaresType) return;
    }
    if (typeError !== undefined) {
      const msg = typeError(v);
      if (msg !== undefined) {
        out.errors.push({ path, message: msg });
        return;
      }
    }
    const before = out.errors.length;
    for (const c of checks) c(v, path, out);
    // CEL rules run on a subtree that passed the structural checks (errors from rules further down do not
    // count): on a malformed subtree a rule would only add a confusing second error, where the API server
    // reports both.
    if (rules !== undefined && structurallySound(out.errors, before)) rules(v, path, out);
  };
}
