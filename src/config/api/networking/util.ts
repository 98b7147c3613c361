// Helpers the networking validators share: safe views of untyped spec values (the schema layer has run, but a
// validator must never throw on odd input), and checks for the sub-messages several kinds reuse.
import type { Reporter } from '../validation/report.ts';
import { checkRegex } from '../validation/common/regex.ts';
import { isDns1123Label, validateWildcardDomain } from '../validation/common/host.ts';
import { checkPort } from '../validation/common/net.ts';
import { validateHeaderOperationName, validateHeaderValue, validateSetHeaderName } from '../validation/common/http.ts';

export type Obj = Record<string, unknown>;

/** The value as a plain object, or undefined. */
export const obj = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);
/** The value as an array (empty when absent or not an array). */
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
/** The value as a string (empty when absent), as protobuf's zero value. */
export const str = (v: unknown): string => (typeof v === 'string' ? v : '');
/** The value as a number (0 when absent), as protobuf's zero value. */
export const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
/** Present and not null (a set message field). */
export const isSet = (v: unknown): boolean => v !== undefined && v !== null;
/** Entries of a map-valued field. */
export const entries = (v: unknown): [string, unknown][] => Object.entries(obj(v) ?? {});
export const q = (s: unknown): string => JSON.stringify(s);

/** Which of the StringMatch oneof fields are set. */
export function stringMatchKinds(sm: Obj): ('exact' | 'prefix' | 'regex')[] {
  return (['exact', 'prefix', 'regex'] as const).filter((k) => typeof sm[k] === 'string');
}

/**
 * A StringMatch: at most one of exact/prefix/regex (an empty `{}` is allowed where it means "present"); a prefix
 * must not be empty unless `allowEmptyPrefix`; a regex must be non-empty RE2.
 */
export function checkStringMatch(r: Reporter, v: unknown, opts: { allowEmptyPrefix?: boolean } = {}): void {
  const sm = obj(v);
  if (sm === undefined) return;
  const kinds = stringMatchKinds(sm);
  if (kinds.length > 1) r.error(`only one of exact, prefix or regex may be set (found ${kinds.join(' and ')})`);
  if (typeof sm.prefix === 'string' && sm.prefix === '' && opts.allowEmptyPrefix !== true) {
    r.at('prefix').error('prefix match must not be empty: remove the matcher to match everything');
  }
  if (typeof sm.regex === 'string') checkRegex(r.at('regex'), sm.regex);
}

/** A route/mirror destination: host required (not `*`), valid subset name and port. */
export function checkDestination(r: Reporter, v: unknown): void {
  const d = obj(v);
  if (d === undefined) return;
  const host = str(d.host);
  if (host === '') r.at('host').error('destination host is required: give the service name, e.g. "reviews" or "reviews.default.svc.cluster.local"');
  else if (host === '*') r.at('host').error('destination host "*" is not valid: name a single service');
  else {
    const m = validateWildcardDomain(host);
    if (m !== undefined) r.at('host').error(m);
  }
  if (isSet(d.subset)) {
    const s = str(d.subset);
    if (s === '') r.at('subset').error('subset name cannot be empty: remove the field or name a subset of the DestinationRule');
    else if (!isDns1123Label(s)) r.at('subset').error(`subset name ${q(s)} is not valid: it must be a DNS-1123 label (letters, digits, '-')`);
  }
  const port = obj(d.port);
  if (port !== undefined) checkPort(r.at('port').at('number'), port.number);
}

/** Header operations on a route or destination: names and values as Istio requires. */
export function checkHeaderOperations(r: Reporter, v: unknown): void {
  const h = obj(v);
  if (h === undefined) return;
  for (const side of ['request', 'response'] as const) {
    const ops = obj(h[side]);
    if (ops === undefined) continue;
    const sr = r.at(side);
    for (const op of ['set', 'add'] as const) {
      for (const [name, value] of entries(ops[op])) {
        const hr = sr.at(op).at(name);
        const nm = side === 'request' ? validateSetHeaderName(name) : validateHeaderOperationName(name);
        if (nm !== undefined) hr.error(nm);
        const vm = validateHeaderValue(str(value));
        if (vm !== undefined) hr.error(vm);
      }
    }
    arr(ops.remove).forEach((name, i) => {
      const nm = validateHeaderOperationName(str(name));
      if (nm !== undefined) sr.at('remove').at(i).error(nm);
    });
  }
}
