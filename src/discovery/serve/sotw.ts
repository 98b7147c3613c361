// State-of-the-world ADS requests (StreamAggregatedResources). A request either opens a subscription (no nonce:
// answer it), or answers our last response (nonce): ACK when error_detail is empty, NACK otherwise. A NACK is
// recorded and nothing is re-sent: the proxy stays on its last good config until the config changes.
// Requests with a nonce we did not send last are stale and ignored, as the xDS protocol says.
import type { Connection } from './connection.ts';
import type { ServeContext } from './context.ts';
import { pushType } from './pusher.ts';
import { internNames, type Names } from './names.ts';
import { WatchedType, emptyResources, isSotwFullSetType, withoutNames } from './watch.ts';
import { settleResponse } from './settle.ts';

/** The fields of envoy.service.discovery.v3.DiscoveryRequest the server reads (proto-loader form). */
export interface SotwRequest {
  version_info?: string;
  node?: unknown;
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string } | null;
}

/** Subscription named by a SotW request: undefined = wildcard (LDS/CDS with no names, or `*`). */
export function sotwSubscription(typeUrl: string, names: readonly string[]): Names | undefined {
  if (names.includes('*')) return undefined;
  if (names.length === 0 && isSotwFullSetType(typeUrl)) return undefined;
  return internNames(names);
}

/** Does a request's name list equal the current subscription? (No allocation: the common ACK case.) */
function sameNames(current: Names | undefined, typeUrl: string, names: readonly string[]): boolean {
  if (current === undefined) return names.length === 0 ? isSotwFullSetType(typeUrl) : names.includes('*');
  if (names.length !== current.list.length) return false;
  for (const n of names) if (!current.set.has(n)) return false;
  // Same length and every name known: equal, provided the request does not repeat a name while dropping another,
  // which no xDS client does (names are a set in the protocol).
  return true;
}

export function onSotwRequest<P>(ctx: ServeContext<P>, conn: Connection<P>, req: SotwRequest): void {
  const typeUrl = req.type_url ?? '';
  if (typeUrl === '') return;
  const names = req.resource_names ?? [];
  const nonce = req.response_nonce ?? '';
  const now = ctx.now();
  let w = conn.watched.get(typeUrl);
  if (w === undefined || nonce === '') {
    // A new subscription, or the proxy re-requesting after it lost state: always answer with everything.
    const sub = sotwSubscription(typeUrl, names);
    if (w === undefined) {
      w = new WatchedType(typeUrl, sub);
      conn.watched.set(typeUrl, w);
    } else {
      w.names = sub;
      w.sent = emptyResources;
    }
    pushType(ctx, conn, w, { force: true, startMs: now });
    return;
  }
  // ACK/NACK bookkeeping for any response we sent (older ones too: a later ACK settles the earlier ones).
  settleResponse(ctx, conn, w, nonce, req.error_detail, req.version_info ?? '');
  // Only a request that names our latest response is current (xDS: ignore stale nonces). It may be a plain
  // ACK, or a subscription change sent later with the same, already acknowledged, nonce.
  if (nonce !== w.sentNonce || w.outstanding.length > 0) return;
  // Most ACKs repeat the subscription unchanged (Envoy resends every name on every ACK): check that without
  // allocating before interning anything.
  if (sameNames(w.names, typeUrl, names)) return;
  const sub = sotwSubscription(typeUrl, names);
  // Interned: equal subscriptions are the same object.
  if (sub === w.names) return;
  const before = w.names;
  if (sub !== undefined) w.sent = withoutNames(w.sent, [...w.sent.keys()].filter((n) => !sub.set.has(n)));
  w.names = sub;
  if (isSotwFullSetType(typeUrl)) {
    pushType(ctx, conn, w, { force: true, startMs: now });
    return;
  }
  const added = sub === undefined ? undefined : sub.list.filter((n) => !before?.set.has(n));
  if (added === undefined || added.length > 0) pushType(ctx, conn, w, { names: added === undefined ? undefined : internNames(added), force: false, startMs: now });
}
