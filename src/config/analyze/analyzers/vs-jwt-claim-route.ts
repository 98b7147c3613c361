// IST0149: a gateway VirtualService routes on JWT claims (@request.auth.claims…) but a gateway pod has no
// RequestAuthentication to validate the token.
import type { Analyzer } from '../context.ts';
import type { Rec } from '../model.ts';
import { GK, rec, recs, strMap, strs } from '../model.ts';
import { selectorMatches } from '../util/labels.ts';
import { MESH_GATEWAY } from '../util/hosts.ts';
import { shortOrFullName } from './vs-gateways.ts';

const CLAIM_PREFIX = '@request.auth.claims';

/** Istio's jwt.ToRoutingClaim(...).Match: `@request.auth.claims.a.b` or `@request.auth.claims[a][b]`. */
export function isClaimHeader(name: string): boolean {
  if (!name.toLowerCase().startsWith(CLAIM_PREFIX)) return false;
  const rest = name.slice(CLAIM_PREFIX.length);
  return (rest.startsWith('.') && rest.length > 1) || (rest.startsWith('[') && rest.endsWith(']') && rest.length > 2);
}

function claimKey(spec: Rec): string {
  for (const r of recs(spec['http'])) {
    for (const m of recs(r['match'])) {
      for (const k of Object.keys(rec(m['headers']))) if (isClaimHeader(k)) return k;
      for (const k of Object.keys(rec(m['withoutHeaders']))) if (isClaimHeader(k)) return k;
    }
  }
  return '';
}

export const jwtClaimRoute: Analyzer = {
  name: 'virtualservice.JWTClaimRouteAnalyzer',
  description: 'Checks the VirtualService using JWT claim based routing has corresponding RequestAuthentication',
  analyze(ctx) {
    const raByNs = new Map<string, Record<string, string>[]>();
    for (const ra of ctx.each(GK.RequestAuthentication)) {
      const list = raByNs.get(ra.namespace) ?? [];
      list.push(strMap(rec(ra.spec['selector'])['matchLabels']));
      raByNs.set(ra.namespace, list);
    }
    for (const vs of ctx.each(GK.VirtualService)) {
      const key = claimKey(vs.spec);
      if (key === '') continue;
      for (const gwName of strs(vs.spec['gateways'])) {
        if (gwName === MESH_GATEWAY) continue;
        const gwFull = shortOrFullName(vs.namespace, gwName);
        const gw = ctx.find(GK.Gateway, gwFull);
        if (!gw) continue;
        const sel = strMap(gw.spec['selector']);
        for (const pod of ctx.each(GK.Pod)) {
          if (!selectorMatches(sel, pod.labels)) continue;
          const ras = [...(raByNs.get('istio-system') ?? []), ...(raByNs.get(pod.namespace) ?? [])];
          if (!ras.some((s) => selectorMatches(s, pod.labels))) ctx.report('JwtClaimBasedRoutingWithoutRequestAuthN', vs, key, gwFull, pod.name);
        }
      }
    }
  },
};
