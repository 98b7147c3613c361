// VirtualService records for the snapshot: hosts, destinations and gateway names resolved to full names once,
// delegation expanded (a root route that says `delegate` is replaced by the delegate's routes, matches merged),
// and an index by gateway (`mesh` for sidecars, `namespace/name` for Gateways).
import type { Resource } from '../../config/api/resource.ts';
import { resolveHost } from './hosts.ts';
import type { Destination, HTTPMatchRequest, HTTPRoute, VirtualServiceSpec } from './istio-types.ts';

export interface VirtualServiceRecord {
  name: string;
  namespace: string;
  /** Resolved hosts (FQDN or wildcard); empty for delegate VirtualServices. */
  hosts: readonly string[];
  /** Resolved gateways: `mesh` or `namespace/name`. */
  gateways: readonly string[];
  exportTo: readonly string[];
  /** The spec with every destination host resolved and delegation expanded. */
  spec: VirtualServiceSpec;
}

/** Resolve a gateway reference as written in a VirtualService in `namespace`. */
export function resolveGatewayRef(ref: string, namespace: string): string {
  if (ref === 'mesh' || ref.includes('/')) return ref;
  // `name.namespace` is an older Istio form; a plain name is relative to the VirtualService's namespace.
  const dot = ref.indexOf('.');
  if (dot > 0 && !ref.includes('/')) return `${ref.slice(dot + 1)}/${ref.slice(0, dot)}`;
  return `${namespace}/${ref}`;
}

function resolveDest(d: Destination, ns: string, suffix: string): Destination {
  return { ...d, host: resolveHost(d.host, ns, suffix) };
}

function resolveHttp(r: HTTPRoute, ns: string, suffix: string): HTTPRoute {
  const out: HTTPRoute = { ...r };
  if (r.route) out.route = r.route.map((d) => ({ ...d, destination: resolveDest(d.destination, ns, suffix) }));
  if (r.mirror) out.mirror = resolveDest(r.mirror, ns, suffix);
  if (r.mirrors) out.mirrors = r.mirrors.map((m) => ({ ...m, destination: resolveDest(m.destination, ns, suffix) }));
  if (r.match) out.match = r.match.map((m) => (m.gateways ? { ...m, gateways: m.gateways.map((g) => resolveGatewayRef(g, ns)) } : m));
  return out;
}

function resolveSpec(spec: VirtualServiceSpec, ns: string, suffix: string): VirtualServiceSpec {
  const out: VirtualServiceSpec = { ...spec };
  if (spec.http) out.http = spec.http.map((r) => resolveHttp(r, ns, suffix));
  if (spec.tcp) out.tcp = spec.tcp.map((r) => ({ ...r, route: r.route?.map((d) => ({ ...d, destination: resolveDest(d.destination, ns, suffix) })) }));
  if (spec.tls) out.tls = spec.tls.map((r) => ({ ...r, route: r.route?.map((d) => ({ ...d, destination: resolveDest(d.destination, ns, suffix) })) }));
  return out;
}

/** Merge a root match with a delegate match: both must hold; the delegate's more specific fields win. */
function mergeMatch(root: HTTPMatchRequest, del: HTTPMatchRequest): HTTPMatchRequest {
  const merged: HTTPMatchRequest = { ...root, ...del };
  if (root.headers || del.headers) merged.headers = { ...(root.headers ?? {}), ...(del.headers ?? {}) };
  if (root.queryParams || del.queryParams) merged.queryParams = { ...(root.queryParams ?? {}), ...(del.queryParams ?? {}) };
  if (root.withoutHeaders || del.withoutHeaders) merged.withoutHeaders = { ...(root.withoutHeaders ?? {}), ...(del.withoutHeaders ?? {}) };
  if (root.name && del.name) merged.name = `${root.name}.${del.name}`;
  return merged;
}

function expandDelegate(root: HTTPRoute, delegate: VirtualServiceRecord): HTTPRoute[] {
  const out: HTTPRoute[] = [];
  for (const dr of delegate.spec.http ?? []) {
    if (dr.delegate) continue; // Istio allows one level of delegation only.
    const rootMatches = root.match ?? [];
    const delMatches = dr.match ?? [];
    let match: HTTPMatchRequest[] | undefined;
    if (rootMatches.length === 0) match = dr.match;
    else if (delMatches.length === 0) match = rootMatches;
    else match = rootMatches.flatMap((rm) => delMatches.map((dm) => mergeMatch(rm, dm)));
    // Root-level policies (headers, timeout …) apply unless the delegate route sets its own.
    const { delegate: _d, match: _m, ...rootRest } = root;
    out.push({ ...rootRest, ...dr, ...(match ? { match } : {}) });
  }
  return out;
}

/** Build VirtualService records from VirtualService resources. */
export function buildVirtualServices(resources: readonly Resource[], domainSuffix: string): VirtualServiceRecord[] {
  const all: VirtualServiceRecord[] = resources
    .filter((r) => r.kind === 'VirtualService')
    .map((r) => {
      const ns = r.metadata.namespace ?? 'default';
      const spec = (r.spec ?? {}) as VirtualServiceSpec;
      return {
        name: r.metadata.name,
        namespace: ns,
        hosts: (spec.hosts ?? []).map((h) => resolveHost(h, ns, domainSuffix)),
        gateways: spec.gateways && spec.gateways.length > 0 ? spec.gateways.map((g) => resolveGatewayRef(g, ns)) : ['mesh'],
        exportTo: spec.exportTo ?? [],
        spec: resolveSpec(spec, ns, domainSuffix),
      };
    });
  const byKey = new Map(all.map((v) => [`${v.namespace}/${v.name}`, v]));
  return all.map((v) => {
    if (!(v.spec.http ?? []).some((r) => r.delegate)) return v;
    const http = (v.spec.http ?? []).flatMap((r) => {
      if (!r.delegate) return [r];
      const del = byKey.get(`${r.delegate.namespace ?? v.namespace}/${r.delegate.name}`);
      // A missing delegate contributes no routes, as in Istio.
      return del ? expandDelegate(r, del) : [];
    });
    return { ...v, spec: { ...v.spec, http } };
  });
}

/** Index VirtualServices with hosts by each gateway they bind to. Delegates (no hosts) are not indexed. */
export function indexByGateway(vss: readonly VirtualServiceRecord[]): Map<string, VirtualServiceRecord[]> {
  const m = new Map<string, VirtualServiceRecord[]>();
  for (const v of vss) {
    if (v.hosts.length === 0) continue;
    for (const g of v.gateways) {
      const list = m.get(g) ?? [];
      list.push(v);
      m.set(g, list);
    }
  }
  return m;
}
