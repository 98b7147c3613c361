// `weft proxy-config cluster|listener|route|endpoint PROXY`: the xDS config a proxy holds, rendered from the
// control plane's /debug/config_dump (what it last sent the proxy), in istioctl's table layout; -o json prints
// the dump section itself. Exit codes: 0 shown, 2 usage error, unknown proxy or control plane unreachable.
import { ExitCode, UsageError } from '../../core/errors.ts';
import { parseClusterName } from '../../core/names/cluster-name.ts';
import type { CliIo } from '../io.ts';
import { fetchDebug, parseCommonFlags, renderTable } from './proxy-status.ts';
import { proxyConfigSecret, takeAdminAddress } from './proxy-config-secret.ts';

export const summary = 'Show the clusters, listeners, routes, endpoints or certificates of a proxy';

const HELP = `Usage: weft proxy-config cluster|listener|route|endpoint PROXY [--monitoring-address HOST:PORT] [-o table|json]
       weft proxy-config secret PROXY [--admin-address HOST:PORT] [-o table|json]

Show the xDS config the control plane last sent to a connected proxy. PROXY is the node id or name.namespace
(as 'weft proxy-status' prints it). 'secret' shows the proxy's certificates (workload chain and trusted roots),
read from the proxy's own admin port, since the control plane never holds them.

Flags:
  --monitoring-address HOST:PORT   The control plane's monitoring port (default 127.0.0.1:15014).
  --admin-address HOST:PORT        secret only: the proxy's admin port (default 127.0.0.1:15000).
  -o, --output FORMAT              table (default) or json (Envoy config_dump format).
  -h, --help                       Show this help.

Exit codes: 0 shown, 2 usage error, unknown proxy or control plane unreachable.
`;

type Json = Record<string, unknown>;
type Section = 'cluster' | 'listener' | 'route' | 'endpoint';
const sections: Record<string, Section> = {
  cluster: 'cluster', clusters: 'cluster', c: 'cluster',
  listener: 'listener', listeners: 'listener', l: 'listener',
  route: 'route', routes: 'route', r: 'route',
  endpoint: 'endpoint', endpoints: 'endpoint', ep: 'endpoint', e: 'endpoint',
};
const dumpType: Record<Section, string> = {
  cluster: 'ClustersConfigDump',
  listener: 'ListenersConfigDump',
  route: 'RoutesConfigDump',
  endpoint: 'EndpointsConfigDump',
};

const obj = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/** A Struct field as the proxy's config dump has it (`{fields: {k: {stringValue}}}`), or a plain JSON field. */
function structString(s: Json, key: string): string {
  const plain = str(s[key]);
  return plain || str(obj(obj(s['fields'])[key])['stringValue']);
}

/** Istio records the config a resource came from in metadata.filter_metadata.istio.config. */
function istioConfig(resource: Json): string {
  const path = structString(obj(obj(obj(resource['metadata'])['filter_metadata'])['istio']), 'config');
  const m = /namespaces\/([^/]+)\/[^/]+\/([^/]+)$/.exec(path);
  return m ? `${m[2]}.${m[1]}` : '-';
}

function clusterRows(entries: unknown[]): string[][] {
  const rows = entries.map((e) => {
    const c = obj(obj(e)['cluster']);
    const name = str(c['name']);
    const type = str(c['type']) || (c['cluster_type'] ? 'AGGREGATE' : 'EDS');
    const p = parseClusterName(name);
    if (!p.ok) return [name, '-', '-', '-', type, '-'];
    return [p.value.host === '' ? '' : p.value.host, String(p.value.port), p.value.subset === '' ? '-' : p.value.subset, p.value.direction, type, istioConfig(c)];
  });
  // istioctl's order: by service, then port, subset and direction.
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return rows.sort((a, b) => cmp(a[0]!, b[0]!) || Number(a[1]) - Number(b[1]) || cmp(a[2]!, b[2]!) || cmp(a[3]!, b[3]!));
}

function matchOf(fcm: Json): string {
  const parts: string[] = [];
  const sni = arr(fcm['server_names']).map(str);
  if (sni.length) parts.push(`SNI: ${sni.join(',')}`);
  const tp = str(fcm['transport_protocol']);
  if (tp) parts.push(`Trans: ${tp}`);
  const alpn = arr(fcm['application_protocols']).map(str);
  if (alpn.length) parts.push(`App: ${alpn.join(',')}`);
  const dp = str(obj(fcm['destination_port'])['value'] ?? fcm['destination_port']);
  if (dp) parts.push(`Port: ${dp}`);
  const ranges = arr(fcm['prefix_ranges']).map((r) => `${str(obj(r)['address_prefix'])}/${str(obj(obj(r)['prefix_len'])['value'] ?? obj(r)['prefix_len'])}`);
  if (ranges.length) parts.push(`Addr: ${ranges.join(',')}`);
  return parts.length ? parts.join('; ') : 'ALL';
}

function destinationOf(filters: unknown[]): string {
  for (const f of filters) {
    const tc = obj(obj(f)['typed_config']);
    const type = str(tc['@type']);
    if (type.endsWith('HttpConnectionManager')) {
      const rds = obj(tc['rds']);
      if (rds['route_config_name'] !== undefined) return `Route: ${str(rds['route_config_name'])}`;
      return 'Inline Route';
    }
    if (type.endsWith('TcpProxy')) {
      if (tc['cluster'] !== undefined) return `Cluster: ${str(tc['cluster'])}`;
      return `WeightedClusters: ${arr(obj(tc['weighted_clusters'])['clusters']).map((c) => str(obj(c)['name'])).join(',')}`;
    }
  }
  return filters.length ? str(obj(filters[0])['name']) : '-';
}

function listenerRows(entries: unknown[]): string[][] {
  const rows: string[][] = [];
  for (const e of entries) {
    const l = obj(obj(obj(e)['active_state'])['listener']);
    const name = str(l['name']);
    const sa = obj(obj(l['address'])['socket_address']);
    const address = str(sa['address']) || '-';
    const port = str(sa['port_value']) || '-';
    const api = obj(obj(l['api_listener'])['api_listener']);
    if (Object.keys(api).length > 0) {
      rows.push([name, '-', '-', 'API listener', destinationOf([{ typed_config: api }])]);
      continue;
    }
    const chains = arr(l['filter_chains']);
    if (chains.length === 0) rows.push([name, address, port, 'ALL', '-']);
    for (const fc of chains) rows.push([name, address, port, matchOf(obj(obj(fc)['filter_chain_match'])), destinationOf(arr(obj(fc)['filters']))]);
  }
  return rows;
}

function routeMatch(m: Json): string {
  let s = '';
  if (m['prefix'] !== undefined) s = `${str(m['prefix'])}*`;
  else if (m['path'] !== undefined) s = str(m['path']);
  else if (m['safe_regex'] !== undefined) s = `regex ${str(obj(m['safe_regex'])['regex'])}`;
  else if (m['path_separated_prefix'] !== undefined) s = `${str(m['path_separated_prefix'])}/*`;
  const headers = arr(m['headers']).map((h) => str(obj(h)['name']));
  return headers.length ? `${s} (headers: ${headers.join(',')})` : s;
}

function routeRows(entries: unknown[]): string[][] {
  const rows: string[][] = [];
  for (const e of entries) {
    const rc = obj(obj(e)['route_config']);
    const name = str(rc['name']);
    for (const vh of arr(rc['virtual_hosts'])) {
      const v = obj(vh);
      const domains = arr(v['domains']).map(str);
      const dom = domains.length > 2 ? `${domains[0]} + ${domains.length - 1} more...` : domains.join(', ');
      for (const r of arr(v['routes'])) rows.push([name, str(v['name']), dom, routeMatch(obj(obj(r)['match'])), istioConfig(obj(r))]);
      if (arr(v['routes']).length === 0) rows.push([name, str(v['name']), dom, '-', '-']);
    }
  }
  return rows;
}

function endpointRows(entries: unknown[]): string[][] {
  const rows: string[][] = [];
  for (const e of entries) {
    const cla = obj(obj(e)['endpoint_config']);
    const cluster = str(cla['cluster_name']);
    for (const le of arr(cla['endpoints'])) {
      for (const lb of arr(obj(le)['lb_endpoints'])) {
        const lbe = obj(lb);
        const sa = obj(obj(obj(lbe['endpoint'])['address'])['socket_address']);
        const weight = str(obj(lbe['load_balancing_weight'])['value'] ?? lbe['load_balancing_weight']) || '1';
        rows.push([`${str(sa['address'])}:${str(sa['port_value'])}`, str(lbe['health_status']) || 'HEALTHY', weight, cluster]);
      }
    }
  }
  return rows;
}

export function renderSection(section: Section, dump: Json): string {
  const configs = arr(dump['configs']).map(obj);
  const part = configs.find((c) => str(c['@type']).endsWith(dumpType[section])) ?? {};
  switch (section) {
    case 'cluster':
      return renderTable(['SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE', 'DESTINATION RULE'], clusterRows(arr(part['dynamic_active_clusters'])));
    case 'listener':
      return renderTable(['NAME', 'ADDRESSES', 'PORT', 'MATCH', 'DESTINATION'], listenerRows(arr(part['dynamic_listeners'])));
    case 'route':
      return renderTable(['NAME', 'VHOST NAME', 'DOMAINS', 'MATCH', 'VIRTUAL SERVICE'], routeRows(arr(part['dynamic_route_configs'])));
    case 'endpoint':
      return renderTable(['ENDPOINT', 'STATUS', 'WEIGHT', 'CLUSTER'], endpointRows(arr(part['dynamic_endpoint_configs'])));
  }
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const { adminAddress, rest: others } = takeAdminAddress(args);
  const flags = parseCommonFlags(others, 'proxy-config');
  if (flags === 'help') {
    io.out(HELP);
    return ExitCode.ok;
  }
  const [what, proxy, ...rest] = flags.positional;
  if (what === undefined) throw new UsageError('name what to show: cluster, listener, route, endpoint or secret (weft proxy-config cluster PROXY)');
  if (what === 'secret' || what === 'secrets' || what === 's') {
    if (proxy === undefined) throw new UsageError(`name the proxy: weft proxy-config ${what} <node id or name.namespace> --admin-address HOST:PORT`);
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
    io.out(await proxyConfigSecret(proxy, adminAddress, flags.output));
    return ExitCode.ok;
  }
  if (adminAddress !== undefined) throw new UsageError('--admin-address applies to "weft proxy-config secret" only');
  const section = sections[what];
  if (section === undefined) throw new UsageError(`unknown config type "${what}": use cluster, listener, route, endpoint or secret`);
  if (proxy === undefined) throw new UsageError(`name the proxy: weft proxy-config ${what} <node id or name.namespace> (see 'weft proxy-status')`);
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
  const dump = obj(await fetchDebug(flags.monitoringAddress, `/debug/config_dump?proxyID=${encodeURIComponent(proxy)}`));
  if (flags.output === 'json') {
    const part = arr(dump['configs']).map(obj).find((c) => str(c['@type']).endsWith(dumpType[section])) ?? {};
    io.out(JSON.stringify(part, null, 2) + '\n');
  } else io.out(renderSection(section, dump));
  return ExitCode.ok;
}
