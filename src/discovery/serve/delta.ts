// Delta (incremental) ADS requests (DeltaAggregatedResources). The first request of a type opens the
// subscription (wildcard for LDS/CDS with no names, or `*`) and may declare the versions the proxy already has
// (initial_resource_versions, after a reconnect) so that unchanged resources are not re-sent. Later requests
// ACK/NACK a nonce and/or change the subscription; only new names are generated for a subscription change.
import type { Connection } from './connection.ts';
import type { ServeContext } from './context.ts';
import { pushType } from './pusher.ts';
import { settleResponse } from './settle.ts';
import { WatchedType, isSotwFullSetType } from './watch.ts';

/** The fields of envoy.service.discovery.v3.DeltaDiscoveryRequest the server reads (proto-loader form). */
export interface DeltaRequest {
  node?: unknown;
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string } | null;
}

export function onDeltaRequest<P>(ctx: ServeContext<P>, conn: Connection<P>, req: DeltaRequest): void {
  const typeUrl = req.type_url ?? '';
  if (typeUrl === '') return;
  const subscribe = req.resource_names_subscribe ?? [];
  const unsubscribe = req.resource_names_unsubscribe ?? [];
  const now = ctx.now();
  let w = conn.watched.get(typeUrl);
  if (w === undefined) {
    const wildcard = subscribe.includes('*') || (subscribe.length === 0 && isSotwFullSetType(typeUrl));
    w = new WatchedType(typeUrl, wildcard ? undefined : new Set(subscribe));
    for (const [name, version] of Object.entries(req.initial_resource_versions ?? {})) w.sent.set(name, { version, resource: undefined });
    conn.watched.set(typeUrl, w);
    pushType(ctx, conn, w, { force: true, startMs: now, newlySubscribed: wildcard ? [] : subscribe });
    return;
  }
  const nonce = req.response_nonce ?? '';
  if (nonce !== '') settleResponse(ctx, conn, w, nonce, req.error_detail, '');
  if (subscribe.length === 0 && unsubscribe.length === 0) return;

  const added: string[] = [];
  if (unsubscribe.includes('*')) w.names = new Set();
  for (const name of unsubscribe) {
    w.names?.delete(name);
    // The proxy dropped it: it no longer has it, and must not be told it was removed.
    w.sent.delete(name);
    w.acked.delete(name);
  }
  if (subscribe.includes('*')) {
    w.names = undefined;
    pushType(ctx, conn, w, { force: false, startMs: now });
    return;
  }
  for (const name of subscribe) {
    if (w.names === undefined || w.names.has(name)) continue;
    w.names.add(name);
    added.push(name);
  }
  if (added.length > 0) pushType(ctx, conn, w, { names: added, scope: new Set(added), newlySubscribed: added, force: false, startMs: now });
}
