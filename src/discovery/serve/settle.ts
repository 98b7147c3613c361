// ACK and NACK handling, common to both protocols: settle the outstanding response the nonce names, record the
// outcome per type and per resource, count it, and measure convergence on ACK.
import type { Connection } from './connection.ts';
import type { ServeContext } from './context.ts';
import { typeLabel } from './pusher.ts';
import type { WatchedType } from './watch.ts';

/** Settle a response. Returns false for a stale or unknown nonce (nothing was settled). */
export function settleResponse<P>(
  ctx: ServeContext<P>,
  conn: Connection<P>,
  w: WatchedType,
  nonce: string,
  errorDetail: { code?: number; message?: string } | null | undefined,
  versionInfo: string,
): boolean {
  const settled = w.settle(nonce);
  const last = settled[settled.length - 1];
  if (last === undefined) return false;
  for (const o of settled) ctx.release(o);
  const nodeId = conn.info?.node.id ?? '';
  const connId = conn.info?.connId ?? '';
  const now = ctx.now();
  const isNack = errorDetail !== null && errorDetail !== undefined && ((errorDetail.code ?? 0) !== 0 || (errorDetail.message ?? '') !== '');
  if (isNack) {
    const message = errorDetail.message ?? `code ${errorDetail.code ?? 0}`;
    w.nack = { nonce, version: versionInfo || last.version, message, atMs: now };
    // `sent` keeps the rejected versions on purpose: an unchanged bad resource is not re-sent on every push (no
    // NACK loop); once the config changes it, its version changes and it goes out again.
    ctx.metrics.rejects.inc({ type: typeLabel(w.typeUrl) });
    ctx.log('warn', `xDS: ${conn.info?.node.id ?? '?'} rejected ${typeLabel(w.typeUrl).toUpperCase()} version ${last.version}: ${message}`);
    ctx.emit({ kind: 'nack', connId, nodeId, typeUrl: w.typeUrl, nonce, message });
    return true;
  }
  w.ack(settled);
  for (const o of settled) ctx.metrics.convergence.observe(Math.max(0, now - o.startMs) / 1000);
  ctx.emit({ kind: 'ack', connId, nodeId, typeUrl: w.typeUrl, nonce, version: last.version, startMs: last.startMs });
  return true;
}
