// Sidecar spec types: narrows what a sidecar proxy listens on (ingress) and which services it can reach (egress),
// for the workloads it selects (or the whole namespace, or the mesh from the root namespace).
import type { ConnectionPoolSettings, Destination, NetworkingWorkloadSelector, ServerTLSSettings } from './shared.ts';

export type CaptureMode = 'DEFAULT' | 'IPTABLES' | 'NONE';

export interface SidecarSpec {
  /** Workloads this Sidecar applies to; none means every workload in the namespace (one such Sidecar per namespace). */
  workloadSelector?: NetworkingWorkloadSelector;
  /** Inbound listeners; default one per service port of the workload. Needs a workloadSelector. */
  ingress?: IstioIngressListener[];
  /** Outbound listeners and the hosts each can reach; default all hosts in the mesh. At most one without a port (the catch-all, last). */
  egress?: IstioEgressListener[];
  /** Connection limits for inbound traffic to the application (all ports unless overridden per ingress listener). */
  inboundConnectionPool?: ConnectionPoolSettings;
  /** What happens to traffic to hosts not in the registry; default from mesh config (ALLOW_ANY). */
  outboundTrafficPolicy?: OutboundTrafficPolicy;
}

export interface SidecarPort {
  /** Port number 1–65535. */
  number?: number;
  /** Protocol (HTTP, TCP, …). */
  protocol?: string;
  /** Port name, a DNS-1123 label. */
  name?: string;
  /** Deprecated. */
  targetPort?: number;
}

export interface IstioIngressListener {
  /** Port the listener receives traffic on. Required. */
  port: SidecarPort;
  /** IP address to bind; default the workload's IPs. */
  bind?: string;
  /** How traffic reaches the listener; default DEFAULT (iptables when the workload is captured). */
  captureMode?: CaptureMode;
  /** Where the app listens: `127.0.0.1:PORT`, `[::1]:PORT`, `0.0.0.0:PORT`, `[::]:PORT` or `unix:///path`; default the instance IP and target port. */
  defaultEndpoint?: string;
  /** TLS terminated by the sidecar for this port (not ISTIO_MUTUAL). */
  tls?: ServerTLSSettings;
  /** Connection limits for this port; overrides inboundConnectionPool. */
  connectionPool?: ConnectionPoolSettings;
}

export interface IstioEgressListener {
  /** Port of the listener; none means the catch-all listener for every port. */
  port?: SidecarPort;
  /** IP address or `unix://` socket to bind; needed with captureMode NONE unless the port is absent. */
  bind?: string;
  /** How traffic reaches the listener; default DEFAULT. */
  captureMode?: CaptureMode;
  /** Reachable hosts as `namespace/dnsName` (`*`, `.`, `~` namespaces allowed). Required, non-empty. */
  hosts: string[];
}

export type OutboundTrafficPolicyMode = 'REGISTRY_ONLY' | 'ALLOW_ANY';

export interface OutboundTrafficPolicy {
  /** REGISTRY_ONLY blocks unknown hosts (502 / BlackHoleCluster); ALLOW_ANY passes them through; default ALLOW_ANY. */
  mode?: OutboundTrafficPolicyMode;
  /** Send unknown-host traffic through this egress proxy (needs ALLOW_ANY). */
  egressProxy?: Destination;
}
