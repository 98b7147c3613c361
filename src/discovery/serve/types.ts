// The seam between serving and the rest of the control plane. The server knows nothing of Istio config:
// it receives a view (a snapshot version plus a pure generator) and push requests, and turns them into
// xDS responses per connection. Everything here is data; the behaviour lives in server.ts and its helpers.
import type { XdsNode } from './node.ts';

/** One generated xDS resource: its name and the plain object (Envoy proto field names) that encodeAny encodes. */
export interface GeneratedResource {
  name: string;
  resource: Record<string, unknown>;
}

/**
 * The mesh as the server serves it: an immutable snapshot's version and the pure function that renders it for one
 * proxy. `names` is undefined for a wildcard subscription (all resources of the type that apply to the proxy).
 */
export interface XdsView<P> {
  /** Version label sent as version_info / system_version_info, e.g. `2026-11-21T21:30:00Z/7`. */
  version: string;
  generate(proxy: P, typeUrl: string, names: readonly string[] | undefined): GeneratedResource[];
  /**
   * Key under which generated output may be shared between proxies that get identical resources from this view
   * (same namespace, labels, generator …). Undefined (or no function) = never share.
   */
  cacheKey?(proxy: P): string | undefined;
}

/** How a connecting node becomes the proxy model the generator takes, and what happens on connect/disconnect. */
export interface ProxyModel<P> {
  /** Parse the node from the first request. An error closes the stream with INVALID_ARGUMENT and this message. */
  parse(node: XdsNode, peer: PeerInfo): { ok: true; value: P } | { ok: false; error: string };
  /** Called once the node is parsed (auto-registration hooks in here). */
  connected?(proxy: P, conn: ConnectionInfo): void;
  /** Called when the stream ends, for whatever reason. */
  disconnected?(proxy: P, conn: ConnectionInfo): void;
}

/** What the transport knows about the peer. */
export interface PeerInfo {
  /** `ip:port` as grpc-js reports it. */
  address: string;
  /** SPIFFE identity from the peer's client certificate (15012 with mTLS), when there is one. */
  identity: string | undefined;
}

/** Identity of one ADS stream, for hooks, status and debug output. */
export interface ConnectionInfo {
  /** Unique per stream: `<node id>-<counter>`, as Istio's connection ids. */
  connId: string;
  node: XdsNode;
  peer: PeerInfo;
  protocol: 'sotw' | 'delta';
  connectedAt: Date;
}

/** Why a push happens and what it covers. */
export interface PushRequest {
  /** Full push: every subscribed type is regenerated. Otherwise only EDS for `edsNames` (the endpoint fast path). */
  full: boolean;
  /**
   * Endpoint fast path: EDS resources to refresh, by cluster name or by service host (an Istio cluster name
   * `outbound|port|subset|host` matches its host). Ignored for full pushes.
   */
  edsNames?: ReadonlySet<string>;
  /** Reasons, for metrics and logs (`config`, `endpoint`, `proxy-connect` …). */
  reasons: readonly string[];
  /** When the first change that led to this push was seen (ms since epoch): convergence is measured from here. */
  startMs: number;
}
