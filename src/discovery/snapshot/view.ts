// The per-proxy view of a snapshot: what one proxy may see (exportTo, its Sidecar's egress hosts), the
// VirtualServices and DestinationRules that apply to it, the Gateways that select it and its mTLS mode.
// Translation works from this view only.
import type { Proxy } from '../proxy.ts';
import { destinationRuleFor, type EffectiveDestinationRule } from './destination-rules.ts';
import { hostMatches } from './hosts.ts';
import type { MtlsMode } from './istio-types.ts';
import { isExportedTo } from './mesh.ts';
import { type Endpoint, type Service, endpointKey, labelsMatch } from './model.ts';
import type { GatewayRecord, MeshSnapshot, SidecarRecord } from './snapshot.ts';
import type { VirtualServiceRecord } from './virtual-services.ts';

export interface ProxyView {
  readonly proxy: Proxy;
  readonly snapshot: MeshSnapshot;
  /** Visible services, one per hostname (the proxy's own namespace wins a tie), sorted by hostname. */
  readonly services: readonly Service[];
  serviceByHost(host: string): Service | undefined;
  /** VirtualServices bound to `gateway` (`mesh` for sidecars) that the proxy may see, in config order. */
  virtualServices(gateway: string): readonly VirtualServiceRecord[];
  /** The VirtualService for a host on `gateway`: exact host first, then the most specific wildcard. */
  virtualServiceFor(host: string, gateway: string): VirtualServiceRecord | undefined;
  destinationRule(service: Service): EffectiveDestinationRule | undefined;
  endpoints(host: string, port: number): readonly Endpoint[];
  /** The Sidecar resource that applies to this proxy, if any. */
  readonly sidecar: SidecarRecord | undefined;
  /** Gateways whose selector matches this proxy (router proxies). */
  readonly gateways: readonly GatewayRecord[];
  /** PeerAuthentication mode for an inbound port of this proxy (PERMISSIVE when nothing says otherwise). */
  mtlsMode(port: number): Exclude<MtlsMode, 'UNSET'>;
  readonly outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /** Whether outbound listeners and routes on `port` include `service` (Sidecar egress listeners may be port-scoped). */
  outboundPortAllowed(service: Service, port: number): boolean;
}

function sidecarFor(s: MeshSnapshot, proxy: Proxy): SidecarRecord | undefined {
  const local = s.sidecarsByNamespace.get(proxy.namespace) ?? [];
  const selected = local.find((sc) => sc.spec.workloadSelector?.labels && labelsMatch(sc.spec.workloadSelector.labels, proxy.labels));
  if (selected) return selected;
  const nsWide = local.find((sc) => !sc.spec.workloadSelector);
  if (nsWide) return nsWide;
  return (s.sidecarsByNamespace.get(s.mesh.rootNamespace) ?? []).find((sc) => !sc.spec.workloadSelector);
}

/**
 * Sidecar egress `namespace/host` patterns: does one admit a config in `ns` for `host`? With `port`, only egress
 * listeners without a port or with that port count (Istio's port-scoped egress listeners).
 */
function egressAdmits(sidecar: SidecarRecord | undefined, proxyNs: string, ns: string, hosts: readonly string[], port?: number): boolean {
  if (!sidecar || !sidecar.spec.egress || sidecar.spec.egress.length === 0) return true;
  for (const eg of sidecar.spec.egress) {
    if (port !== undefined && eg.port?.number !== undefined && eg.port.number !== port) continue;
    for (const pattern of eg.hosts) {
      const slash = pattern.indexOf('/');
      const pns = slash < 0 ? '*' : pattern.slice(0, slash);
      const phost = slash < 0 ? pattern : pattern.slice(slash + 1);
      const nsOk = pns === '*' || (pns === '.' ? ns === proxyNs : pns === ns);
      if (pns === '~') continue;
      if (nsOk && hosts.some((h) => hostMatches(phost, h) || hostMatches(h, phost))) return true;
    }
  }
  return false;
}

function mtlsModeFor(s: MeshSnapshot, proxy: Proxy, port: number): Exclude<MtlsMode, 'UNSET'> {
  const local = s.peerAuthenticationsByNamespace.get(proxy.namespace) ?? [];
  const root = s.peerAuthenticationsByNamespace.get(s.mesh.rootNamespace) ?? [];
  const chain = [
    local.find((p) => p.spec.selector?.matchLabels && labelsMatch(p.spec.selector.matchLabels, proxy.labels)),
    local.find((p) => !p.spec.selector?.matchLabels),
    root.find((p) => !p.spec.selector?.matchLabels),
  ];
  for (const pa of chain) {
    if (!pa) continue;
    const portMode = pa.spec.selector?.matchLabels ? pa.spec.portLevelMtls?.[String(port)]?.mode : undefined;
    const mode = portMode && portMode !== 'UNSET' ? portMode : pa.spec.mtls?.mode;
    if (mode && mode !== 'UNSET') return mode;
  }
  return 'PERMISSIVE';
}

/** Build the view of `snapshot` for `proxy` (pure). */
export function proxyView(snapshot: MeshSnapshot, proxy: Proxy): ProxyView {
  const sidecar = sidecarFor(snapshot, proxy);
  const visible = (svc: Service): boolean => {
    const exportTo = svc.exportTo.length > 0 ? svc.exportTo : snapshot.mesh.defaultServiceExportTo;
    if (svc.namespace !== proxy.namespace && !isExportedTo(exportTo, svc.namespace, proxy.namespace)) return false;
    return egressAdmits(sidecar, proxy.namespace, svc.namespace, [svc.hostname]);
  };
  // One service per host: the proxy's own namespace wins, else the first visible (services are sorted).
  const pick = (candidates: readonly Service[]): Service | undefined => {
    let chosen: Service | undefined;
    for (const svc of candidates) {
      if (!visible(svc)) continue;
      if (svc.namespace === proxy.namespace) return svc;
      chosen ??= svc;
    }
    return chosen;
  };
  // Built lazily: a proxyless client asking for one target never pays for the whole mesh.
  let services: Service[] | undefined;
  const hostCache = new Map<string, Service | undefined>();
  const serviceByHost = (h: string): Service | undefined => {
    if (hostCache.has(h)) return hostCache.get(h);
    const svc = pick(snapshot.servicesByHost.get(h) ?? []);
    hostCache.set(h, svc);
    return svc;
  };
  const vsCache = new Map<string, VirtualServiceRecord[]>();
  const virtualServices = (gateway: string): VirtualServiceRecord[] => {
    const cached = vsCache.get(gateway);
    if (cached) return cached;
    const list = (snapshot.virtualServicesByGateway.get(gateway) ?? []).filter((vs) => {
      if (gateway !== 'mesh') return true; // Gateways see VirtualServices bound to them by name, across namespaces.
      const exportTo = vs.exportTo.length > 0 ? vs.exportTo : snapshot.mesh.defaultVirtualServiceExportTo;
      if (vs.namespace !== proxy.namespace && !isExportedTo(exportTo, vs.namespace, proxy.namespace)) return false;
      return egressAdmits(sidecar, proxy.namespace, vs.namespace, vs.hosts);
    });
    vsCache.set(gateway, list);
    return list;
  };
  // Per-gateway index of exact hosts (first VirtualService in config order wins) and the wildcard-host ones.
  const vsIndex = new Map<string, { exact: Map<string, VirtualServiceRecord>; wildcard: VirtualServiceRecord[] }>();
  const indexFor = (gateway: string) => {
    let idx = vsIndex.get(gateway);
    if (idx) return idx;
    idx = { exact: new Map(), wildcard: [] };
    for (const vs of virtualServices(gateway)) {
      for (const h of vs.hosts) {
        if (h.startsWith('*')) {
          if (!idx.wildcard.includes(vs)) idx.wildcard.push(vs);
        } else if (!idx.exact.has(h)) idx.exact.set(h, vs);
      }
    }
    vsIndex.set(gateway, idx);
    return idx;
  };
  const drCache = new Map<Service, EffectiveDestinationRule | undefined>();
  const gateways = proxy.type === 'router' ? snapshot.gateways.filter((g) => labelsMatch(g.spec.selector ?? {}, proxy.labels)) : [];
  return {
    proxy,
    snapshot,
    get services() {
      services ??= [...snapshot.servicesByHost.keys()]
        .sort()
        .map(serviceByHost)
        .filter((s): s is Service => s !== undefined);
      return services;
    },
    serviceByHost,
    virtualServices,
    virtualServiceFor(host, gateway) {
      const idx = indexFor(gateway);
      const exact = idx.exact.get(host);
      if (exact) return exact;
      let best: VirtualServiceRecord | undefined;
      let bestLen = -1;
      for (const vs of idx.wildcard) {
        for (const h of vs.hosts) if (h.startsWith('*') && hostMatches(h, host) && h.length > bestLen) {
          best = vs;
          bestLen = h.length;
        }
      }
      return best;
    },
    destinationRule: (svc) => {
      if (drCache.has(svc)) return drCache.get(svc);
      const dr = destinationRuleFor(snapshot.destinationRulesByHost, {
        proxyNamespace: proxy.namespace,
        proxyLabels: proxy.labels,
        serviceNamespace: svc.namespace,
        host: svc.hostname,
        rootNamespace: snapshot.mesh.rootNamespace,
        defaultExportTo: snapshot.mesh.defaultDestinationRuleExportTo,
      });
      drCache.set(svc, dr);
      return dr;
    },
    endpoints: (host, port) => snapshot.endpointsByService.get(endpointKey(host, port)) ?? [],
    sidecar,
    gateways,
    mtlsMode: (port) => mtlsModeFor(snapshot, proxy, port),
    outboundTrafficPolicy: sidecar?.spec.outboundTrafficPolicy?.mode ?? snapshot.mesh.outboundTrafficPolicy,
    outboundPortAllowed: (svc, port) => egressAdmits(sidecar, proxy.namespace, svc.namespace, [svc.hostname], port),
  };
}
