// The request hash for consistent-hash load balancing, from the route's hash policies (Envoy combines several by
// rotating and xor-ing; a terminal policy that produced a value stops the list). Undefined when nothing applied.
import { hash32 } from '../cluster/ring-hash.ts';
import type { HashPolicy } from './route-action.ts';
import { headerValue, queryValue } from './route-table.ts';

function cookieValue(headers: string[], name: string): string | undefined {
  const all = headerValue(headers, 'cookie');
  if (all === undefined) return undefined;
  for (const part of all.split(/[;,]/)) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function requestHash(policies: readonly HashPolicy[], headers: string[], query: string, sourceIp: string): number | undefined {
  let h: number | undefined;
  for (const p of policies) {
    let v: string | undefined;
    switch (p.kind) {
      case 'header':
        v = headerValue(headers, p.name);
        break;
      case 'cookie':
        v = cookieValue(headers, p.name);
        break;
      case 'source_ip':
        v = sourceIp || undefined;
        break;
      case 'query':
        v = queryValue(query, p.name);
        break;
    }
    if (v === undefined) continue;
    const x = hash32(v);
    h = h === undefined ? x : (((h << 1) | (h >>> 31)) ^ x) >>> 0;
    if (p.terminal) break;
  }
  return h;
}
