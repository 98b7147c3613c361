// Readers for decoded xDS objects (snake_case plain objects as src/xds/protos.ts decodeAny() returns them).
// Compilers use these to turn `unknown` into typed values once, collecting FieldErrors with paths.
import { joinPath, type FieldError } from '../../core/result.ts';

export type Raw = Record<string, unknown>;

/** Accumulates errors while a resource is compiled; a resource with any error is rejected whole. */
export class Errors {
  readonly list: FieldError[] = [];
  add(path: string, message: string): void {
    this.list.push({ path, message });
  }
  get any(): boolean {
    return this.list.length > 0;
  }
}

export function obj(v: unknown): Raw | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Raw) : undefined;
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v !== '' && !Number.isNaN(Number(v))) return Number(v);
  return undefined;
}

export function bool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  const o = obj(v); // google.protobuf.BoolValue
  if (o && typeof o['value'] === 'boolean') return o['value'];
  return undefined;
}

/** google.protobuf.UInt32Value and friends: `{ value: n }` (or a bare number from hand-written files). */
export function wrappedNum(v: unknown): number | undefined {
  const o = obj(v);
  if (o) return num(o['value']) ?? (Object.keys(o).length === 0 ? 0 : undefined);
  return num(v);
}

/**
 * google.protobuf.Duration as milliseconds: `{ seconds, nanos }` from decodeAny, or the JSON form `"1.5s"`.
 * Returns undefined when absent, NaN when malformed.
 */
export function durationMs(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') {
    const m = /^(-?\d+(?:\.\d+)?)s$/.exec(v);
    return m ? Number(m[1]) * 1000 : NaN;
  }
  const o = obj(v);
  if (!o) return NaN;
  const s = num(o['seconds'] ?? 0);
  const n = num(o['nanos'] ?? 0);
  if (s === undefined || n === undefined) return NaN;
  return s * 1000 + n / 1e6;
}

export const at = joinPath;

/**
 * google.protobuf.Struct as decodeAny() leaves it (`{ fields: { k: { stringValue: 'v' } } }`, protobufjs has no JSON
 * mapping for Struct) or already plain JSON (hand-written bootstrap files): returned as plain JSON.
 */
export function plainStruct(v: unknown): Raw {
  const o = obj(v);
  if (!o) return {};
  const fields = obj(o['fields']);
  if (!fields || Object.keys(o).length !== 1) return o;
  const out: Raw = {};
  for (const [k, x] of Object.entries(fields)) out[k] = plainValue(x);
  return out;
}

function plainValue(v: unknown): unknown {
  const o = obj(v);
  if (!o) return v;
  if ('stringValue' in o) return o['stringValue'];
  if ('numberValue' in o) return o['numberValue'];
  if ('boolValue' in o) return o['boolValue'];
  if ('nullValue' in o) return null;
  if ('structValue' in o) return plainStruct(o['structValue']);
  if ('listValue' in o) return arr(obj(o['listValue'])?.['values']).map(plainValue);
  return plainStruct(o);
}
