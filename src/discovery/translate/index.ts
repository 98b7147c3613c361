// Translation entry point: (proxy, snapshot, type) → xDS resources, a pure function. Dispatches to one generator
// per xDS type, by proxy kind: sidecar, gateway (`router`), or proxyless gRPC (GENERATOR=grpc).
import { TypeUrl, type XdsTypeUrl } from '../../xds/protos.ts';
import type { Proxy } from '../proxy.ts';
import type { MeshSnapshot } from '../snapshot/snapshot.ts';
import { type ProxyView, proxyView } from '../snapshot/view.ts';
import { inboundClusters, sharedClusters } from './cds.ts';
import { proxyClass, shared } from './cache.ts';
import type { Json } from './common.ts';
import { generateEndpoints } from './eds.ts';
import { generateGatewayListeners, generateGatewayRoutes } from './gateway.ts';
import { generateGrpcClusters, generateGrpcEndpoints, generateGrpcListeners, generateGrpcRoutes } from './grpc-proxyless.ts';
import { egressBindListeners, outboundListeners, virtualInbound, virtualOutbound } from './lds.ts';
import { generateSidecarRoutes } from './rds.ts';

export interface NamedResource {
  name: string;
  /** Envoy proto as a plain object (snake_case field names, nested Anys as `{ '@type', ... }`), for encodeAny(typeUrl, resource). */
  resource: Record<string, unknown>;
}

function filterNames(resources: readonly Json[], requested: readonly string[] | undefined): Json[] {
  if (!requested || requested.length === 0) return [...resources];
  const want = new Set(requested);
  return resources.filter((r) => want.has(r['name'] as string));
}

/** The parts of a response that do not depend on the proxy's IP or name (memoized per snapshot and proxy class). */
function sharedPart(view: ProxyView, typeUrl: XdsTypeUrl, requested: readonly string[]): readonly Json[] {
  const p = view.proxy;
  return shared(view.snapshot, { proxy: proxyClass(p), part: typeUrl, requested }, (): Json[] => {
    const names = requested.length > 0 ? requested : undefined;
    if (p.generator === 'grpc') {
      switch (typeUrl) {
        case TypeUrl.listener:
          return generateGrpcListeners(view, names);
        case TypeUrl.route:
          return generateGrpcRoutes(view, names);
        case TypeUrl.cluster:
          return generateGrpcClusters(view, names);
        case TypeUrl.endpoint:
          return generateGrpcEndpoints(view, names);
        case TypeUrl.secret:
          return [];
      }
    }
    switch (typeUrl) {
      case TypeUrl.listener:
        return p.type === 'router' ? generateGatewayListeners(view) : [virtualOutbound(view), ...outboundListeners(view), ...egressBindListeners(view)];
      case TypeUrl.route:
        return p.type === 'router' ? generateGatewayRoutes(view, names) : generateSidecarRoutes(view, names);
      case TypeUrl.cluster:
        return sharedClusters(view);
      case TypeUrl.endpoint:
        return generateEndpoints(view, names, true);
      case TypeUrl.secret:
        // Secrets (SDS) are served by the CA side, not derived from the mesh snapshot.
        return [];
    }
  });
}

function generate(view: ProxyView, typeUrl: XdsTypeUrl, requested: readonly string[]): Json[] {
  const p = view.proxy;
  const common = sharedPart(view, typeUrl, p.generator === 'grpc' || typeUrl === TypeUrl.route || typeUrl === TypeUrl.endpoint ? requested : []);
  if (p.generator === 'grpc' || p.type === 'router') return filterNames([...common], typeUrl === TypeUrl.listener || typeUrl === TypeUrl.cluster ? requested : undefined);
  // Sidecars: the inbound side is the proxy's own.
  switch (typeUrl) {
    case TypeUrl.listener:
      return filterNames([...common, virtualInbound(view)], requested);
    case TypeUrl.cluster:
      return filterNames([...common, ...inboundClusters(view)], requested);
    default:
      return [...common];
  }
}

/**
 * The xDS resources of one type for one proxy. `requestedNames` narrows the answer (names the client subscribed to);
 * empty or absent means all (wildcard). Proxyless gRPC listener names are resolved like targets (`host:port`).
 */
export function generateResources(proxy: Proxy, snapshot: MeshSnapshot, typeUrl: XdsTypeUrl, requestedNames?: readonly string[]): NamedResource[] {
  return generateFromView(proxyView(snapshot, proxy), typeUrl, requestedNames);
}

/** As generateResources, reusing a view built once per push for several types. */
export function generateFromView(view: ProxyView, typeUrl: XdsTypeUrl, requestedNames?: readonly string[]): NamedResource[] {
  const names = (requestedNames ?? []).filter((n) => n !== '*');
  return generate(view, typeUrl, names).map((r) => {
    const name = (r['name'] as string | undefined) ?? (r['cluster_name'] as string);
    return { name, resource: r };
  });
}

export { proxyView } from '../snapshot/view.ts';
export type { ProxyView } from '../snapshot/view.ts';
