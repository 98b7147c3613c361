// IST0145: Gateways that select the same workloads and declare the same port and host (with the same bind).
// IST0101: a Gateway whose selector matches no other gateway's selector nor pods (as Istio reports it here).
import type { AnalysisContext, Analyzer } from '../context.ts';
import type { Item } from '../model.ts';
import { GK, fullName, num, rec, recs, str, strMap, strs } from '../model.ts';
import { parseSelectorString, selectorMatches, selectorString } from '../util/labels.ts';

/** selector~port → gateway full name → host → bind. */
type GatewayMap = Map<string, Map<string, Map<string, string>>>;

const portOf = (server: Record<string, unknown>): string => String(num(rec(server['port'])['number']) ?? 0);

function buildMap(ctx: AnalysisContext): GatewayMap {
  const m: GatewayMap = new Map();
  for (const gw of ctx.each(GK.Gateway)) {
    const sel = selectorString(strMap(gw.spec['selector']));
    for (const server of recs(gw.spec['servers'])) {
      const key = `${sel}~${portOf(server)}`;
      const byGw = m.get(key) ?? new Map<string, Map<string, string>>();
      m.set(key, byGw);
      const hb = new Map<string, string>();
      for (const h of strs(server['hosts'])) hb.set(h, str(server['bind']));
      byGw.set(fullName(gw), hb);
    }
  }
  return m;
}

/** Istio's model.CheckDuplicates: hosts already known with the same bind; records the hosts when none is. */
function duplicates(hosts: string[], bind: string, known: Map<string, string>): string[] {
  const dup = hosts.filter((h) => known.has(h) && known.get(h) === bind);
  if (dup.length === 0) for (const h of hosts) known.set(h, bind);
  return dup;
}

function analyzeGateway(ctx: AnalysisContext, gw: Item, map: GatewayMap): void {
  const name = fullName(gw);
  const selMap = strMap(gw.spec['selector']);
  const sel = selectorString(selMap);
  const hits: GatewayMap = new Map();
  let exists = false;
  for (const [key, byGw] of map) {
    const xSel = key.slice(0, key.lastIndexOf('~'));
    let matched = sel === xSel;
    if (!matched && (xSel.includes(sel) || sel.includes(xSel))) {
      const x = parseSelectorString(xSel);
      matched = ctx.each(GK.Pod).some((p) => selectorMatches(selMap, p.labels) && selectorMatches(x, p.labels));
    }
    if (matched) {
      exists = true;
      hits.set(key, byGw);
    }
  }
  if (sel !== '' && !exists) {
    ctx.report('ReferencedResourceNotFound', gw, 'selector', sel);
    return;
  }
  for (const server of recs(gw.spec['servers'])) {
    const port = portOf(server);
    const conflicting: string[] = [];
    for (const [key, byGw] of hits) {
      if (key.slice(key.lastIndexOf('~') + 1) !== port) continue;
      for (const [other, hb] of byGw) {
        if (other !== name && duplicates(strs(server['hosts']), str(server['bind']), hb).length > 0) conflicting.push(other);
      }
    }
    if (conflicting.length > 0) ctx.report('ConflictingGateways', gw, conflicting.sort().join(','), sel, port, strs(server['hosts']).join(','));
  }
}

export const conflictingGateways: Analyzer = {
  name: 'gateway.ConflictingGatewayAnalyzer',
  description: "Checks a gateway's selector, port number and hosts",
  analyze(ctx) {
    const map = buildMap(ctx);
    for (const gw of ctx.each(GK.Gateway)) analyzeGateway(ctx, gw, map);
  },
};
