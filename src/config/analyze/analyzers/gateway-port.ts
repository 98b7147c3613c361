// IST0162: a Gateway server port that the Service in front of the gateway's pods does not expose.
// IST0101: a Gateway whose selector matches no pod.
import type { Analyzer } from '../context.ts';
import { GK, recs, str, strMap } from '../model.ts';
import { selectorMatches, selectorString } from '../util/labels.ts';

/** Kubernetes IntOrString.IntValue(): the number, a numeric string, else 0. */
function intValue(v: unknown): number {
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v === 'string' && /^[+-]?\d+$/.test(v)) return Number(v);
  return 0;
}

export const ingressGatewayPort: Analyzer = {
  name: 'gateway.IngressGatewayPortAnalyzer',
  description: "Checks a gateway's ports against the gateway's Kubernetes service ports",
  analyze(ctx) {
    for (const gw of ctx.each(GK.Gateway)) {
      const sel = strMap(gw.spec['selector']);
      const servicePorts = new Set<number>();
      const portMapping = new Map<number, number>();
      let matches = 0;
      for (const pod of ctx.each(GK.Pod)) {
        if (!selectorMatches(sel, pod.labels)) continue;
        matches++;
        for (const svc of ctx.each(GK.Service)) {
          if (svc.namespace !== pod.namespace) continue;
          if (!selectorMatches(strMap(svc.spec['selector']), pod.labels)) continue;
          for (const p of recs(svc.spec['ports'])) {
            // Kubernetes defaults a port's protocol to TCP.
            if ((str(p['protocol']) || 'TCP') !== 'TCP') continue;
            const port = typeof p['port'] === 'number' ? p['port'] : 0;
            const tp = intValue(p['targetPort']);
            if (tp !== 0) {
              servicePorts.add(tp);
              if (!portMapping.has(port)) portMapping.set(port, tp);
            } else {
              servicePorts.add(port);
            }
          }
        }
      }
      if (matches === 0) {
        ctx.report('ReferencedResourceNotFound', gw, 'selector', selectorString(sel));
        continue;
      }
      for (const server of recs(gw.spec['servers'])) {
        const port = server['port'];
        if (typeof port !== 'object' || port === null) continue;
        const n = (port as Record<string, unknown>)['number'];
        const number = typeof n === 'number' ? n : 0;
        if (!servicePorts.has(number) && !portMapping.has(number)) ctx.report('GatewayPortNotDefinedOnService', gw, number, selectorString(sel));
      }
    }
  },
};
