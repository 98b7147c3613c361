// Host names as the analyzers compare them: wildcard matching, short names expanded to FQDNs in the
// resource's namespace, and exportTo scopes ("scope/fqdn" keys, scope `*` for all namespaces).
import type { AnalysisContext } from '../context.ts';
import { GK, rec, recs, str, strs } from '../model.ts';

export const DEFAULT_CLUSTER_LOCAL = 'svc.cluster.local';
export const EXPORT_ALL = '*';
export const EXPORT_LOCAL = '.';
export const MESH_GATEWAY = 'mesh';

const isWild = (h: string): boolean => h.startsWith('*');

/** Istio's host.Name.Matches: a wildcard on either side matches by suffix; otherwise exact equality. */
export function hostMatches(n: string, o: string): boolean {
  if (isWild(n)) {
    if (isWild(o)) return n.length < o.length ? o.slice(1).endsWith(n.slice(1)) : n.slice(1).endsWith(o.slice(1));
    return o.endsWith(n.slice(1));
  }
  if (isWild(o)) return n.endsWith(o.slice(1));
  return n === o;
}

/** Gateway-server hosts visible from `namespace` (`ns/host` entries for other namespaces dropped, `*` kept). */
export function namesForNamespace(hosts: string[], namespace: string): string[] {
  const out: string[] = [];
  for (const h of hosts) {
    const slash = h.indexOf('/');
    if (slash >= 0) {
      const ns = h.slice(0, slash);
      if (ns !== namespace && ns !== '*') continue;
      out.push(h.slice(slash + 1));
    } else {
      out.push(h);
    }
  }
  return out;
}

/** A short name (no dot, no wildcard) becomes `name.namespace.svc.cluster.local`. */
export function toFqdn(namespace: string, host: string): string {
  return !host.startsWith('*') && !host.includes('.') ? `${host}.${namespace}.${DEFAULT_CLUSTER_LOCAL}` : host;
}

export const scoped = (scope: string, namespace: string, host: string): string => `${scope}/${toFqdn(namespace, host)}`;

export function splitScoped(s: string): [scope: string, fqdn: string] {
  const i = s.indexOf('/');
  return [s.slice(0, i), s.slice(i + 1)];
}

const fqdnPattern = /^(.+)\.(.+)\.svc\.cluster\.local$/;

/** namespace/name of a Kubernetes service host (`reviews.default.svc.cluster.local`), or the host in `ns` if short. */
export function resourceNameFromHost(defaultNs: string, host: string): string {
  const m = fqdnPattern.exec(host);
  if (m) return `${m[2]}/${m[1]}`;
  return `${defaultNs}/${host}`;
}

export function isExportToAll(exportTo: string[]): boolean {
  return exportTo.length === 0 || exportTo.includes(EXPORT_ALL);
}

/** A destination service as the analyzers see it: a ServiceEntry, or a Kubernetes Service turned into one. */
export interface ServiceView {
  hosts: string[];
  ports: { number: number; name: string; protocol: string }[];
  workloadSelector: Record<string, string>;
}

/** Istio's InitServiceEntryHostMap: every ServiceEntry host and Service FQDN under each scope it is exported to. */
export function serviceHostMap(ctx: AnalysisContext): Map<string, ServiceView> {
  const out = new Map<string, ServiceView>();
  for (const r of ctx.each(GK.ServiceEntry)) {
    const view: ServiceView = {
      hosts: strs(r.spec['hosts']),
      ports: recs(r.spec['ports']).map((p) => ({ number: typeof p['number'] === 'number' ? p['number'] : 0, name: str(p['name']), protocol: str(p['protocol']) })),
      workloadSelector: labelsOf(rec(r.spec['workloadSelector'])['labels']),
    };
    const exportTo = strs(r.spec['exportTo']);
    for (const h of view.hosts) {
      if (exportTo.length === 0) {
        out.set(scoped(EXPORT_ALL, r.namespace, h), view);
        continue;
      }
      for (const e of exportTo) {
        if (e === EXPORT_ALL) {
          out.set(scoped(EXPORT_ALL, r.namespace, h), view);
          break;
        }
        out.set(scoped(e === EXPORT_LOCAL ? r.namespace : e, r.namespace, h), view);
      }
    }
  }
  for (const r of ctx.each(GK.Service)) {
    const host = toFqdn(r.namespace, r.name);
    const view: ServiceView = {
      hosts: [host],
      ports: recs(r.spec['ports']).map((p) => ({ number: typeof p['port'] === 'number' ? p['port'] : 0, name: str(p['name']), protocol: str(p['protocol']) })),
      workloadSelector: {},
    };
    const anno = r.annotations['networking.istio.io/exportTo'] ?? '';
    const scopes = anno === '' ? [EXPORT_ALL] : anno.split(',').map((s) => (s.trim() === EXPORT_LOCAL ? r.namespace : s.trim()));
    for (const s of scopes) out.set(scoped(s, r.namespace, r.name), view);
  }
  return out;
}

function labelsOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(rec(v))) if (typeof x === 'string') out[k] = x;
  return out;
}

/** Istio's GetDestinationHost: the service a destination host resolves to from `sourceNs`, honouring exportTo. */
export function destinationService(sourceNs: string, exportTo: string[], host: string, services: Map<string, ServiceView>): ServiceView | undefined {
  const all = services.get(scoped(EXPORT_ALL, sourceNs, host));
  if (all) return all;
  if (exportTo.length === 0) {
    const s = services.get(scoped(sourceNs, sourceNs, host));
    if (s) return s;
  } else {
    for (const e0 of exportTo) {
      const e = e0 === EXPORT_LOCAL ? sourceNs : e0;
      const s = services.get(scoped(e, sourceNs, host));
      if (s) return s;
    }
  }
  // Wildcard ServiceEntry hosts cover any host with their suffix.
  for (const [key, s] of services) {
    const [scope, seHost] = splitScoped(key);
    if (!seHost.startsWith('*')) continue;
    if (scope !== EXPORT_ALL && scope !== sourceNs) continue;
    if (host.replace(/^\*/, '').endsWith(seHost.slice(1))) return s;
  }
  return undefined;
}
