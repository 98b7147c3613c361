// xDS node ids in Istio's format: `sidecar~10.0.0.1~productpage-v1-abc.default~default.svc.cluster.local`
// (type~ip~podName.namespace~namespace.svc.<domain>). Gateways use `router`.
import { type Result, ok, err } from '../result.ts';

export type ProxyType = 'sidecar' | 'router';

export interface NodeId {
  type: ProxyType;
  ip: string;
  /** Pod or workload name. */
  name: string;
  namespace: string;
  /** DNS domain suffix, e.g. `default.svc.cluster.local`. */
  dnsDomain: string;
}

export function formatNodeId(n: NodeId): string {
  return `${n.type}~${n.ip}~${n.name}.${n.namespace}~${n.dnsDomain}`;
}

export function parseNodeId(id: string): Result<NodeId, string> {
  const parts = id.split('~');
  if (parts.length !== 4) return err(`node id "${id}" is not type~ip~name.namespace~domain`);
  const [type, ip, podNs, dnsDomain] = parts as [string, string, string, string];
  if (type !== 'sidecar' && type !== 'router') return err(`node id "${id}": type must be sidecar or router, not "${type}"`);
  const dot = podNs.lastIndexOf('.');
  if (dot <= 0) return err(`node id "${id}": "${podNs}" is not name.namespace`);
  return ok({ type, ip, name: podNs.slice(0, dot), namespace: podNs.slice(dot + 1), dnsDomain });
}

/** The proxy id shown by `weft proxy-status`: `name.namespace`. */
export function proxyShortName(n: NodeId): string {
  return `${n.name}.${n.namespace}`;
}
