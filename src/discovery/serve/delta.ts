// Delta (incremental) ADS requests (DeltaAggregatedResources). The first request of a type opens the
// subscription (wildcard for LDS/CDS with no names, or `*`) and may declare the versions the proxy already has
// (initial_resource_versions, after a reconnect) so that unchanged resources are not re-sent. Later requests
// ACK/NACK a nonce and/or change the subscription; only new names are generated for a subscription change.
import type { Connection } from './connection.ts';
import type { ServeContext } from './context.ts';
import { pushType } from './pusher.ts';
import { settleResponse } from './settle.ts';
import { internNames } from './names.ts';
import { WatchedType, isSotwFullSetType, withoutNames } from './watch.ts';

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
    const names = wildcard ? undefined : internNames(subscribe);
    w = new WatchedType(typeUrl, names);
    const initial = Object.entries(req.initial_resource_versions ?? {});
    if (initial.length > 0) w.sent = new Map(initial.map(([name, version]) => [name, { version, resource: undefined }]));
    conn.watched.set(typeUrl, w);
    pushType(ctx, conn, w, { force: true, startMs: now, newlySubscribed: names });
    return;
  }
  const nonce = req.response_nonce ?? '';
  if (nonce !== '') settleResponse(ctx, conn, w, nonce, req.error_detail, '');
  if (subscribe.length === 0 && unsubscribe.length === 0) return;

  if (unsubscribe.length > 0) {
    if (unsubscribe.includes('*')) w.names = internNames([]);
    else if (w.names !== undefined) {
      const drop = new Set(unsubscribe);
      w.names = internNames(w.names.list.filter((n) => !drop.has(n)));
    }
    // The proxy dropped them: it no longer has them, and must not be told they were removed.
    w.sent = withoutNames(w.sent, unsubscribe);
  }
  if (subscribe.includes('*')) {
    w.names = undefined;
    pushType(ctx, conn, w, { force: false, startMs: now });
    return;
  }
  const current = w.names;
  if (current === undefined) return; // wildcard already covers explicit names
  const added = subscribe.filter((n) => !current.set.has(n));
  if (added.length === 0) return;
  w.names = internNames([...current.list, ...added]);
  const addedNames = internNames(added);
  pushType(ctx, conn, w, { names: addedNames, scope: addedNames, newlySubscribed: addedNames, force: false, startMs: now });
}
