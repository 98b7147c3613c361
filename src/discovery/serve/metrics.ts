// The serving layer's Prometheus metrics, with Istio's names and labels so that Istio's dashboards read them:
// pilot_xds (connected proxies), pilot_xds_pushes{type}, pilot_proxy_convergence_time, rejects, write timeouts.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface XdsMetrics {
  registry: Registry;
  /** Connected xDS streams (Istio: pilot_xds, label version = the proxy's Istio/Weft version). */
  connected: Gauge<'version'>;
  /** Responses sent, by type (cds, eds, lds, rds, sds). */
  pushes: Counter<'type'>;
  /** Responses that could not be generated, encoded or written, by type. */
  pushErrors: Counter<'type'>;
  /** NACKs received, by type. */
  rejects: Counter<'type'>;
  /** Streams closed because a write did not drain in time. */
  writeTimeouts: Counter<string>;
  /** Seconds from the first change behind a push to the proxy's ACK. */
  convergence: Histogram<string>;
  /** Seconds a connection waited in the push queue. */
  queueTime: Histogram<string>;
  /** Seconds between the first change and the debounced push. */
  debounceTime: Histogram<string>;
  /** Push triggers by kind (config, endpoint, proxy). */
  pushTriggers: Counter<'type'>;
  /** Bytes of the last encoded response per type (sum over its resources). */
  configSize: Histogram<'type'>;
}

const convergenceBuckets = [0.1, 0.5, 1, 3, 5, 10, 20, 30];

export function createXdsMetrics(registry: Registry = new Registry()): XdsMetrics {
  const r = [registry];
  return {
    registry,
    connected: new Gauge({ name: 'pilot_xds', help: 'Number of endpoints connected to this pilot using XDS.', labelNames: ['version'], registers: r }),
    pushes: new Counter({ name: 'pilot_xds_pushes', help: 'Pilot build and send errors for lds, rds, cds and eds.', labelNames: ['type'], registers: r }),
    pushErrors: new Counter({ name: 'pilot_xds_push_errors', help: 'xDS responses that could not be generated, encoded or sent.', labelNames: ['type'], registers: r }),
    rejects: new Counter({ name: 'pilot_total_xds_rejects', help: 'Total number of XDS responses from pilot rejected by proxy.', labelNames: ['type'], registers: r }),
    writeTimeouts: new Counter({ name: 'pilot_xds_write_timeout', help: 'Pilot XDS response write timeouts.', registers: r }),
    convergence: new Histogram({ name: 'pilot_proxy_convergence_time', help: 'Delay in seconds between config change and a proxy receiving all required configuration.', buckets: convergenceBuckets, registers: r }),
    queueTime: new Histogram({ name: 'pilot_proxy_queue_time', help: 'Time in seconds, a proxy is in the push queue before being dequeued.', buckets: [0.1, 0.5, 1, 3, 5, 10, 20, 30], registers: r }),
    debounceTime: new Histogram({ name: 'pilot_debounce_time', help: 'Delay in seconds between the first config enters debouncing and the merged push request is pushed into the push queue.', buckets: [0.01, 0.1, 1, 3, 5, 10, 20, 30], registers: r }),
    pushTriggers: new Counter({ name: 'pilot_push_triggers', help: 'Total number of times a push was triggered, labeled by reason for the push.', labelNames: ['type'], registers: r }),
    configSize: new Histogram({ name: 'pilot_xds_config_size_bytes', help: 'Distribution of configuration sizes pushed to clients', labelNames: ['type'], buckets: [1, 10000, 1000000, 4000000, 10000000, 40000000], registers: r }),
  };
}
