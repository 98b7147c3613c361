// IST0109: VirtualServices bound to the mesh gateway that define the same host (within overlapping exportTo scopes).
import type { Analyzer } from '../context.ts';
import type { Item } from '../model.ts';
import { GK, fullName, strs } from '../model.ts';
import { EXPORT_ALL, EXPORT_LOCAL, MESH_GATEWAY, hostMatches, isExportToAll, scoped, splitScoped } from '../util/hosts.ts';

export const conflictingMeshGatewayHosts: Analyzer = {
  name: 'virtualservice.ConflictingMeshGatewayHostsAnalyzer',
  description: 'Checks if multiple virtual services associated with the mesh gateway have conflicting hosts',
  analyze(ctx) {
    const hosts = new Map<string, Item[]>();
    for (const vs of ctx.each(GK.VirtualService)) {
      const gateways = strs(vs.spec['gateways']);
      if (gateways.length > 0 && !gateways.includes(MESH_GATEWAY)) continue;
      const exportTo = strs(vs.spec['exportTo']);
      const scopes = isExportToAll(exportTo) ? [EXPORT_ALL] : [...new Set(exportTo.map((e) => (e === EXPORT_LOCAL ? vs.namespace : e)))];
      for (const scope of scopes) {
        for (const h of strs(vs.spec['hosts'])) {
          const k = scoped(scope, vs.namespace, h);
          const list = hosts.get(k);
          if (list) list.push(vs);
          else hosts.set(k, [vs]);
        }
      }
    }
    const reported = new Set<string>();
    for (const [key, own] of hosts) {
      let list = own;
      const [scope, fqdn] = splitScoped(key);
      if (scope !== EXPORT_ALL) {
        // A VirtualService exported to everyone also reaches this scope.
        const global: Item[] = [];
        for (const [k2, l2] of hosts) {
          const [s2, h2] = splitScoped(k2);
          if (s2 === EXPORT_ALL && hostMatches(fqdn, h2)) global.push(...l2);
        }
        list = [...own, ...global];
      }
      if (list.length < 2) continue;
      const names = list.map(fullName).sort().join(',');
      for (const vs of list) {
        const id = fullName(vs);
        if (reported.has(id)) continue;
        reported.add(id);
        ctx.report('ConflictingMeshGatewayVirtualServiceHosts', vs, names, key);
      }
    }
  },
};
