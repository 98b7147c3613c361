// Claim-based routing: a VirtualService header match on `@request.auth.claims.<name>` (or `[a][b]` for nested claims)
// matches the verified JWT's claim instead of a header. Istio turns it into a route `dynamic_metadata` matcher on the
// jwt_authn payload, matching a string claim or one element of a list claim; `withoutHeaders` sets `invert`.
// The route translator calls routeClaimMatcher() for each header name and uses the result when it is defined.
import type { Json } from '../common.ts';
import { claimMatcher } from './matchers.ts';
import { JWT_FILTER, JWT_PAYLOAD_KEY } from './rbac-rule.ts';

const PREFIX = '@request.auth.claims';

/** The claim path named by a VirtualService header key, or undefined when the key is not a claim reference. */
export function routingClaim(headerName: string): string[] | undefined {
  if (!headerName.startsWith(PREFIX)) return undefined;
  const rest = headerName.slice(PREFIX.length);
  if (rest.startsWith('.')) {
    const parts = rest.slice(1).split('.');
    return parts.every((p) => p !== '') ? parts : undefined;
  }
  if (rest.startsWith('[')) {
    const parts = [...rest.matchAll(/\[([^[\]]+)\]/g)].map((m) => m[1]!);
    return parts.length > 0 && parts.map((p) => `[${p}]`).join('') === rest ? parts : undefined;
  }
  return undefined;
}

/**
 * A route `dynamic_metadata` matcher for a claim header match: `envoyStringMatch` is the StringMatcher the route
 * translator built for the header's StringMatch. `without` is true for `withoutHeaders`.
 */
export function routeClaimMatcher(headerName: string, envoyStringMatch: Json, without = false): Json | undefined {
  const claims = routingClaim(headerName);
  if (!claims) return undefined;
  const m = claimMatcher(JWT_FILTER, [JWT_PAYLOAD_KEY, ...claims], { string_match: envoyStringMatch });
  return without ? { ...m, invert: true } : m;
}
