// IST0101: a VirtualService routes (or mirrors) to a subset that no DestinationRule for that host defines.
import type { Analyzer } from '../context.ts';
import type { Rec } from '../model.ts';
import { GK, recs, str } from '../model.ts';
import { resourceNameFromHost } from '../util/hosts.ts';
import { mirrorDestinations, routeDestinations } from './vs-destinations.ts';

export const destinationRules: Analyzer = {
  name: 'virtualservice.DestinationRuleAnalyzer',
  description: 'Checks the destination rules associated with each virtual service',
  analyze(ctx) {
    const known = new Set<string>();
    for (const dr of ctx.each(GK.DestinationRule)) {
      for (const ss of recs(dr.spec['subsets'])) known.add(`${resourceNameFromHost(dr.namespace, str(dr.spec['host']))}+${str(ss['name'])}`);
    }
    const ok = (ns: string, d: Rec): boolean => str(d['subset']) === '' || known.has(`${resourceNameFromHost(ns, str(d['host']))}+${str(d['subset'])}`);
    for (const vs of ctx.each(GK.VirtualService)) {
      for (const ad of routeDestinations(vs.spec)) {
        if (!ok(vs.namespace, ad.destination)) ctx.report('ReferencedResourceNotFound', vs, 'host+subset in destinationrule', `${str(ad.destination['host'])}+${str(ad.destination['subset'])}`);
      }
      for (const ad of mirrorDestinations(vs.spec)) {
        if (!ok(vs.namespace, ad.destination)) ctx.report('ReferencedResourceNotFound', vs, 'mirror+subset in destinationrule', `${str(ad.destination['host'])}+${str(ad.destination['subset'])}`);
      }
    }
  },
};
