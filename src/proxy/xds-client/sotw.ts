// State-of-the-world ADS (StreamAggregatedResources): every response of a type carries its whole set (LDS/CDS) or
// the named resources that changed (RDS/EDS). Each response is ACKed with its version and nonce, or NACKed with the
// last accepted version and error_detail (the last good config keeps serving). On a new stream every subscription
// is sent again with the version already held.
import { decodeAny, typeShortName, type AnyMessage, type XdsTypeUrl } from '../../xds/protos.ts';
import { describeErrors, type ResourceError } from '../config/config-state.ts';
import type { Raw } from '../config/raw.ts';
import { allReceived, followUp, isWildcardType, nackDetail, proxyTypes, type AdsHandler, type HandlerHost, type TypeStatus } from './types.ts';

/** envoy.service.discovery.v3.DiscoveryResponse, as protobufjs decodes it. */
export interface DiscoveryResponse {
  version_info: string;
  resources: AnyMessage[];
  type_url: string;
  nonce: string;
}

interface SotwType extends TypeStatus {
  subscribed: boolean;
}

export class SotwHandler implements AdsHandler {
  readonly #host: HandlerHost;
  readonly #types = new Map<string, SotwType>();

  constructor(host: HandlerHost) {
    this.#host = host;
    for (const t of proxyTypes) this.#types.set(t, { version: '', nonce: '', names: [], subscribed: isWildcardType(t), acks: 0, nacks: 0, lastError: undefined });
  }

  resubscribe(): void {
    for (const [t, s] of this.#types) if (s.subscribed) this.#send(t, s.version, '', undefined);
  }

  ready(): boolean {
    return allReceived(this.#types);
  }

  status(): Map<string, TypeStatus> {
    return this.#types;
  }

  onResponse(message: unknown): void {
    const r = message as DiscoveryResponse;
    const s = this.#types.get(r.type_url);
    if (!s) {
      this.#host.log('warn', `xDS: ignoring unsubscribed type ${r.type_url}`);
      return;
    }
    const decoded: Raw[] = [];
    let decodeError: string | undefined;
    for (const any of r.resources) {
      try {
        if (any.type_url !== r.type_url) throw new Error(`resource of type ${any.type_url} in a ${r.type_url} response`);
        decoded.push(decodeAny(any));
      } catch (e) {
        decodeError = `cannot decode resource: ${e instanceof Error ? e.message : String(e)}`;
        break;
      }
    }
    s.nonce = r.nonce;
    const sink = this.#host.sink;
    const errors: ResourceError[] = decodeError ? [{ typeUrl: r.type_url, name: '', errors: [{ path: '', message: decodeError }] }] : sink.apply(r.type_url, decoded, r.version_info);
    // Follow-up subscriptions before the ACK, as Envoy does while warming (CDS → EDS, LDS → RDS).
    const next = followUp(r.type_url, sink);
    if (next) this.#resubscribe(next.typeUrl, next.names);
    if (errors.length === 0) {
      s.version = r.version_info;
      s.acks++;
      s.lastError = undefined;
      this.#send(r.type_url, r.version_info, r.nonce, undefined);
    } else {
      const detail = describeErrors(errors);
      s.nacks++;
      s.lastError = detail;
      this.#host.log('warn', `xDS: NACK ${typeShortName[r.type_url as XdsTypeUrl]} version ${r.version_info}: ${detail}`);
      this.#send(r.type_url, s.version, r.nonce, detail);
    }
  }

  #send(typeUrl: string, version: string, nonce: string, error: string | undefined): void {
    const s = this.#types.get(typeUrl)!;
    const req: Record<string, unknown> = { version_info: version, type_url: typeUrl, response_nonce: nonce, resource_names: s.names };
    if (error !== undefined) req['error_detail'] = nackDetail(error);
    this.#host.send(req);
  }

  #resubscribe(typeUrl: string, names: Set<string>): void {
    const s = this.#types.get(typeUrl)!;
    const sorted = [...names].sort();
    if (s.subscribed && sorted.length === s.names.length && sorted.every((n, i) => n === s.names[i])) return;
    s.names = sorted;
    if (sorted.length === 0 && !s.subscribed) return;
    s.subscribed = true;
    this.#send(typeUrl, s.version, s.nonce, undefined);
  }
}
