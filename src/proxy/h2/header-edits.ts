// Route header edits (request/response headers_to_add and _to_remove, i.e. VirtualService `headers`) on HTTP/2 header
// objects: the same HeaderOps the HTTP/1.1 path applies to its flat lists, so both protocols edit alike.
import type * as http2 from 'node:http2';
import { applyHeaderOps, hasHeaderOps, type HeaderOps } from '../router/route-action.ts';

/** Apply `ops` in place to the regular (non-pseudo) headers of `h`; repeated names are joined with ", ". */
export function editH2Headers(h: http2.OutgoingHttpHeaders, ops: HeaderOps): void {
  if (!hasHeaderOps(ops)) return;
  const flat: string[] = [];
  for (const [k, v] of Object.entries(h)) {
    if (k.startsWith(':') || v === undefined) continue;
    flat.push(k, Array.isArray(v) ? v.join(', ') : String(v));
    delete h[k];
  }
  applyHeaderOps(flat, ops);
  for (let i = 0; i < flat.length; i += 2) {
    const k = flat[i]!;
    const prev = h[k];
    h[k] = prev === undefined ? flat[i + 1]! : `${String(prev)}, ${flat[i + 1]!}`;
  }
}
