// Istio's well-known ports, which Weft keeps so that Istio users and tools find things where they expect them.
// Every one of them is configurable; tests always use port 0.

export const Ports = {
  /** Proxy admin (localhost only). */
  proxyAdmin: 15000,
  /** Proxy outbound capture / explicit HTTP proxy. */
  proxyOutbound: 15001,
  /** Proxy inbound capture. */
  proxyInbound: 15006,
  /** Merged Prometheus metrics and health-check rewrite. */
  proxyMergedMetrics: 15020,
  /** Readiness (`/healthz/ready`). */
  proxyReadiness: 15021,
  /** Envoy-style stats (`/stats/prometheus`). */
  proxyStats: 15090,
  /** Control plane: xDS and CA, plaintext. */
  xdsPlaintext: 15010,
  /** Control plane: xDS and CA over TLS. */
  xdsTls: 15012,
  /** Control plane: metrics and /debug. */
  monitoring: 15014,
  /** Control plane: webhooks. */
  webhooks: 15017,
} as const;
