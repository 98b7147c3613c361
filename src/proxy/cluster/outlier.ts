// Outlier detection's ejection decision (Envoy consecutive_5xx / consecutive_gateway_failure), shared by the
// HTTP/1.1 and HTTP/2 request paths: after a host's failure count moves, eject it for base_ejection_time × the
// number of its ejections, unless that would eject more than max_ejection_percent of the cluster.
import type { Cluster } from './cluster-manager.ts';
import type { Host } from './host.ts';

/** Call after counting a 5xx (or reset) on `host` in `host.consecutive5xx`; `status` is the response's (503 for resets). */
export function ejectIfOutlier(cluster: Cluster, host: Host, status: number): void {
  const od = cluster.config.outlier;
  if (!od) return;
  if ((od.consecutive5xx > 0 && host.consecutive5xx >= od.consecutive5xx) || (od.consecutiveGatewayErrors > 0 && status >= 502 && status <= 504 && host.consecutive5xx >= od.consecutiveGatewayErrors)) {
    const hosts = cluster.hosts;
    const now = performance.now();
    const ejected = hosts.filter((h) => h.ejectedUntil > now).length;
    if (hosts.length > 0 && ((ejected + 1) * 100) / hosts.length > od.maxEjectionPercent && ejected > 0) return;
    host.ejections++;
    host.ejectedUntil = now + od.baseEjectionMs * host.ejections;
    host.consecutive5xx = 0;
  }
}
