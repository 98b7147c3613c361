// Envoy-style counters for /stats, /clusters and the Prometheus page: per cluster request, retry, timeout and
// connect-failure counters, per host connections and requests, xDS update counters.
import type { ProxyEngine } from '../engine.ts';
import type { AdsClient } from '../xds-client/ads-client.ts';
import { renderEnvoyCounters } from './envoy-prometheus.ts';

export function renderClusters(engine: ProxyEngine, format: 'text' | 'json'): string | Record<string, unknown> {
  const now = performance.now();
  if (format === 'json') {
    return {
      cluster_statuses: engine.clusters.all().map((c) => ({
        name: c.config.name,
        host_statuses: c.allHosts().map((h) => ({
          address: { socket_address: { address: h.address, port_value: h.port } },
          stats: [
            { name: 'cx_active', value: h.connections },
            { name: 'rq_active', value: h.active },
            { name: 'rq_total', value: h.totalRequests },
            { name: 'rq_error', value: h.totalErrors },
          ],
          health_status: { eds_health_status: h.healthy ? 'HEALTHY' : 'UNHEALTHY', failed_outlier_check: h.ejectedUntil > now },
          weight: h.weight,
        })),
      })),
    };
  }
  const lines: string[] = [];
  for (const c of engine.clusters.all()) {
    const n = c.config.name;
    lines.push(`${n}::default_priority::max_connections::${c.config.maxConnections}`);
    lines.push(`${n}::default_priority::max_requests::${c.config.maxRequests}`);
    for (const h of c.allHosts()) {
      const p = `${n}::${h.key}`;
      lines.push(`${p}::cx_active::${h.connections}`, `${p}::rq_active::${h.active}`, `${p}::rq_total::${h.totalRequests}`, `${p}::rq_error::${h.totalErrors}`);
      const flags = [h.healthy ? '' : '/failed_eds_health', h.ejectedUntil > now ? '/failed_outlier_check' : ''].join('');
      lines.push(`${p}::health_flags::${flags === '' ? 'healthy' : flags}`, `${p}::weight::${h.weight}`);
    }
  }
  return lines.join('\n') + '\n';
}

function counters(engine: ProxyEngine, xds: AdsClient | undefined): [string, number][] {
  const out: [string, number][] = [];
  for (const c of engine.clusters.all()) {
    const p = `cluster.${c.config.name}`;
    out.push(
      [`${p}.upstream_rq_total`, c.stats.rqTotal],
      [`${p}.upstream_rq_retry`, c.stats.rqRetry],
      [`${p}.upstream_rq_retry_overflow`, c.stats.rqRetryOverflow],
      [`${p}.upstream_rq_timeout`, c.stats.rqTimeout],
      [`${p}.upstream_cx_connect_fail`, c.stats.cxConnectFail],
      [`${p}.upstream_rq_pending_overflow`, c.stats.overflow],
      [`${p}.upstream_cx_none_healthy`, c.stats.noHealthy],
      [`${p}.upstream_rq_active`, c.active],
      [`${p}.membership_total`, c.allHosts().length],
    );
  }
  if (xds) {
    for (const [t, s] of Object.entries(xds.status())) {
      const name = { CDS: 'cluster_manager.cds', LDS: 'listener_manager.lds', RDS: 'http.rds', EDS: 'cluster_manager.eds', SDS: 'sds' }[t] ?? t;
      out.push([`${name}.update_success`, s.acks], [`${name}.update_rejected`, s.nacks]);
    }
    out.push(['control_plane.connected_state', xds.state === 'connected' ? 1 : 0]);
  }
  out.push(['server.total_connections', engine.connectionCount], ['server.state', engine.draining ? 1 : 0]);
  // Envoy's memory gauges, from V8: bytes in use on the JS heap, the heap's size, and the process's resident set.
  const mem = process.memoryUsage();
  out.push(['server.memory_allocated', mem.heapUsed], ['server.memory_heap_size', mem.heapTotal], ['server.memory_physical_size', mem.rss]);
  // Span export per tracer (kind|collector cluster): sent, dropped (queue full), failed (collector errors), queued.
  for (const [k, t] of Object.entries(engine.tracing.stats() ?? {})) out.push([`tracing.${k}.spans_sent`, t.exported], [`tracing.${k}.spans_dropped`, t.dropped], [`tracing.${k}.spans_failed`, t.failed], [`tracing.${k}.spans_queued`, t.queued]);
  // Filter counters by Envoy name: http.<stat_prefix>.rbac.allowed, ….jwt_authn.denied, ….ext_authz.ok, tcp.rbac.denied …
  out.push(...engine.state.stats.entries());
  return out;
}

/** Envoy's /stats text: `name: value`, sorted. */
export function renderEnvoyStats(engine: ProxyEngine, xds: AdsClient | undefined): string {
  return counters(engine, xds)
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n') + '\n';
}

/** The proxy's whole Prometheus page (the stats port's /stats/prometheus; the agent's status port merges it). */
export function renderProxyPrometheus(engine: ProxyEngine, xds: AdsClient | undefined): string {
  return engine.metrics.render() + renderPrometheusExtras(engine, xds);
}

/** A few Envoy cluster metrics in Prometheus form (envoy_cluster_* with cluster_name label, as Istio exposes). */
export function renderPrometheusExtras(engine: ProxyEngine, xds: AdsClient | undefined): string {
  const out: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', rows: [string, number][]): void => {
    out.push(`# TYPE ${name} ${type}`);
    for (const [labels, v] of rows) out.push(`${name}{${labels}} ${v}`);
  };
  const cl = engine.clusters.all();
  const lbl = (n: string): string => `cluster_name="${n.replace(/"/g, '\\"')}"`;
  metric('envoy_cluster_upstream_rq_total', 'counter', cl.map((c) => [lbl(c.config.name), c.stats.rqTotal]));
  metric('envoy_cluster_upstream_rq_retry', 'counter', cl.map((c) => [lbl(c.config.name), c.stats.rqRetry]));
  metric('envoy_cluster_upstream_rq_timeout', 'counter', cl.map((c) => [lbl(c.config.name), c.stats.rqTimeout]));
  metric('envoy_cluster_upstream_cx_connect_fail', 'counter', cl.map((c) => [lbl(c.config.name), c.stats.cxConnectFail]));
  if (xds) metric('envoy_control_plane_connected_state', 'gauge', [['', xds.state === 'connected' ? 1 : 0]]);
  return out.join('\n').replace(/\{\}/g, '') + '\n' + renderEnvoyCounters(engine.state.stats.entries());
}
