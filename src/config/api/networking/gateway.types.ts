// Gateway spec types: listeners at the edge of the mesh (ingress/egress gateways), one per server: port, hosts
// exposed and TLS, bound to gateway workloads by label selector.
import type { Port, ServerTLSSettings } from './shared.ts';

export interface GatewaySpec {
  /** Listeners of the gateway. Required, non-empty. */
  servers?: Server[];
  /** Labels of the gateway workloads (pods) this config applies to; searched in all namespaces unless restricted by mesh config. */
  selector?: Record<string, string>;
}

export interface Server {
  /** Port the proxy listens on. Required. */
  port: Port;
  /** IP address or `unix://` socket to bind; default 0.0.0.0. */
  bind?: string;
  /** Hosts exposed (`host`, `ns/host`, `./host`, `*`); VirtualServices bind to them. Required, non-empty. */
  hosts: string[];
  /** TLS settings; required for HTTPS/TLS servers. */
  tls?: ServerTLSSettings;
  /** Default forward target (`127.0.0.1:PORT` or `unix://…`); unused by Istio gateways. */
  defaultEndpoint?: string;
  /** Name of the server, unique in the gateway; used in stats and route names. */
  name?: string;
}
