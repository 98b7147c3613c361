// The jwt_authn HTTP filter: finds tokens where each provider looks (headers with prefix, query parameters, cookies),
// verifies them with `jose` (signature against the provider's JWKS, issuer, audiences, exp/nbf with clock skew),
// evaluates the rule's requirement tree, and on success hands RBAC the verified payload and rewrites the request
// (payload header, claim headers, token removed unless forwarded). Failures answer as Envoy does: 401 with the
// status as body (`Jwt is expired`, `Jwt verification fails` …), 403 `Audiences in Jwt are not allowed`.
import type { JWTPayload } from 'jose';
import type { JwtInfo } from '../rbac/request.ts';
import type { JwtAuthnConfig, JwtProvider, Requirement } from './config.ts';
import { JwksCache, loadJose } from './jwks.ts';

export interface JwtRequest {
  method: string;
  /** Request target (path and query). */
  path: string;
  /** Flat header list (lower-case names). */
  headers: readonly string[];
}

export type JwtOutcome =
  | { ok: true; jwt?: JwtInfo; headers: string[] }
  | { ok: false; status: 401 | 403; body: string; details: string };

export type JwtAuthnFilter = (req: JwtRequest) => Promise<JwtOutcome>;

export interface JwtFilterDeps {
  jwks?: JwksCache;
  /** Milliseconds since the epoch; default Date.now. */
  now?: () => number;
}

type Status =
  | { kind: 'ok'; payload: JWTPayload; token: string; header?: string }
  | { kind: 'missing' }
  | { kind: 'failed'; message: string; status: 401 | 403 };

const MISSING = 'Jwt is missing';
const UNKNOWN_ISSUER = 'Jwt issuer is not configured';

function headerFirst(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
  return undefined;
}

function queryParam(target: string, name: string): string | undefined {
  const q = target.indexOf('?');
  if (q < 0) return undefined;
  for (const part of target.slice(q + 1).split('&')) {
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    if (k === name) {
      try {
        return decodeURIComponent((eq < 0 ? '' : part.slice(eq + 1)).replace(/\+/g, ' '));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function cookie(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] !== 'cookie') continue;
    for (const c of headers[i + 1]!.split(';')) {
      const eq = c.indexOf('=');
      if (eq > 0 && c.slice(0, eq).trim() === name) return c.slice(eq + 1).trim();
    }
  }
  return undefined;
}

/** The provider's token and the header it came from (to strip it later). */
function extract(p: JwtProvider, req: JwtRequest): { token: string; header?: string } | undefined {
  for (const h of p.headers) {
    const v = headerFirst(req.headers, h.name);
    if (v === undefined) continue;
    const bearerDefault = h.name === 'authorization' && h.prefix === 'Bearer ';
    if (h.prefix === '') return { token: v.trim(), header: h.name };
    if (bearerDefault ? v.slice(0, 7).toLowerCase() === 'bearer ' : v.startsWith(h.prefix)) return { token: v.slice(h.prefix.length).trim(), header: h.name };
  }
  for (const name of p.params) {
    const v = queryParam(req.path, name);
    if (v !== undefined && v !== '') return { token: v };
  }
  for (const name of p.cookies) {
    const v = cookie(req.headers, name);
    if (v !== undefined && v !== '') return { token: v };
  }
  return undefined;
}

function claimAt(payload: JWTPayload, path: string): unknown {
  let cur: unknown = payload;
  for (const k of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || !Object.hasOwn(cur, k)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** Map jose's errors to Envoy's status strings and HTTP codes. */
function failure(e: unknown): { message: string; status: 401 | 403 } {
  if (e instanceof loadJose().errors.JWTExpired) return { message: 'Jwt is expired', status: 401 };
  if (e instanceof loadJose().errors.JWTClaimValidationFailed) {
    if (e.claim === 'aud') return { message: 'Audiences in Jwt are not allowed', status: 403 };
    if (e.claim === 'nbf') return { message: 'Jwt not yet valid', status: 401 };
    if (e.claim === 'iss') return { message: UNKNOWN_ISSUER, status: 401 };
  }
  return { message: 'Jwt verification fails', status: 401 };
}

interface Verifier {
  jwks: JwksCache;
  now: () => number;
}

/** One provider against one request: its token (if any) verified with jose. */
async function verify(v: Verifier, p: JwtProvider, req: JwtRequest, audiences: readonly string[] | undefined): Promise<Status> {
  const found = extract(p, req);
  if (!found) return { kind: 'missing' };
  let unverified: JWTPayload;
  try {
    unverified = loadJose().decodeJwt(found.token);
  } catch {
    return { kind: 'failed', message: 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections', status: 401 };
  }
  if (p.issuer !== undefined && unverified.iss !== p.issuer) return { kind: 'failed', message: UNKNOWN_ISSUER, status: 401 };
  let keys;
  try {
    keys = p.keys.kind === 'local' ? p.keys.set : await v.jwks.get(p.keys.uri, p.keys.cacheMs, p.keys.timeoutMs);
  } catch {
    return { kind: 'failed', message: 'Jwks remote fetch is failed', status: 401 };
  }
  const aud = audiences ?? p.audiences;
  try {
    const { payload } = await loadJose().jwtVerify(found.token, keys, {
      currentDate: new Date(v.now()),
      clockTolerance: p.clockSkewSeconds,
      ...(aud.length > 0 ? { audience: [...aud] } : {}),
    });
    return found.header === undefined ? { kind: 'ok', payload, token: found.token } : { kind: 'ok', payload, token: found.token, header: found.header };
  } catch (e) {
    return { kind: 'failed', ...failure(e) };
  }
}

type Verified = { p: JwtProvider; s: Extract<Status, { kind: 'ok' }> };
type Result = { pass: true } | { pass: false; message: string; status: 401 | 403; rank: number };

/** Which failure to report when several apply: a real verification error over an unknown issuer over a missing token. */
const rank = (m: string): number => (m === MISSING ? 0 : m === UNKNOWN_ISSUER ? 1 : 2);

/**
 * Evaluate a requirement tree for one request. Providers are verified at most once per request (memoised);
 * every provider that verified is recorded in `ok`. `tokenSeen`: a token sits where some provider looks, so
 * `allow_missing` does not apply (a presented token must verify).
 */
async function evaluate(r: Requirement, statusOf: (name: string, audiences?: readonly string[]) => Promise<Status>, providers: ReadonlyMap<string, JwtProvider>, tokenSeen: boolean, ok: Verified[]): Promise<Result> {
  switch (r.kind) {
    case 'provider': {
      const s = await statusOf(r.name, r.audiences);
      if (s.kind === 'ok') {
        ok.push({ p: providers.get(r.name)!, s });
        return { pass: true };
      }
      const message = s.kind === 'missing' ? MISSING : s.message;
      return { pass: false, message, status: s.kind === 'missing' ? 401 : s.status, rank: rank(message) };
    }
    case 'allowMissing':
      return tokenSeen ? { pass: false, message: MISSING, status: 401, rank: 0 } : { pass: true };
    case 'allowMissingOrFailed':
      return { pass: true };
    case 'any': {
      let worst: Result | undefined;
      for (const c of r.of) {
        const x = await evaluate(c, statusOf, providers, tokenSeen, ok);
        if (x.pass) return x;
        if (!worst || (!worst.pass && x.rank > worst.rank)) worst = x;
      }
      return worst ?? { pass: true };
    }
    case 'all': {
      for (const c of r.of) {
        const x = await evaluate(c, statusOf, providers, tokenSeen, ok);
        if (!x.pass) return x;
      }
      return { pass: true };
    }
  }
}

/** Outputs of the verified providers (payload and claim headers, token removal) and the JWT RBAC will see. */
function applyOutputs(ok: readonly Verified[], headers: string[]): { jwt: JwtInfo; headers: string[] } {
  let out = headers;
  for (const { p, s } of ok) {
    if (!p.forward && s.header) out = out.filter((_, i, h) => h[i - (i % 2)] !== s.header);
    if (p.forwardPayloadHeader) out.push(p.forwardPayloadHeader, s.token.split('.')[1] ?? '');
    for (const c of p.claimToHeaders) {
      const v = claimAt(s.payload, c.claim);
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out.push(c.header, String(v));
    }
  }
  const { p, s } = ok[0]!;
  const claims: Record<string, unknown> = { ...s.payload };
  for (const name of p.spaceDelimited) if (typeof claims[name] === 'string') claims[name] = (claims[name] as string).split(' ').filter((x) => x !== '');
  const aud = s.payload.aud;
  return {
    headers: out,
    jwt: {
      principal: `${s.payload.iss ?? ''}/${s.payload.sub ?? ''}`,
      claims,
      audiences: aud === undefined ? [] : Array.isArray(aud) ? aud : [aud],
      presenter: typeof s.payload['azp'] === 'string' ? s.payload['azp'] : '',
    },
  };
}

/** Build the per-request filter from a parsed config. */
export function createJwtAuthnFilter(config: JwtAuthnConfig, deps: JwtFilterDeps = {}): JwtAuthnFilter {
  const v: Verifier = { jwks: deps.jwks ?? new JwksCache(deps.now ? { now: deps.now } : {}), now: deps.now ?? Date.now };
  const outputHeaders = new Set<string>();
  for (const p of config.providers.values()) {
    if (p.forwardPayloadHeader) outputHeaders.add(p.forwardPayloadHeader);
    for (const c of p.claimToHeaders) outputHeaders.add(c.header);
  }
  return async (req) => {
    const rule = config.rules.find((r) => (r.match.kind === 'prefix' ? req.path.startsWith(r.match.value) : req.path.split('?')[0] === r.match.value));
    const preflight = config.bypassCorsPreflight && req.method === 'OPTIONS' && headerFirst(req.headers, 'origin') !== undefined && headerFirst(req.headers, 'access-control-request-method') !== undefined;
    // Never trust output headers sent by the client: only this filter may set them.
    const headers = outputHeaders.size === 0 ? [...req.headers] : req.headers.filter((_, i, h) => !outputHeaders.has(h[i - (i % 2)]!));
    if (!rule?.requires || preflight) return { ok: true, headers };
    const statuses = new Map<string, Promise<Status>>();
    const statusOf = (name: string, audiences?: readonly string[]): Promise<Status> => {
      const key = audiences ? `${name}|${audiences.join(',')}` : name;
      let s = statuses.get(key);
      if (!s) {
        s = verify(v, config.providers.get(name)!, req, audiences);
        statuses.set(key, s);
      }
      return s;
    };
    const tokenSeen = [...config.providers.values()].some((p) => extract(p, req) !== undefined);
    const ok: Verified[] = [];
    const result = await evaluate(rule.requires, statusOf, config.providers, tokenSeen, ok);
    if (!result.pass) return { ok: false, status: result.status, body: result.message, details: `jwt_authn_access_denied{${result.message.replace(/ /g, '_')}}` };
    if (ok.length === 0) return { ok: true, headers };
    return { ok: true, ...applyOutputs(ok, headers) };
  };
}
