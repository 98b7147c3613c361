// Envoy's CORS filter as Istio uses it (VirtualService corsPolicy → typed_per_filter_config
// envoy.filters.http.cors = CorsPolicy): preflight requests from an allowed origin are answered by the proxy,
// actual requests from an allowed origin get the allow/expose headers on their response. Requests from other
// origins pass through untouched, as in Envoy (the browser enforces the missing headers).
import { type Errors, arr, at, bool, obj, str } from '../../config/raw.ts';
import { compileStringMatcher, type StringTest } from '../../router/matchers.ts';

export const CORS_FILTER = 'envoy.filters.http.cors';

export interface CorsConfig {
  origins: StringTest[];
  allowMethods: string | undefined;
  allowHeaders: string | undefined;
  exposeHeaders: string | undefined;
  maxAge: string | undefined;
  allowCredentials: boolean;
}

export function compileCors(perFilter: unknown, path: string, errors: Errors): CorsConfig | undefined {
  const raw = obj(obj(perFilter)?.[CORS_FILTER]);
  if (!raw) return undefined;
  const cpath = at(path, `typed_per_filter_config.${CORS_FILTER}`);
  const origins: StringTest[] = [];
  arr(raw['allow_origin_string_match']).forEach((m, i) => {
    const t = compileStringMatcher(m, at(at(cpath, 'allow_origin_string_match'), i), errors);
    if (t) origins.push(t);
  });
  return {
    origins,
    allowMethods: str(raw['allow_methods']),
    allowHeaders: str(raw['allow_headers']),
    exposeHeaders: str(raw['expose_headers']),
    maxAge: str(raw['max_age']),
    allowCredentials: bool(raw['allow_credentials']) === true,
  };
}

export type CorsDecision =
  | { kind: 'none' }
  /** Answer the preflight with these headers (status 200, no body). */
  | { kind: 'preflight'; headers: string[] }
  /** Forward; add these headers to the response. */
  | { kind: 'actual'; headers: string[] };

export function decideCors(cors: CorsConfig, method: string, origin: string | undefined, requestMethod: string | undefined): CorsDecision {
  if (origin === undefined || !cors.origins.some((t) => t(origin))) return { kind: 'none' };
  if (method === 'OPTIONS' && requestMethod !== undefined) {
    const h = ['access-control-allow-origin', origin];
    if (cors.allowMethods) h.push('access-control-allow-methods', cors.allowMethods);
    if (cors.allowHeaders) h.push('access-control-allow-headers', cors.allowHeaders);
    if (cors.maxAge) h.push('access-control-max-age', cors.maxAge);
    if (cors.allowCredentials) h.push('access-control-allow-credentials', 'true');
    return { kind: 'preflight', headers: h };
  }
  const h = ['access-control-allow-origin', origin];
  if (cors.exposeHeaders) h.push('access-control-expose-headers', cors.exposeHeaders);
  if (cors.allowCredentials) h.push('access-control-allow-credentials', 'true');
  return { kind: 'actual', headers: h };
}
