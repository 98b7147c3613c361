// The Location of a redirect route (Envoy RedirectAction): scheme, host, port, path or prefix rewrite, query kept
// unless strip_query.
import type { RouteAction } from '../router/route-action.ts';

type Redirect = Extract<RouteAction, { kind: 'redirect' }>;

/** `matchedPrefix` is the route's prefix match (what prefix_rewrite replaces), '' otherwise. */
export function redirectLocation(r: Redirect, scheme: string, authority: string, path: string, query: string, matchedPrefix: string): string {
  const outScheme = r.scheme ?? scheme;
  let host = r.host ?? authority;
  const colon = host.lastIndexOf(':');
  const hasPort = colon > 0 && host.indexOf(']', colon) < 0;
  if (r.port !== undefined) host = `${hasPort ? host.slice(0, colon) : host}:${r.port}`;
  else if (r.scheme !== undefined && hasPort && r.host === undefined) {
    // Changing the scheme drops a port that belonged to the old scheme (Envoy does the same for 80/443).
    const p = host.slice(colon + 1);
    if (p === '80' || p === '443') host = host.slice(0, colon);
  }
  let outPath = path;
  if (r.path !== undefined) outPath = r.path;
  else if (r.prefixRewrite !== undefined) outPath = r.prefixRewrite + path.slice(matchedPrefix.length);
  const q = r.stripQuery || query === '' || (r.path !== undefined && r.path.includes('?')) ? '' : `?${query}`;
  return `${outScheme}://${host}${outPath}${q}`;
}
