// IST0101 (destination host or port not found), IST0112 (port required for a multi-port destination) and
// IST0140 (a gateway-bound route without subset next to subset routes for the same host).
import type { AnalysisContext, Analyzer } from '../context.ts';
import type { Item, Rec } from '../model.ts';
import { GK, fullName, num, rec, recs, str, strs } from '../model.ts';
import type { ServiceView } from '../util/hosts.ts';
import { destinationService, serviceHostMap } from '../util/hosts.ts';
import type { AnnotatedDestination } from './vs-destinations.ts';
import { mirrorDestinations, routeDestinations } from './vs-destinations.ts';

export const destinationHosts: Analyzer = {
  name: 'virtualservice.DestinationHostAnalyzer',
  description: 'Checks the destination hosts associated with each virtual service',
  analyze(ctx) {
    const services = serviceHostMap(ctx);
    const subsetDestinations = vsSubsetDestinations(ctx);
    for (const vs of ctx.each(GK.VirtualService)) {
      const exportTo = strs(vs.spec['exportTo']);
      for (const d of routeDestinations(vs.spec)) {
        const host = str(d.destination['host']);
        const s = destinationService(vs.namespace, exportTo, host, services);
        if (!s) ctx.report('ReferencedResourceNotFound', vs, 'host', host);
        else checkPorts(ctx, vs, d, s);
      }
      for (const d of mirrorDestinations(vs.spec)) {
        const host = str(d.destination['host']);
        const s = destinationService(vs.namespace, exportTo, host, services);
        if (!s) ctx.report('ReferencedResourceNotFound', vs, 'mirror host', host);
        else checkPorts(ctx, vs, d, s);
      }
      ingressRouteRules(ctx, vs, subsetDestinations);
    }
  },
};

function checkPorts(ctx: AnalysisContext, vs: Item, d: AnnotatedDestination, s: ServiceView): void {
  const host = str(d.destination['host']);
  const port = d.destination['port'];
  if (port === undefined || port === null) {
    if (s.ports.length > 1) ctx.report('VirtualServiceDestinationPortSelectorRequired', vs, host, s.ports.map((p) => p.number));
    return;
  }
  const number = num(rec(port)['number']) ?? 0;
  if (!s.ports.some((p) => p.number === number)) ctx.report('ReferencedResourceNotFound', vs, 'host:port', `${host}:${number}`);
}

/** Per VirtualService, the subset destinations of its http routes whose host is one of its own hosts. */
function vsSubsetDestinations(ctx: AnalysisContext): Map<string, Rec[]> {
  const out = new Map<string, Rec[]>();
  for (const vs of ctx.each(GK.VirtualService)) {
    const hosts = strs(vs.spec['hosts']);
    for (const r of recs(vs.spec['http'])) {
      for (const rd of recs(r['route'])) {
        const d = rec(rd['destination']);
        if (str(d['subset']) === '') continue;
        for (const h of hosts) {
          if (str(d['host']) !== h) continue;
          const list = out.get(fullName(vs));
          if (list) list.push(d);
          else out.set(fullName(vs), [d]);
        }
      }
    }
  }
  return out;
}

function ingressRouteRules(ctx: AnalysisContext, vs: Item, subsetDestinations: Map<string, Rec[]>): void {
  if (strs(vs.spec['gateways']).length === 0) return;
  for (const r of recs(vs.spec['http'])) {
    for (const rd of recs(r['route'])) {
      const d = rec(rd['destination']);
      if (str(d['subset']) !== '') continue;
      for (const [other, dests] of subsetDestinations) {
        for (const od of dests) if (str(od['host']) === str(d['host'])) ctx.report('IngressRouteRulesNotAffected', vs, other, fullName(vs));
      }
    }
  }
}
