// Compiles a schema node's `x-kubernetes-validations` into one Check: each rule is parsed once against the shared
// environment, and the node's value is converted to CEL values guided by the schema (integers become CEL ints,
// numbers doubles, maps and objects CEL maps) before the rules run, as the API server does.
import type { FieldError } from '../../../../core/result.ts';
import type { Validation } from '../../validation/report.ts';
import type { Check } from '../compile.ts';
import type { SchemaNode, ValidationRule } from '../types.ts';
import { celEnvironment } from './library.ts';
import { rewriteRule } from './source.ts';

type Convert = (v: unknown) => unknown;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const intOf = (v: unknown): unknown => (typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : v);

/**
 * Free-form values (under preserve-unknown-fields) nest as deep as the input does. Past this depth they are handed
 * to CEL unconverted (numbers stay doubles) rather than recursing further: no rule reads that deep, and the
 * conversion must not exhaust the stack.
 */
const MAX_UNTYPED_DEPTH = 64;

/** Values under preserve-unknown-fields have no schema: integers become ints, other numbers doubles. */
function convertUntyped(v: unknown, depth = 0): unknown {
  if (depth > MAX_UNTYPED_DEPTH) return v;
  if (Array.isArray(v)) return v.map((x) => convertUntyped(x, depth + 1));
  if (isPlainObject(v)) {
    const o: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const k of Object.keys(v)) o[k] = convertUntyped(v[k], depth + 1);
    return o;
  }
  return intOf(v);
}

/** Build the schema-guided converter for a subtree (once, at compile time). */
export function converter(s: SchemaNode): Convert {
  if (s['x-kubernetes-int-or-string'] === true || s.type === 'integer') return intOf;
  switch (s.type) {
    case 'number':
      return (v) => (typeof v === 'bigint' ? Number(v) : v);
    case 'string':
    case 'boolean':
      return (v) => v;
    case 'array': {
      const item: Convert = s.items !== undefined ? converter(s.items) : (x) => convertUntyped(x);
      return (v) => (Array.isArray(v) ? v.map(item) : v);
    }
    case 'object': {
      const props = new Map(Object.entries(s.properties ?? {}).map(([k, child]) => [k, converter(child)]));
      // Non-nullable nulls are dropped before rules run (see NULL_DROPPED in compile.ts): CEL must not see them.
      const nullable = new Set(Object.entries(s.properties ?? {}).filter(([, p]) => p.nullable === true).map(([k]) => k));
      const addlSchema = typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined;
      const addl = addlSchema !== undefined ? converter(addlSchema) : undefined;
      const addlNullable = addlSchema?.nullable === true;
      const keepUnknown = s['x-kubernetes-preserve-unknown-fields'] === true || s.additionalProperties === true;
      if (addl !== undefined) {
        return (v) =>
          isPlainObject(v)
            ? new Map(Object.keys(v).filter((k) => v[k] !== undefined && (v[k] !== null || addlNullable)).map((k) => [k, addl(v[k])]))
            : v;
      }
      return (v) => {
        if (!isPlainObject(v)) return v;
        // A null-prototype object: CEL field selection must never reach Object.prototype.
        const o: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
        for (const k of Object.keys(v)) {
          if (v[k] === undefined) continue;
          const c = props.get(k);
          if (v[k] === null && c !== undefined && !nullable.has(k)) continue;
          if (c !== undefined) o[k] = c(v[k]);
          else if (keepUnknown) o[k] = convertUntyped(v[k], 1);
        }
        return o;
      };
    }
    default:
      return (v) => convertUntyped(v);
  }
}

/** Parse a `fieldPath` such as `.spec.ports[0]` or `.labels['app']` into path suffix text. */
function fieldPathSuffix(fieldPath: string): string {
  let out = '';
  const re = /\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*'((?:[^'\\]|\\.)*)'\s*\]|\[\s*(\d+)\s*\]/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(fieldPath)) !== null) {
    if (m[1] !== undefined) out += `.${m[1]}`;
    else if (m[2] !== undefined) out += `[${m[2]}]`;
    else if (m[3] !== undefined) out += `[${m[3]}]`;
    if (re.lastIndex >= fieldPath.length) break;
  }
  return out;
}

const joinSuffix = (path: string, suffix: string): string => (path === '' && suffix.startsWith('.') ? suffix.slice(1) : path + suffix);

const REASON_PREFIX: Record<string, string> = {
  FieldValueForbidden: 'Forbidden',
  FieldValueRequired: 'Required value',
  FieldValueDuplicate: 'Duplicate value',
  FieldValueInvalid: 'Invalid value',
};

/** First line of an error message (cel-js appends a source excerpt on later lines). */
const firstLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';

type Program = (self: unknown, path: string, out: Validation) => void;

/** Errors produced by CEL rules (not by the schema's structure), so parents can tell the two apart. */
export const celErrors = new WeakSet<FieldError>();

function report(out: Validation, e: FieldError): void {
  celErrors.add(e);
  out.errors.push(e);
}

function compileRule(r: ValidationRule): Program {
  const env = celEnvironment();
  const src = rewriteRule(r.rule);
  const program = env.parse(src.text);
  // Types are checked at load, so a rule using a function Weft does not provide fails at start-up, not per object.
  const checked = program.check();
  if (!checked.valid) throw new Error(`CEL rule ${JSON.stringify(r.rule)} does not type-check: ${firstLine(checked.error)}`);
  const messageProgram = r.messageExpression !== undefined ? env.parse(rewriteRule(r.messageExpression).text) : undefined;
  const suffix = r.fieldPath !== undefined ? fieldPathSuffix(r.fieldPath) : '';
  const prefix = REASON_PREFIX[r.reason ?? 'FieldValueInvalid'] ?? 'Invalid value';
  const staticMessage = r.message?.trim() || `failed rule: ${r.rule.replace(/\s+/g, ' ')}`;
  return (self, path, out) => {
    let result: unknown;
    try {
      result = program({ self });
    } catch (e) {
      report(out, { path, message: `Invalid value: ${firstLine(e)} evaluating rule: ${staticMessage}` });
      return;
    }
    if (result === true) return;
    let message = staticMessage;
    if (messageProgram !== undefined) {
      try {
        const m: unknown = messageProgram({ self });
        if (typeof m === 'string' && m.trim() !== '') message = m.trim();
      } catch {
        // The API server falls back to `message` (or the rule) when messageExpression fails.
      }
    }
    report(out, { path: joinSuffix(path, suffix), message: `${prefix}: ${message}` });
  };
}

/**
 * The node's CEL rules as one Check, or undefined when it has none. Transition rules (those that read `oldSelf`)
 * are skipped: they compare an update with the stored object, and Weft validates objects on their own, as the API
 * server does on create, where transition rules do not run either.
 */
export function compileRules(s: SchemaNode): Check | undefined {
  const rules = (s['x-kubernetes-validations'] ?? []).filter((r) => !rewriteRule(r.rule).usesOldSelf);
  if (rules.length === 0) return undefined;
  const programs = rules.map(compileRule);
  let convert: Convert | undefined;
  return (v, path, out) => {
    // Rules do not run on null: nullability is checked by the schema around them.
    if (v === null || v === undefined) return;
    convert ??= converter(s);
    const self = convert(v);
    for (const p of programs) p(self, path, out);
  };
}
