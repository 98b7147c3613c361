// The one mutator of the proxy's xDS-derived configuration. Each accepted response is compiled resource by
// resource; a resource that fails to compile keeps its last good version (or stays absent) and its errors are
// returned for the NACK. In state of the world LDS and CDS carry the full set (absent = removed) and RDS and EDS
// are by name; a delta update carries changed resources of any type and names the removed ones.
import type { FieldError, Result } from '../../core/result.ts';
import { TypeUrl, decodeAny, wireSourceOf } from '../../xds/protos.ts';
import { compileCluster, compileLoadAssignment, type ClusterConfig, type LoadAssignment } from '../cluster/cluster-config.ts';
import { compileListener, type ListenerConfig } from '../listener/listener-config.ts';
import { compileRouteConfiguration, type RouteTable } from '../router/route-table.ts';
import type { Raw } from './raw.ts';
import { buildSnapshot, type ProxySnapshot } from './snapshot.ts';
import { StatStore } from '../stats/stat-store.ts';

export interface ResourceError {
  typeUrl: string;
  name: string;
  errors: FieldError[];
}

interface Entry<T> {
  value: T;
  /** The resource as received (config_dump). */
  readonly raw: Raw;
  version: string;
}

/**
 * An accepted resource. A decoded xDS object is several times larger than its wire bytes and mostly not shared with
 * the compiled value, so an entry keeps the bytes and decodes them when `raw` is read (config_dump); objects that did
 * not come from the wire (bootstrap, tests) are kept as they are.
 */
function entry<T>(value: T, raw: Raw, version: string): Entry<T> {
  const any = wireSourceOf(raw);
  if (!any) return { value, raw, version };
  return {
    value,
    version,
    get raw(): Raw {
      return decodeAny(any);
    },
  };
}

type Kind = 'listener' | 'route' | 'cluster' | 'endpoint';

const kindOf: Record<string, Kind> = {
  [TypeUrl.listener]: 'listener',
  [TypeUrl.route]: 'route',
  [TypeUrl.cluster]: 'cluster',
  [TypeUrl.endpoint]: 'endpoint',
};

export class ConfigState {
  readonly listeners = new Map<string, Entry<ListenerConfig>>();
  readonly routes = new Map<string, Entry<RouteTable>>();
  readonly clusters = new Map<string, Entry<ClusterConfig>>();
  readonly endpoints = new Map<string, Entry<LoadAssignment>>();
  /** Last accepted version per type URL. */
  readonly versions = new Map<string, string>();
  /** Last rejection per type URL, for config_dump and logs. */
  readonly rejected = new Map<string, { version: string; errors: ResourceError[] }>();
  /** Named counters of the compiled filters (RBAC, JWT, ext_authz), kept across config versions as Envoy's are. */
  readonly stats = new StatStore();

  /**
   * Apply one xDS response's resources. Returns the errors of rejected resources (empty = ACK). With `removed`
   * (delta xDS) the resources are changes only and the named ones are removed.
   */
  apply(typeUrl: string, resources: readonly Raw[], version: string, removed?: readonly string[]): ResourceError[] {
    const kind = kindOf[typeUrl];
    if (!kind) return [{ typeUrl, name: '', errors: [{ path: '', message: `type ${typeUrl} is not supported by this proxy` }] }];
    const full = removed === undefined;
    let errors: ResourceError[];
    switch (kind) {
      case 'listener':
        errors = applyTo(this.listeners, resources, version, (raw) => compileListener(raw, this.stats), (r) => String(r['name'] ?? ''), full, typeUrl, removed);
        break;
      case 'route':
        errors = applyTo(this.routes, resources, version, compileRouteConfiguration, (r) => String(r['name'] ?? ''), false, typeUrl, removed);
        break;
      case 'cluster':
        errors = applyTo(this.clusters, resources, version, compileCluster, (r) => String(r['name'] ?? ''), full, typeUrl, removed);
        break;
      case 'endpoint':
        errors = applyTo(this.endpoints, resources, version, compileLoadAssignment, (r) => String(r['cluster_name'] ?? ''), false, typeUrl, removed);
        break;
    }
    if (errors.length === 0) {
      this.versions.set(typeUrl, version);
      this.rejected.delete(typeUrl);
    } else this.rejected.set(typeUrl, { version, errors });
    return errors;
  }

  /** Drop RDS/EDS resources nobody references any more. */
  retain(typeUrl: string, names: ReadonlySet<string>): void {
    const map = typeUrl === TypeUrl.route ? this.routes : typeUrl === TypeUrl.endpoint ? this.endpoints : undefined;
    if (!map) return;
    for (const k of [...map.keys()]) if (!names.has(k)) map.delete(k);
  }

  /** RDS names referenced by the current listeners (the RDS subscription). */
  routeNames(): Set<string> {
    const out = new Set<string>();
    for (const { value } of this.listeners.values()) {
      for (const c of [...value.chains, ...(value.defaultChain ? [value.defaultChain] : [])]) {
        if (c.action.kind === 'http' && c.action.hcm.route.kind === 'rds') out.add(c.action.hcm.route.name);
      }
    }
    return out;
  }

  /** EDS names referenced by the current clusters (the EDS subscription). */
  endpointNames(): Set<string> {
    const out = new Set<string>();
    for (const { value } of this.clusters.values()) if (value.type === 'eds') out.add(value.edsServiceName);
    return out;
  }

  snapshot(): ProxySnapshot {
    const listeners = new Map([...this.listeners].map(([k, e]) => [k, e.value]));
    const routes = new Map([...this.routes].map(([k, e]) => [k, e.value]));
    return buildSnapshot(listeners, routes);
  }

  clusterConfigs(): ClusterConfig[] {
    return [...this.clusters.values()].map((e) => e.value);
  }

  assignments(): LoadAssignment[] {
    return [...this.endpoints.values()].map((e) => e.value);
  }
}

function applyTo<T>(
  map: Map<string, Entry<T>>,
  resources: readonly Raw[],
  version: string,
  compile: (raw: Raw) => Result<T, FieldError[]>,
  nameOf: (raw: Raw) => string,
  stateOfTheWorld: boolean,
  typeUrl: string,
  removed: readonly string[] = [],
): ResourceError[] {
  const errors: ResourceError[] = [];
  const seen = new Set<string>();
  const next = new Map<string, Entry<T>>();
  for (const raw of resources) {
    const name = nameOf(raw);
    if (seen.has(name)) {
      errors.push({ typeUrl, name, errors: [{ path: 'name', message: `duplicate resource name "${name}" in one response` }] });
      continue;
    }
    seen.add(name);
    const r = compile(raw);
    if (r.ok) next.set(name, entry(r.value, raw, version));
    else {
      errors.push({ typeUrl, name, errors: r.error });
      const old = map.get(name);
      if (old) next.set(name, old);
    }
  }
  if (stateOfTheWorld) map.clear();
  for (const name of removed) map.delete(name);
  for (const [k, v] of next) map.set(k, v);
  return errors;
}

/** One NACK message listing every rejected resource with its field paths. */
export function describeErrors(errors: readonly ResourceError[]): string {
  return errors
    .map((e) => `${e.name || '(unnamed)'}: ${e.errors.map((f) => (f.path ? `${f.path}: ${f.message}` : f.message)).join('; ')}`)
    .join('\n');
}
