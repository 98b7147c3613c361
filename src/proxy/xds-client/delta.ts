// Delta (incremental) ADS (DeltaAggregatedResources), as Envoy and Istio ≥ 1.22 use by default. LDS and CDS are
// wildcard subscriptions; EDS and RDS subscribe to the names clusters and listeners reference, and follow them with
// resource_names_subscribe / _unsubscribe as they change. Responses carry only changed resources (each with its own
// version) and removed_resources; each is ACKed by nonce or NACKed with error_detail (rejected resources keep their
// last good version). On a new stream every subscription is sent again with initial_resource_versions, the versions
// held, so the server sends only what changed meanwhile and removals of what went away.
import { decodeAny, typeShortName, type AnyMessage, type XdsTypeUrl } from '../../xds/protos.ts';
import { describeErrors, type ResourceError } from '../config/config-state.ts';
import type { Raw } from '../config/raw.ts';
import { allReceived, followUp, isWildcardType, nackDetail, proxyTypes, type AdsHandler, type HandlerHost, type TypeStatus } from './types.ts';

/** envoy.service.discovery.v3.DeltaDiscoveryResponse, as protobufjs decodes it (the fields read here). */
export interface DeltaDiscoveryResponse {
  system_version_info: string;
  resources: { name: string; version: string; resource: AnyMessage | null }[];
  type_url: string;
  removed_resources: string[];
  nonce: string;
}

interface DeltaType extends TypeStatus {
  wildcard: boolean;
  /** Resource name → version of the resources the proxy holds (initial_resource_versions on reconnect). */
  held: Map<string, string>;
  /** The subscription was sent on the current stream (later changes go as subscribe/unsubscribe). */
  opened: boolean;
}

export class DeltaHandler implements AdsHandler {
  readonly #host: HandlerHost;
  readonly #types = new Map<string, DeltaType>();

  constructor(host: HandlerHost) {
    this.#host = host;
    for (const t of proxyTypes) this.#types.set(t, { version: '', nonce: '', names: [], wildcard: isWildcardType(t), held: new Map(), opened: false, acks: 0, nacks: 0, lastError: undefined });
  }

  resubscribe(): void {
    for (const [t, s] of this.#types) {
      s.opened = false;
      s.nonce = '';
      if (s.wildcard || s.names.length > 0) this.#open(t, s);
    }
  }

  ready(): boolean {
    return allReceived(this.#types);
  }

  status(): Map<string, TypeStatus> {
    return this.#types;
  }

  /** Versions held per type (for tests and config dumps). */
  held(typeUrl: string): ReadonlyMap<string, string> {
    return this.#types.get(typeUrl)?.held ?? new Map();
  }

  onResponse(message: unknown): void {
    const r = message as DeltaDiscoveryResponse;
    const s = this.#types.get(r.type_url);
    if (!s) {
      this.#host.log('warn', `xDS: ignoring unsubscribed type ${r.type_url}`);
      return;
    }
    s.nonce = r.nonce;
    const decoded: Raw[] = [];
    const versions: [string, string][] = [];
    let decodeError: string | undefined;
    for (const res of r.resources) {
      // A resource without a body only refreshes a TTL (heartbeat): nothing to apply.
      if (!res.resource) continue;
      try {
        if (res.resource.type_url !== r.type_url) throw new Error(`resource ${res.name} of type ${res.resource.type_url} in a ${r.type_url} response`);
        decoded.push(decodeAny(res.resource));
        versions.push([res.name, res.version]);
      } catch (e) {
        decodeError = `cannot decode resource: ${e instanceof Error ? e.message : String(e)}`;
        break;
      }
    }
    const sink = this.#host.sink;
    const removed = r.removed_resources;
    const errors: ResourceError[] = decodeError ? [{ typeUrl: r.type_url, name: '', errors: [{ path: '', message: decodeError }] }] : sink.apply(r.type_url, decoded, r.system_version_info, removed);
    if (!decodeError) {
      const rejected = new Set(errors.map((e) => e.name));
      for (const [name, version] of versions) if (!rejected.has(name)) s.held.set(name, version);
      for (const name of removed) s.held.delete(name);
    }
    // Follow-up subscriptions before the ACK, as Envoy does while warming (CDS → EDS, LDS → RDS).
    const next = followUp(r.type_url, sink);
    if (next) this.#follow(next.typeUrl, next.names);
    if (errors.length === 0) {
      s.version = r.system_version_info;
      s.acks++;
      s.lastError = undefined;
      this.#host.send({ type_url: r.type_url, response_nonce: r.nonce });
    } else {
      const detail = describeErrors(errors);
      s.nacks++;
      s.lastError = detail;
      this.#host.log('warn', `xDS: NACK ${typeShortName[r.type_url as XdsTypeUrl]} version ${r.system_version_info}: ${detail}`);
      this.#host.send({ type_url: r.type_url, response_nonce: r.nonce, error_detail: nackDetail(detail) });
    }
  }

  /** The first request of a type on this stream: the whole subscription and what is already held. */
  #open(typeUrl: string, s: DeltaType): void {
    s.opened = true;
    // An empty subscribe list on LDS/CDS is the (legacy) wildcard subscription every xDS server understands.
    this.#host.send({
      type_url: typeUrl,
      resource_names_subscribe: s.wildcard ? [] : s.names,
      initial_resource_versions: Object.fromEntries(s.held),
    });
  }

  /** Follow what clusters/listeners reference: subscribe to new names, unsubscribe from dropped ones. */
  #follow(typeUrl: string, names: Set<string>): void {
    const s = this.#types.get(typeUrl)!;
    const sorted = [...names].sort();
    if (sorted.length === s.names.length && sorted.every((n, i) => n === s.names[i])) return;
    const before = new Set(s.names);
    const added = sorted.filter((n) => !before.has(n));
    const dropped = s.names.filter((n) => !names.has(n));
    s.names = sorted;
    // The engine drops resources nobody references; they are no longer held.
    for (const n of dropped) s.held.delete(n);
    if (!s.opened) {
      if (sorted.length > 0) this.#open(typeUrl, s);
      return;
    }
    this.#host.send({ type_url: typeUrl, resource_names_subscribe: added, resource_names_unsubscribe: dropped });
  }
}
