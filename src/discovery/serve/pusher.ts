// Pushing one type to one connection: generate, diff against what the proxy has, send under the stream's protocol.
// Shared by the push queue (config changes) and the request handlers (new subscriptions).
import { parseClusterName } from '../../core/names/cluster-name.ts';
import { typeShortName, type XdsTypeUrl } from '../../xds/protos.ts';
import type { Connection } from './connection.ts';
import type { ServeContext } from './context.ts';
import type { EncodedResource } from './encode.ts';
import { mergePush } from './push-queue.ts';
import type { PushRequest } from './types.ts';
import { type Diff, type WatchedType, diffDelta, diffSotw } from './watch.ts';

/** Metric label for a type URL: `cds`, `eds`, … or `other`. */
export function typeLabel(typeUrl: string): string {
  const short = typeShortName[typeUrl as XdsTypeUrl] as string | undefined;
  return short === undefined ? 'other' : short.toLowerCase();
}

export interface TypePush {
  /** Names to generate; undefined = the subscription as it stands. */
  names?: readonly string[] | undefined;
  /** Limit delta removals to these names (partial regeneration). */
  scope?: ReadonlySet<string> | undefined;
  /** Delta: names the proxy just subscribed to (non-existent ones are reported removed). */
  newlySubscribed?: readonly string[];
  /** Answer even if nothing changed (a request that expects a response). */
  force: boolean;
  startMs: number;
}

/** Generate, diff and send one type. Generation errors are counted and logged; the proxy keeps what it has. */
export function pushType<P>(ctx: ServeContext<P>, conn: Connection<P>, w: WatchedType, p: TypePush): void {
  if (conn.closed) return;
  const names = p.names ?? w.requestedNames();
  if (names !== undefined && names.length === 0 && !p.force && (p.newlySubscribed ?? []).length === 0) return;
  let generated: EncodedResource[];
  try {
    generated = names !== undefined && names.length === 0 ? [] : ctx.generate(conn, w.typeUrl, names);
  } catch (e) {
    ctx.metrics.pushErrors.inc({ type: typeLabel(w.typeUrl) });
    ctx.log('warn', `xDS: cannot generate ${typeLabel(w.typeUrl).toUpperCase()} for ${conn.info?.node.id ?? '?'}: ${e instanceof Error ? e.message : String(e)}; the proxy keeps its last config`);
    return;
  }
  const diff =
    conn.protocol === 'sotw'
      ? diffSotw(w, generated, p.force)
      : diffDelta(w, generated, p.scope, p.newlySubscribed ?? [], p.force);
  if (diff === undefined) return;
  send(ctx, conn, w, diff, p.startMs);
}

function send<P>(ctx: ServeContext<P>, conn: Connection<P>, w: WatchedType, diff: Diff, startMs: number): void {
  const version = ctx.view().version;
  const nonce = conn.nextNonce();
  let message: unknown;
  if (conn.protocol === 'sotw') {
    message = { version_info: version, resources: diff.resources.map((r) => r.any), type_url: w.typeUrl, nonce };
  } else {
    message = {
      system_version_info: version,
      resources: diff.resources.map((r) => ({ name: r.name, version: r.version, resource: r.any })),
      type_url: w.typeUrl,
      removed_resources: diff.removed,
      nonce,
    };
  }
  const now = ctx.now();
  w.recordSent(
    { nonce, version, resources: new Map(diff.resources.map((r) => [r.name, r.version])), removed: diff.removed, startMs, sentAtMs: now },
    diff.resources,
    diff.fullSet,
  );
  const label = typeLabel(w.typeUrl);
  ctx.metrics.pushes.inc({ type: label });
  ctx.metrics.configSize.observe({ type: label }, diff.resources.reduce((n, r) => n + r.any.value.length, 0));
  ctx.send(conn, message);
  ctx.emit({ kind: 'push', connId: conn.info?.connId ?? '', typeUrl: w.typeUrl, nonce, version, resources: diff.resources.length, removed: diff.removed.length });
}

/** An EDS resource is affected when its name, or the host of the Istio cluster it names, is in the changed set. */
function edsNameAffected(name: string, changed: ReadonlySet<string>): boolean {
  if (changed.has(name)) return true;
  const c = parseClusterName(name);
  return c.ok && changed.has(c.value.host);
}

/** Run a queued push on a connection: every watched type for a full push, EDS for the named clusters otherwise. */
export function pushConnection<P>(ctx: ServeContext<P>, conn: Connection<P>, req: PushRequest): void {
  if (conn.closed || conn.proxy === undefined) return;
  if (conn.blocked) {
    conn.deferred = conn.deferred === undefined ? req : mergePush(conn.deferred, req);
    return;
  }
  for (const w of conn.orderedTypes()) {
    if (req.full) {
      pushType(ctx, conn, w, { force: false, startMs: req.startMs });
      continue;
    }
    if (typeLabel(w.typeUrl) !== 'eds') continue;
    const changed = req.edsNames ?? new Set<string>();
    const subscribed = w.requestedNames();
    if (subscribed === undefined) {
      // Wildcard EDS (rare): regenerate all; only changed resources go out anyway.
      pushType(ctx, conn, w, { force: false, startMs: req.startMs });
      continue;
    }
    const names = subscribed.filter((n) => edsNameAffected(n, changed));
    if (names.length === 0) continue;
    pushType(ctx, conn, w, { names, scope: new Set(names), force: false, startMs: req.startMs });
  }
}
