// Pushing one type to one connection: generate, diff against what the proxy has, send under the stream's protocol.
// Shared by the push queue (config changes) and the request handlers (new subscriptions).
import { parseClusterName } from '../../core/names/cluster-name.ts';
import { typeShortName, type XdsTypeUrl } from '../../xds/protos.ts';
import type { Connection } from './connection.ts';
import type { ServeContext } from './context.ts';
import type { EncodedResource } from './encode.ts';
import { internNames, type Names } from './names.ts';
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
  names?: Names | undefined;
  /** Limit delta removals to these names (partial regeneration). */
  scope?: Names | undefined;
  /** Delta: names the proxy just subscribed to (non-existent ones are reported removed). */
  newlySubscribed?: Names | undefined;
  /** Answer even if nothing changed (a request that expects a response). */
  force: boolean;
  startMs: number;
}

/** Generate, diff and send one type. Generation errors are counted and logged; the proxy keeps what it has. */
export function pushType<P>(ctx: ServeContext<P>, conn: Connection<P>, w: WatchedType, p: TypePush): void {
  if (conn.closed) return;
  const names = p.names ?? w.requestedNames();
  const newly = p.newlySubscribed;
  if (names !== undefined && names.list.length === 0 && !p.force && (newly?.list.length ?? 0) === 0) return;
  let generated: readonly EncodedResource[];
  try {
    generated = names !== undefined && names.list.length === 0 ? [] : ctx.generate(conn, w.typeUrl, names);
  } catch (e) {
    ctx.metrics.pushErrors.inc({ type: typeLabel(w.typeUrl) });
    ctx.log('warn', `xDS: cannot generate ${typeLabel(w.typeUrl).toUpperCase()} for ${conn.info?.node.id ?? '?'}: ${e instanceof Error ? e.message : String(e)}; the proxy keeps its last config`);
    return;
  }
  const diff = conn.protocol === 'sotw' ? diffSotw(w, generated, p.force) : diffDelta(w, generated, p.scope, newly, p.force);
  if (diff === undefined) return;
  send(ctx, conn, w, diff, p.startMs);
}

/** Response messages are built once per diff and shared by every connection that sends the same diff. */
const sotwBodies = new WeakMap<Diff, unknown[]>();
const deltaBodies = new WeakMap<Diff, unknown[]>();
const diffBytes = new WeakMap<Diff, number>();

function send<P>(ctx: ServeContext<P>, conn: Connection<P>, w: WatchedType, diff: Diff, startMs: number): void {
  const version = ctx.view().version;
  const nonce = conn.nextNonce();
  let message: unknown;
  if (conn.protocol === 'sotw') {
    let resources = sotwBodies.get(diff);
    if (!resources) sotwBodies.set(diff, (resources = diff.resources.map((r) => r.any)));
    message = { version_info: version, resources, type_url: w.typeUrl, nonce };
  } else {
    let resources = deltaBodies.get(diff);
    if (!resources) deltaBodies.set(diff, (resources = diff.resources.map((r) => ({ name: r.name, version: r.version, resource: r.any }))));
    message = { system_version_info: version, resources, type_url: w.typeUrl, removed_resources: diff.removed, nonce };
  }
  const now = ctx.now();
  let bytes = diffBytes.get(diff);
  if (bytes === undefined) diffBytes.set(diff, (bytes = diff.resources.reduce((n, r) => n + r.any.value.length, 0)));
  const o = { nonce, version, count: diff.resources.length, removed: diff.removed.length, after: diff.after, startMs, sentAtMs: now, bytes, released: false };
  const dropped = w.recordSent(o);
  if (dropped) ctx.release(dropped);
  ctx.hold(o);
  const label = typeLabel(w.typeUrl);
  ctx.metrics.pushes.inc({ type: label });
  ctx.metrics.configSize.observe({ type: label }, bytes);
  ctx.send(conn, message);
  ctx.emit({ kind: 'push', connId: conn.info?.connId ?? '', typeUrl: w.typeUrl, nonce, version, resources: diff.resources.length, removed: diff.removed.length });
}

/** An EDS resource is affected when its name, or the host of the Istio cluster it names, is in the changed set. */
function edsNameAffected(name: string, changed: ReadonlySet<string>): boolean {
  if (changed.has(name)) return true;
  const c = parseClusterName(name);
  return c.ok && changed.has(c.value.host);
}

/** Memo: (subscription, changed set) → the affected names, shared by every connection with that subscription. */
const affectedMemo = new WeakMap<Names, WeakMap<ReadonlySet<string>, Names>>();

function affectedNames(subscribed: Names, changed: ReadonlySet<string>): Names {
  let byChanged = affectedMemo.get(subscribed);
  if (!byChanged) affectedMemo.set(subscribed, (byChanged = new WeakMap()));
  let hit = byChanged.get(changed);
  if (!hit) byChanged.set(changed, (hit = internNames(subscribed.list.filter((n) => edsNameAffected(n, changed)))));
  return hit;
}

const noChanges: ReadonlySet<string> = new Set();

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
    const subscribed = w.requestedNames();
    if (subscribed === undefined) {
      // Wildcard EDS (rare): regenerate all; only changed resources go out anyway.
      pushType(ctx, conn, w, { force: false, startMs: req.startMs });
      continue;
    }
    const names = affectedNames(subscribed, req.edsNames ?? noChanges);
    if (names.list.length === 0) continue;
    pushType(ctx, conn, w, { names, scope: names, force: false, startMs: req.startMs });
  }
}
