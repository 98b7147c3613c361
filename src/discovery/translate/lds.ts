// LDS for sidecars: virtualOutbound (15001, original-destination capture), an outbound listener per service port
// (`0.0.0.0_9080` with an HTTP connection manager using RDS route config `9080`, or tcp_proxy / SNI chains for
// TCP and TLS ports, `<vip>_<port>` for TCP services with a VIP), and virtualInbound (15006) with filter chains
// per workload port shaped by the PeerAuthentication mode (mTLS, plaintext, or both).
import { BlackHoleCluster, InboundPassthroughCluster, PassthroughCluster, inboundCluster, outboundCluster } from '../../core/names/cluster-name.ts';
import { Ports } from '../../core/ports.ts';
import { hostMatches } from '../snapshot/hosts.ts';
import { type Service, isHttpProtocol, parseProtocol, protocolFromPortName } from '../snapshot/model.ts';
import type { ProxyView } from '../snapshot/view.ts';
import { type Json, duration, socketAddress, tcpProxyFilter, u32 } from './common.ts';
import { inboundPorts } from './inbound.ts';
import { workloadSecurity } from './security/view.ts';
import { hcmPathNormalization } from './security/index.ts';
import { httpFilters } from './listener-parts.ts';
import { hcmFilter, istioDownstreamTls, listenerFilter } from './listener-parts.ts';
import { type RouteContext, destinationCluster } from './route.ts';
import { hcmTracing } from './tracing.ts';
import { parseDurationMillis } from '../../config/api/validation/common/duration.ts';

function outboundListener(name: string, address: string, port: number, chains: Json[], extra: Json = {}): Json {
  return { name, address: socketAddress(address, port), bind_to_port: { value: false }, traffic_direction: 'OUTBOUND', filter_chains: chains, ...extra };
}

/**
 * tcp_proxy target for a TCP or TLS service port: its VirtualService's tls route (by SNI = the service host) or tcp
 * route for this port, else the service cluster.
 */
function tcpTarget(view: ProxyView, svc: Service, port: number, tls: boolean): string | Array<{ name: string; weight: number }> {
  const ctx: RouteContext = { view, port, gateway: 'mesh', grpc: false };
  const vs = view.virtualServiceFor(svc.hostname, 'mesh');
  const portOk = (m: { port?: number; gateways?: string[] }) => (m.port === undefined || m.port === port) && (!m.gateways || m.gateways.length === 0 || m.gateways.includes('mesh'));
  const tlsRoute = tls
    ? vs?.spec.tls?.find((r) => r.match.some((m) => portOk(m) && m.sniHosts.some((h) => hostMatches(h, svc.hostname) || h === svc.hostname)))
    : undefined;
  const route = tlsRoute ?? vs?.spec.tcp?.find((r) => !r.match || r.match.length === 0 || r.match.some(portOk));
  const dests = route?.route ?? [];
  if (dests.length === 1) return destinationCluster(ctx, dests[0]!.destination);
  if (dests.length > 1) return dests.map((d) => ({ name: destinationCluster(ctx, d.destination), weight: d.weight ?? 0 })).filter((c) => c.weight > 0);
  return outboundCluster(svc.hostname, port);
}

function tcpChain(view: ProxyView, svc: Service, port: number, statPrefix: string, sni: boolean): Json {
  // As Istio: the service's DestinationRule connectionPool.tcp.idleTimeout is the tcp_proxy idle_timeout (0s = none).
  const idle = parseDurationMillis(view.destinationRule(svc)?.trafficPolicy?.connectionPool?.tcp?.idleTimeout);
  const chain: Json = { filters: [tcpProxyFilter(statPrefix, tcpTarget(view, svc, port, sni), idle)] };
  if (sni) chain['filter_chain_match'] = { server_names: [svc.hostname] };
  return chain;
}

/** Outbound listeners for every service port the proxy sees. */
export function outboundListeners(view: ProxyView): Json[] {
  const tracing = hcmTracing(view, 'sidecar-outbound');
  const byPort = new Map<number, { http: boolean; tcp: Array<{ svc: Service; tls: boolean }> }>();
  const vipListeners: Json[] = [];
  for (const svc of view.services) {
    for (const sp of svc.ports) {
      if (!view.outboundPortAllowed(svc, sp.port)) continue;
      const entry = byPort.get(sp.port) ?? { http: false, tcp: [] };
      byPort.set(sp.port, entry);
      if (isHttpProtocol(sp.protocol)) {
        entry.http = true;
        continue;
      }
      const tls = sp.protocol === 'HTTPS' || sp.protocol === 'TLS';
      const vip = svc.addresses.find((a) => !a.includes('/'));
      if (vip && svc.resolution !== 'NONE' && !tls) {
        const name = `${vip}_${sp.port}`;
        vipListeners.push(outboundListener(name, vip, sp.port, [tcpChain(view, svc, sp.port, `outbound|${sp.port}||${svc.hostname}`, false)]));
      } else entry.tcp.push({ svc, tls });
    }
  }
  const out: Json[] = [];
  for (const [port, entry] of [...byPort].sort((a, b) => a[0] - b[0])) {
    const name = `0.0.0.0_${port}`;
    if (entry.http) {
      out.push(outboundListener(name, '0.0.0.0', port, [{ filters: [hcmFilter(`outbound_0.0.0.0_${port}`, { rds: String(port) }, tracing)] }]));
      continue;
    }
    if (entry.tcp.length === 0) continue;
    const tlsSvcs = entry.tcp.filter((t) => t.tls);
    const chains: Json[] = tlsSvcs.map((t) => tcpChain(view, t.svc, port, `outbound|${port}||${t.svc.hostname}`, true));
    // Plain TCP services with addresses (VIPs or CIDRs, e.g. a ServiceEntry for an external IP range) match on the
    // original destination; at most one without addresses takes the rest of the port.
    const ranged = entry.tcp.filter((t) => !t.tls && t.svc.addresses.length > 0);
    for (const t of ranged) {
      const chain = tcpChain(view, t.svc, port, `outbound|${port}||${t.svc.hostname}`, false);
      chain['filter_chain_match'] = { prefix_ranges: t.svc.addresses.map(cidrRange).filter((r): r is Json => r !== undefined) };
      chains.push(chain);
    }
    const plain = entry.tcp.find((t) => !t.tls && t.svc.addresses.length === 0);
    const extra: Json = tlsSvcs.length > 0 ? { listener_filters: [listenerFilter.tlsInspector] } : {};
    if (plain) chains.push(tcpChain(view, plain.svc, port, `outbound|${port}||${plain.svc.hostname}`, false));
    else extra['default_filter_chain'] = { name: 'PassthroughFilterChain', filters: [tcpProxyFilter(PassthroughCluster, passthroughTarget(view))] };
    out.push(outboundListener(name, '0.0.0.0', port, chains, extra));
  }
  return [...out, ...vipListeners];
}

/** `10.0.0.0/8` or `10.0.0.1` as an Envoy CidrRange; undefined when malformed. */
function cidrRange(a: string): Json | undefined {
  const [ip = '', len] = a.split('/');
  const max = ip.includes(':') ? 128 : 32;
  const prefix = len === undefined ? max : Number(len);
  if (ip === '' || !Number.isInteger(prefix) || prefix < 0 || prefix > max) return undefined;
  return { address_prefix: ip, prefix_len: u32(prefix) };
}

function passthroughTarget(view: ProxyView): string {
  return view.outboundTrafficPolicy === 'REGISTRY_ONLY' ? BlackHoleCluster : PassthroughCluster;
}

export function virtualOutbound(view: ProxyView): Json {
  const target = passthroughTarget(view);
  return {
    name: 'virtualOutbound',
    address: socketAddress('0.0.0.0', Ports.proxyOutbound),
    use_original_dst: { value: true },
    traffic_direction: 'OUTBOUND',
    filter_chains: [{ name: 'virtualOutbound-catchall-tcp', filters: [tcpProxyFilter(target, target)] }],
  };
}

function inboundHcm(targetPort: number, security: readonly Json[], pathNormalization: Json, tracing: Json): Json {
  const cluster = inboundCluster(targetPort);
  return hcmFilter(
    `inbound_0.0.0.0_${targetPort}`,
    {
      inline: {
        name: cluster,
        virtual_hosts: [
          {
            name: `inbound|http|${targetPort}`,
            domains: ['*'],
            routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster, timeout: duration(0), max_stream_duration: { max_stream_duration: duration(0), grpc_timeout_header_max: duration(0) } } }],
          },
        ],
        validate_clusters: { value: false },
      },
    },
    { ...pathNormalization, ...tracing, forward_client_cert_details: 'APPEND_FORWARD', set_current_client_cert_details: { subject: { value: true }, dns: true, uri: true }, http_filters: [...security, ...httpFilters()] },
  );
}

/** virtualInbound: per workload port, an mTLS chain (transport_protocol tls) and/or a plaintext chain (raw_buffer). */
export function virtualInbound(view: ProxyView): Json {
  const chains: Json[] = [];
  const sec = workloadSecurity(view);
  const tracing = hcmTracing(view, 'sidecar-inbound');
  for (const p of inboundPorts(view)) {
    const mode = sec.mtls.modeFor(p.targetPort);
    const http = isHttpProtocol(p.protocol);
    const filters = http ? [inboundHcm(p.targetPort, sec.httpFilters, hcmPathNormalization(view.snapshot.mesh.pathNormalization), tracing)] : [...sec.tcpFilters, tcpProxyFilter(`inbound|${p.targetPort}||`, inboundCluster(p.targetPort))];
    const alpn = http ? ['h2', 'http/1.1'] : [];
    if (mode !== 'DISABLE') {
      chains.push({
        name: `${inboundCluster(p.targetPort)}-mtls`,
        filter_chain_match: { destination_port: u32(p.targetPort), transport_protocol: 'tls' },
        filters,
        transport_socket: istioDownstreamTls(alpn),
      });
    }
    if (mode !== 'STRICT') {
      chains.push({
        name: `${inboundCluster(p.targetPort)}-plaintext`,
        filter_chain_match: mode === 'DISABLE' ? { destination_port: u32(p.targetPort) } : { destination_port: u32(p.targetPort), transport_protocol: 'raw_buffer' },
        filters,
      });
    }
  }
  return {
    name: 'virtualInbound',
    address: socketAddress('0.0.0.0', Ports.proxyInbound),
    use_original_dst: { value: true },
    traffic_direction: 'INBOUND',
    listener_filters: [listenerFilter.originalDst, listenerFilter.tlsInspector],
    filter_chains: chains,
    default_filter_chain: { name: 'virtualInbound-passthrough', filters: [tcpProxyFilter(InboundPassthroughCluster, InboundPassthroughCluster)] },
  };
}

/**
 * Sidecar `egress` listeners with a port and `captureMode: NONE`: a listener bound to `bind:port` (default
 * 127.0.0.1), as Istio gives an app that is not captured a plain local port per service: HTTP ports route by RDS
 * `<port>`, TCP ports forward to the first admitted service with that port (its VirtualService tcp routes apply).
 */
export function egressBindListeners(view: ProxyView): Json[] {
  const out: Json[] = [];
  for (const eg of view.sidecar?.spec.egress ?? []) {
    const port = eg.port?.number;
    if (port === undefined || eg.captureMode !== 'NONE' || (eg.bind ?? '').startsWith('unix://')) continue;
    const bind = eg.bind ?? '127.0.0.1';
    const base = { name: `${bind}_${port}`, address: socketAddress(bind, port), traffic_direction: 'OUTBOUND' };
    if (isHttpProtocol(eg.port?.protocol ? parseProtocol(eg.port.protocol) : protocolFromPortName(eg.port?.name))) {
      out.push({ ...base, filter_chains: [{ filters: [hcmFilter(`outbound_${bind}_${port}`, { rds: String(port) }, hcmTracing(view, 'sidecar-outbound'))] }] });
      continue;
    }
    const svc = view.services.find((s) => view.outboundPortAllowed(s, port) && s.ports.some((p) => p.port === port && !isHttpProtocol(p.protocol)));
    if (svc) out.push({ ...base, filter_chains: [tcpChain(view, svc, port, `outbound|${port}||${svc.hostname}`, false)] });
  }
  return out;
}

/** LDS response for a sidecar. */
export function generateSidecarListeners(view: ProxyView): Json[] {
  return [virtualOutbound(view), ...outboundListeners(view), ...egressBindListeners(view), virtualInbound(view)];
}
