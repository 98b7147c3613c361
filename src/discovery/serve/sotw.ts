// State-of-the-world ADS requests (StreamAggregatedResources). A request either opens a subscription (no nonce:
// answer it), or answers our last response (nonce): ACK when error_detail is empty, NACK otherwise. A NACK is
// recorded and nothing is re-sent: the proxy stays on its last good config until the config changes.
// Requests with a nonce we did not send last are stale and ignored, as the xDS protocol says.
import type { Connection } from './connection.ts';
import type { ServeContext } from './context.ts';
import { pushType } from './pusher.ts';
import { WatchedType, isSotwFullSetType } from './watch.ts';
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
export function sotwSubscription(typeUrl: string, names: readonly string[]): Set<string> | undefined {
  if (names.includes('*')) return undefined;
  if (names.length === 0 && isSotwFullSetType(typeUrl)) return undefined;
  return new Set(names);
}

function sameSubscription(a: Set<string> | undefined, b: Set<string> | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.size === b.size && [...a].every((n) => b.has(n));
}

export function onSotwRequest<P>(ctx: ServeContext<P>, conn: Connection<P>, req: SotwRequest): void {
  const typeUrl = req.type_url ?? '';
  if (typeUrl === '') return;
  const names = req.resource_names ?? [];
  const nonce = req.response_nonce ?? '';
  const now = ctx.now();
  let w = conn.watched.get(typeUrl);
  if (w === undefined || nonce === '') {
    // A new subscription, or the proxy re-requesting after it lost state: always answer.
    const sub = sotwSubscription(typeUrl, names);
    if (w === undefined) {
      w = new WatchedType(typeUrl, sub);
      conn.watched.set(typeUrl, w);
    } else {
      w.names = sub;
      w.sent.clear();
    }
    pushType(ctx, conn, w, { force: true, startMs: now });
    return;
  }
  // ACK/NACK bookkeeping for any response we sent (older ones too: a later ACK settles the earlier ones).
  settleResponse(ctx, conn, w, nonce, req.error_detail, req.version_info ?? '');
  // Only a request that names our latest response is current (xDS: ignore stale nonces). It may be a plain
  // ACK, or a subscription change sent later with the same, already acknowledged, nonce.
  if (nonce !== w.sentNonce || w.outstanding.length > 0) return;
  const sub = sotwSubscription(typeUrl, names);
  if (sameSubscription(w.names, sub)) return;
  const added = sub === undefined ? undefined : [...sub].filter((n) => !w.names?.has(n));
  if (sub !== undefined) for (const n of w.sent.keys()) if (!sub.has(n)) w.sent.delete(n);
  w.names = sub;
  if (isSotwFullSetType(typeUrl)) pushType(ctx, conn, w, { force: true, startMs: now });
  else if (added === undefined || added.length > 0) pushType(ctx, conn, w, { names: added, force: false, startMs: now });
}
