// The link between serving and translation: the generator the pipeline hands to the discovery server, with a
// per-(snapshot, proxy) view built once and reused for every type, and the cache key under which proxies that
// translation cannot tell apart share generated output.
import type { Proxy } from '../discovery/proxy.ts';
import type { MeshSnapshot } from '../discovery/snapshot/snapshot.ts';
import { generateFromView, proxyView, type ProxyView } from '../discovery/translate/index.ts';
import { TypeUrl, type XdsTypeUrl } from '../xds/protos.ts';
import type { Generate } from './pipeline.ts';

const known = new Set<string>(Object.values(TypeUrl));

const views = new WeakMap<MeshSnapshot, WeakMap<Proxy, ProxyView>>();

function viewFor(snapshot: MeshSnapshot, proxy: Proxy): ProxyView {
  let perProxy = views.get(snapshot);
  if (!perProxy) {
    perProxy = new WeakMap();
    views.set(snapshot, perProxy);
  }
  let v = perProxy.get(proxy);
  if (!v) {
    v = proxyView(snapshot, proxy);
    perProxy.set(proxy, v);
  }
  return v;
}

/** Translation for the discovery server. Types Weft does not generate get no resources. */
export const generateForServer: Generate = (proxy, snapshot, typeUrl, names) => {
  if (!known.has(typeUrl)) return [];
  return generateFromView(viewFor(snapshot, proxy), typeUrl as XdsTypeUrl, names);
};

/** JSON with object keys sorted at every level, so equal values give equal strings. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stableJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

const ownEndpoints = new WeakMap<MeshSnapshot, Map<string, string[]>>();

/** address → `host|port|targetPort` of every endpoint at that address, per snapshot. */
function endpointsByAddress(snapshot: MeshSnapshot): Map<string, string[]> {
  let m = ownEndpoints.get(snapshot);
  if (m) return m;
  m = new Map();
  for (const [key, eps] of snapshot.endpointsByService) {
    for (const e of eps) {
      const list = m.get(e.address) ?? [];
      list.push(`${key}|${e.port}`);
      m.set(e.address, list);
    }
  }
  ownEndpoints.set(snapshot, m);
  return m;
}

/**
 * The generation cache key of a proxy under a snapshot: every field of the Proxy except its id and instance name
 * (translation reads neither), with its IP addresses replaced by the endpoints that sit at those addresses
 * (translation reads the IPs only to find the proxy's own workload for inbound listeners and clusters). Two
 * proxies with equal keys get identical resources, so the server generates and encodes once for both — replicas
 * of one workload, or proxyless clients, share. New Proxy fields are included automatically, which keeps the key
 * safe as the model grows.
 */
export function proxyCacheKey(p: Proxy, snapshot: MeshSnapshot): string {
  const { id: _id, name: _name, ipAddresses, ...rest } = p;
  const byAddress = endpointsByAddress(snapshot);
  const own = ipAddresses.flatMap((ip) => byAddress.get(ip) ?? []).sort();
  return stableJson({ ...rest, own });
}
