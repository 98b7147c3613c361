// A traffic simulator over generated xDS, in the manner of Istio's: a request ({port, host, path, headers}) goes in;
// the listener, route configuration, virtual host, route and cluster(s) Envoy would pick come out. It reads only the
// resources (LDS + RDS), so tests check the meaning of the golden output, not just its bytes.
import { RE2JS } from 're2js';
import type { Json } from './common.ts';

export interface SimRequest {
  port: number;
  host: string;
  path: string;
  headers?: Record<string, string>;
  method?: string;
}

export interface SimResult {
  listener?: string;
  routeConfig?: string;
  virtualHost?: string;
  route?: string;
  /** The cluster, or each weighted cluster with its weight. */
  clusters: Array<{ name: string; weight: number }>;
  directResponse?: number;
  redirect?: Json;
  /** Per-route fault config, when the route injects faults. */
  fault?: Json;
  /** Why nothing matched, when nothing did. */
  error?: string;
}

function arr(v: unknown): Json[] {
  return Array.isArray(v) ? (v as Json[]) : [];
}

function obj(v: unknown): Json {
  return v && typeof v === 'object' ? (v as Json) : {};
}

function stringMatches(m: Json, value: string): boolean {
  const ic = m['ignore_case'] === true;
  const v = ic ? value.toLowerCase() : value;
  const norm = (s: unknown) => (ic ? String(s).toLowerCase() : String(s));
  if ('exact' in m) return v === norm(m['exact']);
  if ('prefix' in m) return v.startsWith(norm(m['prefix']));
  if ('suffix' in m) return v.endsWith(norm(m['suffix']));
  if ('contains' in m) return v.includes(norm(m['contains']));
  if ('safe_regex' in m) return RE2JS.compile(String(obj(m['safe_regex'])['regex'])).matches(value);
  return false;
}

function headerMatches(h: Json, headers: Record<string, string>): boolean {
  const value = headers[String(h['name']).toLowerCase()];
  let ok: boolean;
  if (h['present_match'] === true) ok = value !== undefined;
  else if (value === undefined) ok = false;
  else if ('string_match' in h) ok = stringMatches(obj(h['string_match']), value);
  else if ('exact_match' in h) ok = value === h['exact_match'];
  else ok = true;
  return h['invert_match'] === true ? !ok : ok;
}

function routeMatches(match: Json, req: SimRequest, headers: Record<string, string>): boolean {
  const path = req.path.split('?')[0] ?? '';
  const cs = obj(match['case_sensitive'])['value'] !== false;
  const p = cs ? path : path.toLowerCase();
  const norm = (s: unknown) => (cs ? String(s) : String(s).toLowerCase());
  if ('path' in match && p !== norm(match['path'])) return false;
  if ('prefix' in match && !p.startsWith(norm(match['prefix']))) return false;
  if ('safe_regex' in match && !RE2JS.compile(String(obj(match['safe_regex'])['regex'])).matches(path)) return false;
  return arr(match['headers']).every((h) => headerMatches(h, headers));
}

/** Envoy's virtual-host selection: exact domain, then longest `*.suffix`, then longest `prefix*`, then `*`. */
export function selectVirtualHost(vhosts: readonly Json[], host: string): Json | undefined {
  const candidates = [host.toLowerCase()];
  const colon = host.lastIndexOf(':');
  if (colon > 0 && !host.includes(']')) candidates.push(host.slice(0, colon).toLowerCase());
  for (const h of candidates) {
    const exact = vhosts.find((v) => arr(v['domains']).some((d) => String(d).toLowerCase() === h));
    if (exact) return exact;
  }
  for (const h of candidates) {
    let best: Json | undefined;
    let bestLen = -1;
    for (const v of vhosts) {
      for (const d of arr(v['domains']).map(String)) {
        if (d.startsWith('*') && d.length > 1 && h.endsWith(d.slice(1)) && d.length > bestLen) {
          best = v;
          bestLen = d.length;
        } else if (d.endsWith('*') && d.length > 1 && h.startsWith(d.slice(0, -1)) && d.length > bestLen) {
          best = v;
          bestLen = d.length;
        }
      }
    }
    if (best) return best;
  }
  return vhosts.find((v) => arr(v['domains']).some((d) => String(d) === '*'));
}

/** The route configuration name an HTTP listener on `port` uses (RDS), looking at its first HCM filter chain. */
function rdsName(listeners: readonly Json[], port: number): { listener?: string; routeConfig?: string } {
  const l = listeners.find((x) => obj(obj(x['address'])['socket_address'])['port_value'] === port && !['virtualOutbound', 'virtualInbound'].includes(String(x['name'])));
  if (!l) return {};
  for (const chain of arr(l['filter_chains'])) {
    for (const f of arr(chain['filters'])) {
      const tc = obj(f['typed_config']);
      const rds = obj(tc['rds']);
      if (typeof rds['route_config_name'] === 'string') return { listener: String(l['name']), routeConfig: rds['route_config_name'] };
    }
  }
  return { listener: String(l['name']) };
}

/** Simulate one request against listeners and route configurations (API listeners match by name for proxyless gRPC). */
export function simulate(listeners: readonly Json[], routes: readonly Json[], req: SimRequest): SimResult {
  const { listener, routeConfig } = rdsName(listeners, req.port);
  if (!listener) return { clusters: [], error: `no listener on port ${req.port}` };
  if (!routeConfig) return { listener, clusters: [], error: `listener ${listener} has no HTTP connection manager with RDS` };
  const rc = routes.find((r) => r['name'] === routeConfig);
  if (!rc) return { listener, routeConfig, clusters: [], error: `route configuration ${routeConfig} not found` };
  const vh = selectVirtualHost(arr(rc['virtual_hosts']), req.host);
  if (!vh) return { listener, routeConfig, clusters: [], error: `no virtual host for ${req.host} (404 NR)` };
  const headers: Record<string, string> = { ':authority': req.host, ':method': req.method ?? 'GET', ':path': req.path };
  for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
  const route = arr(vh['routes']).find((r) => routeMatches(obj(r['match']), req, headers));
  const base: SimResult = { listener, routeConfig, virtualHost: String(vh['name']), clusters: [] };
  if (!route) return { ...base, error: `no route matched ${req.path} (404 NR)` };
  const out: SimResult = { ...base };
  if (typeof route['name'] === 'string') out.route = route['name'];
  const fault = obj(route['typed_per_filter_config'])['envoy.filters.http.fault'];
  if (fault) out.fault = obj(fault);
  if (route['direct_response']) out.directResponse = Number(obj(route['direct_response'])['status']);
  if (route['redirect']) out.redirect = obj(route['redirect']);
  const action = obj(route['route']);
  if (typeof action['cluster'] === 'string') out.clusters = [{ name: action['cluster'], weight: 100 }];
  for (const c of arr(obj(action['weighted_clusters'])['clusters'])) out.clusters.push({ name: String(c['name']), weight: Number(obj(c['weight'])['value']) });
  return out;
}
