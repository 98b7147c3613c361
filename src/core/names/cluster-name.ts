// Envoy cluster names in Istio's format: `outbound|9080|v1|reviews.default.svc.cluster.local`,
// `inbound|9080||`. The one place that formats and parses them, so no code builds or splits them ad hoc.
import { type Result, ok, err } from '../result.ts';

export type TrafficDirection = 'outbound' | 'inbound';

export interface ClusterName {
  direction: TrafficDirection;
  port: number;
  /** DestinationRule subset name; empty for the whole service. */
  subset: string;
  /** Fully qualified service host; empty for inbound clusters. */
  host: string;
}

/** Special clusters Istio defines. */
export const PassthroughCluster = 'PassthroughCluster';
export const BlackHoleCluster = 'BlackHoleCluster';
export const InboundPassthroughCluster = 'InboundPassthroughCluster';

export function formatClusterName(c: ClusterName): string {
  return `${c.direction}|${c.port}|${c.subset}|${c.host}`;
}

export function outboundCluster(host: string, port: number, subset = ''): string {
  return formatClusterName({ direction: 'outbound', port, subset, host });
}

export function inboundCluster(port: number): string {
  return formatClusterName({ direction: 'inbound', port, subset: '', host: '' });
}

export function parseClusterName(name: string): Result<ClusterName, string> {
  const parts = name.split('|');
  if (parts.length !== 4) return err(`cluster name "${name}" is not direction|port|subset|host`);
  const [direction, portText, subset, host] = parts as [string, string, string, string];
  if (direction !== 'outbound' && direction !== 'inbound') return err(`cluster name "${name}": unknown direction "${direction}"`);
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return err(`cluster name "${name}": bad port "${portText}"`);
  return ok({ direction, port, subset, host });
}
