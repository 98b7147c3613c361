// What the two ADS protocol handlers (state of the world, delta) share: the sink they feed, the host that carries
// their requests, and the per-type status the admin page and `weft proxy-status` read.
import { TypeUrl } from '../../xds/protos.ts';
import type { ResourceError } from '../config/config-state.ts';
import type { Raw } from '../config/raw.ts';

/** Where accepted resources go (the proxy engine) and what it now needs (subscriptions). */
export interface XdsSink {
  /**
   * Apply one response. Without `removed` the resources are a state-of-the-world update (LDS/CDS: absent =
   * removed; RDS/EDS: by name). With `removed` (delta xDS) they are changes only, and `removed` names go away.
   * Returns the errors of rejected resources (empty = ACK); a rejected resource keeps its last good version.
   */
  apply(typeUrl: string, resources: readonly Raw[], version: string, removed?: readonly string[]): ResourceError[];
  /** RDS names referenced by current listeners. */
  routeNames(): Set<string>;
  /** EDS names referenced by current clusters. */
  endpointNames(): Set<string>;
}

/** One type's subscription as the admin page shows it. */
export interface TypeStatus {
  /** Last accepted version (SotW version_info; delta system_version_info). */
  version: string;
  /** Nonce of the last response (ACKed or NACKed). */
  nonce: string;
  /** Subscribed names ([] = wildcard for LDS/CDS). */
  names: string[];
  acks: number;
  nacks: number;
  lastError: string | undefined;
}

/** What a protocol handler needs from the client: a way to send, the sink, a logger. */
export interface HandlerHost {
  /** Send a request on the current stream (the client adds the node to the first one). */
  send(request: Record<string, unknown>): void;
  sink: XdsSink;
  log(level: 'info' | 'warn' | 'error', message: string): void;
}

/** A protocol's per-stream logic. */
export interface AdsHandler {
  /** A stream opened: send every subscription (with what is already held, so unchanged resources need not come again). */
  resubscribe(): void;
  onResponse(message: unknown): void;
  /** LDS and CDS (and what they reference) have arrived at least once. */
  ready(): boolean;
  status(): Map<string, TypeStatus>;
}

/** The types the proxy subscribes to, in Envoy's order: CDS, EDS, LDS, RDS. */
export const proxyTypes = [TypeUrl.cluster, TypeUrl.endpoint, TypeUrl.listener, TypeUrl.route] as const;

/** LDS and CDS are wildcard subscriptions; EDS and RDS follow what clusters and listeners name. */
export function isWildcardType(typeUrl: string): boolean {
  return typeUrl === TypeUrl.cluster || typeUrl === TypeUrl.listener;
}

/** The follow-up subscription a response of this type drives (CDS → EDS, LDS → RDS), as Envoy warms. */
export function followUp(typeUrl: string, sink: XdsSink): { typeUrl: string; names: Set<string> } | undefined {
  if (typeUrl === TypeUrl.cluster) return { typeUrl: TypeUrl.endpoint, names: sink.endpointNames() };
  if (typeUrl === TypeUrl.listener) return { typeUrl: TypeUrl.route, names: sink.routeNames() };
  return undefined;
}

/** Ready once every wildcard type got a response and every named type with names got one too. */
export function allReceived(states: ReadonlyMap<string, { acks: number; nacks: number; names: readonly string[] }>): boolean {
  return proxyTypes.every((t) => {
    const s = states.get(t)!;
    return s.acks + s.nacks > 0 || (!isWildcardType(t) && s.names.length === 0);
  });
}

/** The error_detail of a NACK (google.rpc.Status, INVALID_ARGUMENT as Envoy sends). */
export function nackDetail(message: string): { code: number; message: string } {
  return { code: 3, message };
}
