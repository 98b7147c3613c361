// Warnings (not errors) for VirtualService rules that can never match: a rule after a match-all rule, a match
// identical to an earlier one, and HTTP prefix matches shadowed by an earlier, broader prefix. Istio reports these
// as VirtualServiceUnreachableRule / VirtualServiceIneffectiveMatch; so does Weft, with the same wording of facts.
import type { Reporter } from '../validation/report.ts';
import { arr, entries, obj, str, type Obj } from './util.ts';

const routeName = (route: Obj | undefined, i: number): string => (str(route?.name) !== '' ? JSON.stringify(route?.name) : `#${i}`);
const matchName = (match: Obj | undefined, i: number): string => (str(match?.name) !== '' ? JSON.stringify(match?.name) : `#${i}`);

/** A canonical serialization of a match without its name (key order normalized), for duplicate detection. */
function canonical(v: unknown, dropName: boolean): string {
  const norm = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(norm);
    const o = obj(x);
    if (o === undefined) return x;
    return Object.fromEntries(Object.keys(o).sort().filter((k) => !(dropName && k === 'name' && x === v)).map((k) => [k, norm(o[k])]));
  };
  return JSON.stringify(norm(v));
}

/** `exact:X`, `prefix:X` or '' for a StringMatch, as used for overlap comparison. */
function exactOrPrefix(sm: unknown): string {
  const o = obj(sm);
  if (typeof o?.exact === 'string' && o.exact !== '') return `exact:${o.exact}`;
  if (typeof o?.prefix === 'string' && o.prefix !== '') return `prefix:${o.prefix}`;
  return '';
}

interface PrefixMatch {
  route: string;
  match: string;
  prefix: string;
  port: number;
  method: string;
  authority: string;
  headers: Map<string, string>;
  queryParams: Map<string, string>;
  withoutHeaders: Map<string, string>;
}

function prefixMatchOf(route: Obj, match: Obj, ri: number, mi: number): PrefixMatch | undefined {
  const prefix = str(obj(match.uri)?.prefix);
  if (prefix === '') return undefined;
  const toMap = (v: unknown): Map<string, string> => new Map(entries(v).map(([k, sm]) => [k, exactOrPrefix(sm)]));
  return {
    route: routeName(route, ri),
    match: matchName(match, mi),
    prefix,
    port: typeof match.port === 'number' ? match.port : 0,
    // Without a method the comparison assumes GET, as Istio does.
    method: exactOrPrefix(match.method) || 'exact:GET',
    authority: exactOrPrefix(match.authority),
    headers: toMap(match.headers),
    queryParams: toMap(match.queryParams),
    withoutHeaders: toMap(match.withoutHeaders),
  };
}

/** True when every request matching `b` is already matched by the earlier `a`. */
function covers(a: PrefixMatch, b: PrefixMatch): boolean {
  if (!b.prefix.startsWith(a.prefix) || a.port !== b.port) return false;
  const fieldCovers = (x: string, y: string): boolean => x === y || x.startsWith(y);
  if (!fieldCovers(a.method, b.method) || !fieldCovers(a.authority, b.authority)) return false;
  for (const [ma, mb] of [[a.headers, b.headers], [a.queryParams, b.queryParams], [a.withoutHeaders, b.withoutHeaders]] as const) {
    if (ma.size !== mb.size) return false;
    for (const [k, v] of ma) {
      const w = mb.get(k);
      if (w === undefined || !fieldCovers(v, w)) return false;
    }
  }
  return true;
}

function analyze(r: Reporter, field: 'http' | 'tcp' | 'tls', routes: unknown[]): void {
  const seen = new Map<string, number>();
  let matchAll = -1;
  const prefixes: PrefixMatch[] = [];
  routes.forEach((rt, ri) => {
    const route = obj(rt);
    if (route === undefined) return;
    const rr = r.at(field).at(ri);
    const name = field === 'http' ? routeName(route, ri) : `#${ri}`;
    const matches = arr(route.match);
    if (matches.length === 0) {
      if (matchAll >= 0) rr.warn(`virtualService rule ${name} not used (only the last rule can have no matches)`);
      matchAll = ri;
      return;
    }
    let duplicates = 0;
    matches.forEach((m, mi) => {
      if (matchAll >= 0) {
        rr.warn(`virtualService rule ${name} not used (route without matches defined before)`);
        return;
      }
      const key = canonical(m, field === 'http');
      const dup = seen.get(key);
      const mo = obj(m);
      if (dup !== undefined) {
        const dupName = field === 'http' ? routeName(obj(routes[dup]), dup) : `#${dup}`;
        rr.at('match').at(mi).warn(`virtualService rule ${name} match ${field === 'http' ? matchName(mo, mi) : `#${mi}`} is not used (duplicate/overlapping match in rule ${dupName})`);
        duplicates++;
        return;
      }
      seen.set(key, ri);
      if (field === 'http' && mo !== undefined) {
        const pm = prefixMatchOf(route, mo, ri, mi);
        if (pm !== undefined) prefixes.push(pm);
      }
    });
    if (duplicates === matches.length) rr.warn(`virtualService rule ${name} not used (all matches used by prior rules)`);
  });
  for (let i = 0; i < prefixes.length; i++) {
    for (let j = i + 1; j < prefixes.length; j++) {
      const a = prefixes[i];
      const b = prefixes[j];
      if (a === undefined || b === undefined || a.prefix === b.prefix) continue;
      if (covers(a, b)) {
        r.at(field).warn(`virtualService rule ${b.route} match ${b.match} of prefix ${b.prefix} is not used (duplicate/overlapping match in rule ${a.match} of prefix ${a.prefix} on ${a.route})`);
      }
    }
  }
}

/** Report unreachable rules and ineffective matches of a VirtualService spec as warnings under `spec`. */
export function warnUnreachableRules(spec: Reporter, body: Obj): void {
  analyze(spec, 'http', arr(body.http));
  analyze(spec, 'tcp', arr(body.tcp));
  analyze(spec, 'tls', arr(body.tls));
}

/**
 * True for the warnings this module produces (Istio's VirtualServiceUnreachableRule / VirtualServiceIneffectiveMatch),
 * so the analyzer can report them as IST0130/IST0131 instead of generic schema warnings without matching on wording.
 */
export const isUnreachableRuleWarning = (message: string): boolean => /^virtualService rule .*(not used \(|is not used \(duplicate\/overlapping)/.test(message);
