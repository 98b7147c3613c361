// Route and mirror destinations of VirtualServices, in the order Istio's analyzers walk them (tcp, tls, http).
import type { Rec } from '../model.ts';
import { rec, recs } from '../model.ts';

export interface AnnotatedDestination {
  /** `tcp`, `tls`, `http`, `http.mirror` or `http.mirrors`. */
  rule: string;
  ruleIndex: number;
  destIndex: number;
  destination: Rec;
}

export function routeDestinations(spec: Rec): AnnotatedDestination[] {
  const out: AnnotatedDestination[] = [];
  for (const rule of ['tcp', 'tls', 'http'] as const) {
    recs(spec[rule]).forEach((r, i) => {
      recs(r['route']).forEach((rd, j) => out.push({ rule, ruleIndex: i, destIndex: j, destination: rec(rd['destination']) }));
    });
  }
  return out;
}

export function mirrorDestinations(spec: Rec): AnnotatedDestination[] {
  const out: AnnotatedDestination[] = [];
  recs(spec['http']).forEach((r, i) => {
    if (r['mirror'] !== undefined && r['mirror'] !== null) out.push({ rule: 'http.mirror', ruleIndex: i, destIndex: 0, destination: rec(r['mirror']) });
    recs(r['mirrors']).forEach((m, j) => out.push({ rule: 'http.mirrors', ruleIndex: i, destIndex: j, destination: rec(m['destination']) }));
  });
  return out;
}
