// IST0130 (a VirtualService rule that can never match) and IST0131 (a match made useless by an earlier,
// equal or covering match). Istio computes these as validation warnings; Weft computes them here, with the
// same rules: duplicate matches compare by content (names ignored), a match-less rule shadows all that follow,
// and an HTTP prefix match is covered by an earlier shorter prefix with compatible method/authority/headers.
import type { AnalysisContext, Analyzer } from '../context.ts';
import type { Item, Rec } from '../model.ts';
import { GK, arr, isRec, rec, recs, str } from '../model.ts';

/** JSON with sorted keys and Go's omitempty: zero values (0, false, '', empty list/map) are left out. */
function contentKey(v: unknown): string {
  const prune = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.length === 0 ? undefined : x.map((e) => prune(e) ?? null);
    if (isRec(x)) {
      const out: Rec = {};
      for (const k of Object.keys(x).sort()) {
        const p = prune(x[k]);
        if (p !== undefined) out[k] = p;
      }
      return Object.keys(out).length === 0 ? undefined : out;
    }
    if (x === 0 || x === false || x === '' || x === null) return undefined;
    return x;
  };
  return JSON.stringify(prune(v) ?? {});
}

const routeName = (route: Rec, i: number, http: boolean): string => (http && str(route['name']) !== '' ? JSON.stringify(str(route['name'])) : `#${i}`);
const matchName = (m: Rec, i: number, http: boolean): string => (http && str(m['name']) !== '' ? JSON.stringify(str(m['name'])) : `#${i}`);

interface PrefixMatch {
  route: string;
  match: string;
  prefix: string;
  port: number;
  method: string;
  authority: string;
  headers: Map<string, string>;
  query: Map<string, string>;
  without: Map<string, string>;
}

const exactOrPrefix = (v: unknown): string => {
  const r = rec(v);
  if (str(r['exact']) !== '') return `exact:${str(r['exact'])}`;
  if (str(r['prefix']) !== '') return `prefix:${str(r['prefix'])}`;
  return '';
};
const matcherMap = (v: unknown): Map<string, string> => new Map(Object.entries(rec(v)).map(([k, x]) => [k, exactOrPrefix(x)]));

function prefixMatch(route: string, match: string, m: Rec): PrefixMatch | undefined {
  const prefix = str(rec(m['uri'])['prefix']);
  if (prefix === '') return undefined;
  return {
    route,
    match,
    prefix,
    port: typeof m['port'] === 'number' ? m['port'] : 0,
    method: exactOrPrefix(m['method']) || 'exact:GET',
    authority: exactOrPrefix(m['authority']),
    headers: matcherMap(m['headers']),
    query: matcherMap(m['queryParams']),
    without: matcherMap(m['withoutHeaders']),
  };
}

const mapCovered = (a: Map<string, string>, b: Map<string, string>): boolean => {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const bv = b.get(k);
    if (bv === undefined || (v !== bv && !v.startsWith(bv))) return false;
  }
  return true;
};

/** Istio's coveredValidation: does earlier match `a` take every request later match `b` would? */
function covered(a: PrefixMatch, b: PrefixMatch): boolean {
  if (!b.prefix.startsWith(a.prefix)) return false;
  if (a.port !== b.port) return false;
  if (a.method !== b.method && !a.method.startsWith(b.method)) return false;
  if (a.authority !== b.authority && !a.authority.startsWith(b.authority)) return false;
  return mapCovered(a.headers, b.headers) && mapCovered(a.query, b.query) && mapCovered(a.without, b.without);
}

function analyzeRules(ctx: AnalysisContext, vs: Item, routes: Rec[], http: boolean): void {
  const seen = new Map<string, number>();
  let emptyAt = -1;
  const prefixes: PrefixMatch[] = [];
  routes.forEach((route, i) => {
    const matches = arr(route['match']);
    const rn = routeName(route, i, http);
    if (matches.length === 0) {
      if (emptyAt >= 0) ctx.report('VirtualServiceUnreachableRule', vs, rn, 'only the last rule can have no matches');
      emptyAt = i;
      return;
    }
    let dups = 0;
    matches.forEach((m0, j) => {
      const m = rec(m0);
      if (emptyAt >= 0) {
        ctx.report('VirtualServiceUnreachableRule', vs, rn, 'route without matches defined before');
        return;
      }
      const key = contentKey(http ? { ...m, name: undefined } : m);
      const dup = seen.get(key);
      if (dup !== undefined) {
        ctx.report('VirtualServiceIneffectiveMatch', vs, rn, matchName(m, j, http), routeName(routes[dup] ?? {}, dup, http));
        dups++;
        return;
      }
      seen.set(key, i);
      if (http) {
        const p = prefixMatch(rn, matchName(m, j, http), m);
        if (p) prefixes.push(p);
      }
    });
    if (dups === matches.length) ctx.report('VirtualServiceUnreachableRule', vs, rn, 'all matches used by prior rules');
  });
  for (let a = 0; a < prefixes.length; a++) {
    for (let b = a + 1; b < prefixes.length; b++) {
      const pa = prefixes[a];
      const pb = prefixes[b];
      if (!pa || !pb || pa.prefix === pb.prefix) continue;
      if (covered(pa, pb)) ctx.report('VirtualServiceIneffectiveMatch', vs, pb.route, `${pb.match} of prefix ${pb.prefix}`, `${pa.match} of prefix ${pa.prefix} on ${pa.route}`);
    }
  }
}

export const unreachableRules: Analyzer = {
  name: 'virtualservice.UnreachableRuleAnalyzer',
  description: 'Checks for VirtualService rules and matches that can never take traffic',
  analyze(ctx) {
    for (const vs of ctx.each(GK.VirtualService)) {
      analyzeRules(ctx, vs, recs(vs.spec['http']), true);
      analyzeRules(ctx, vs, recs(vs.spec['tcp']), false);
      analyzeRules(ctx, vs, recs(vs.spec['tls']), false);
    }
  },
};
