// The jwt_authn filter's typed_config (envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication), parsed once:
// providers (issuer, audiences, token locations, key source, outputs) and the requirement of the first matching rule.
import { WeftError } from '../../../core/errors.ts';
import { type Errors as ErrorsT, Errors, arr, at, bool, durationMs, num, obj, str } from '../../config/raw.ts';
import { type KeySet, parseJwks } from './jwks.ts';

export interface TokenHeader {
  /** Lower-case header name. */
  name: string;
  prefix: string;
}

export interface JwtProvider {
  name: string;
  issuer?: string;
  audiences: readonly string[];
  headers: readonly TokenHeader[];
  params: readonly string[];
  cookies: readonly string[];
  /** Keep the token in the request forwarded upstream. */
  forward: boolean;
  forwardPayloadHeader?: string;
  claimToHeaders: ReadonlyArray<{ header: string; claim: string }>;
  /** Claims whose space-separated string value becomes a list in metadata. */
  spaceDelimited: readonly string[];
  /** Allowed clock skew, seconds (Envoy default 60). */
  clockSkewSeconds: number;
  keys: { kind: 'local'; set: KeySet } | { kind: 'remote'; uri: string; cacheMs: number; timeoutMs: number };
}

export type Requirement =
  | { kind: 'provider'; name: string; audiences?: readonly string[] }
  | { kind: 'any'; of: readonly Requirement[] }
  | { kind: 'all'; of: readonly Requirement[] }
  | { kind: 'allowMissing' }
  | { kind: 'allowMissingOrFailed' };

export interface JwtRule {
  match: { kind: 'prefix' | 'path'; value: string };
  requires: Requirement | undefined;
}

export interface JwtAuthnConfig {
  providers: ReadonlyMap<string, JwtProvider>;
  rules: readonly JwtRule[];
  bypassCorsPreflight: boolean;
}

function parseProvider(name: string, raw: unknown, path: string, errors: ErrorsT): JwtProvider | undefined {
  const o = obj(raw) ?? {};
  const headers = arr(o['from_headers']).map((h) => ({ name: (str(obj(h)?.['name']) ?? '').toLowerCase(), prefix: str(obj(h)?.['value_prefix']) ?? '' }));
  const params = arr(o['from_params']).map((p) => String(p));
  const cookies = arr(o['from_cookies']).map((c) => String(c));
  const defaults = headers.length === 0 && params.length === 0 && cookies.length === 0;
  let keys: JwtProvider['keys'] | undefined;
  const local = obj(o['local_jwks']);
  const remote = obj(o['remote_jwks']);
  if (local) {
    const text = str(local['inline_string']) ?? (typeof local['inline_bytes'] === 'string' ? Buffer.from(local['inline_bytes'], 'base64').toString('utf8') : undefined);
    if (text === undefined) errors.add(at(path, 'local_jwks'), 'only inline_string / inline_bytes key sets are supported');
    else {
      try {
        keys = { kind: 'local', set: parseJwks(text) };
      } catch (e) {
        errors.add(at(path, 'local_jwks'), `invalid JWKS: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  } else if (remote) {
    const uri = str(obj(remote['http_uri'])?.['uri']);
    if (!uri || !/^https?:\/\//.test(uri)) errors.add(at(at(path, 'remote_jwks'), 'http_uri'), 'remote_jwks needs an http(s) uri');
    else {
      keys = {
        kind: 'remote',
        uri,
        cacheMs: durationMs(remote['cache_duration']) ?? 300_000,
        timeoutMs: durationMs(obj(remote['http_uri'])?.['timeout']) ?? 5000,
      };
    }
  } else errors.add(path, 'provider needs local_jwks or remote_jwks');
  if (!keys) return undefined;
  const spaceDelimited = arr(obj(o['normalize_payload_in_metadata'])?.['space_delimited_claims']).map(String);
  const issuer = str(o['issuer']);
  return {
    name,
    ...(issuer ? { issuer } : {}),
    audiences: arr(o['audiences']).map(String),
    headers: defaults ? [{ name: 'authorization', prefix: 'Bearer ' }] : headers,
    params: defaults ? ['access_token'] : params,
    cookies,
    forward: bool(o['forward']) === true,
    ...(str(o['forward_payload_header']) ? { forwardPayloadHeader: str(o['forward_payload_header'])!.toLowerCase() } : {}),
    claimToHeaders: arr(o['claim_to_headers']).map((c) => ({ header: (str(obj(c)?.['header_name']) ?? '').toLowerCase(), claim: str(obj(c)?.['claim_name']) ?? '' })),
    spaceDelimited,
    clockSkewSeconds: num(o['clock_skew_seconds']) ?? 60,
    keys,
  };
}

function parseRequirement(raw: unknown, path: string, errors: ErrorsT, providers: ReadonlyMap<string, JwtProvider>): Requirement | undefined {
  const o = obj(raw);
  if (!o) return undefined;
  const name = str(o['provider_name']);
  if (name !== undefined) {
    if (!providers.has(name)) errors.add(at(path, 'provider_name'), `unknown provider ${name}`);
    return { kind: 'provider', name };
  }
  const pa = obj(o['provider_and_audiences']);
  if (pa) {
    const n = str(pa['provider_name']) ?? '';
    if (!providers.has(n)) errors.add(at(path, 'provider_and_audiences'), `unknown provider ${n}`);
    return { kind: 'provider', name: n, audiences: arr(pa['audiences']).map(String) };
  }
  const list = (key: 'requires_any' | 'requires_all'): Requirement[] =>
    arr(obj(o[key])?.['requirements']).map((r, i) => parseRequirement(r, at(at(at(path, key), 'requirements'), i), errors, providers)).filter((r): r is Requirement => r !== undefined);
  if (o['requires_any'] !== undefined) return { kind: 'any', of: list('requires_any') };
  if (o['requires_all'] !== undefined) return { kind: 'all', of: list('requires_all') };
  if (o['allow_missing'] !== undefined) return { kind: 'allowMissing' };
  if (o['allow_missing_or_failed'] !== undefined) return { kind: 'allowMissingOrFailed' };
  errors.add(path, `requirement ${Object.keys(o).join(',')} is not supported`);
  return undefined;
}

/** Parse the filter config; throws WEFT_ERR_CONFIG_INVALID listing what is wrong. */
export function parseJwtAuthnConfig(typedConfig: unknown, path = 'typed_config'): JwtAuthnConfig {
  const tc = obj(typedConfig) ?? {};
  const errors = new Errors();
  const providers = new Map<string, JwtProvider>();
  for (const [name, p] of Object.entries(obj(tc['providers']) ?? {})) {
    const parsed = parseProvider(name, p, at(at(path, 'providers'), name), errors);
    if (parsed) providers.set(name, parsed);
  }
  const rules: JwtRule[] = arr(tc['rules']).map((r, i) => {
    const ro = obj(r) ?? {};
    const m = obj(ro['match']) ?? {};
    const rpath = at(at(path, 'rules'), i);
    let match: JwtRule['match'] = { kind: 'prefix', value: '/' };
    if (typeof m['prefix'] === 'string') match = { kind: 'prefix', value: m['prefix'] };
    else if (typeof m['path'] === 'string') match = { kind: 'path', value: m['path'] };
    else errors.add(at(rpath, 'match'), 'only prefix and path matches are supported in jwt_authn rules');
    return { match, requires: parseRequirement(ro['requires'], at(rpath, 'requires'), errors, providers) };
  });
  if (arr(tc['requirement_map']).length > 0 || tc['filter_state_rules'] !== undefined) errors.add(path, 'requirement_map / filter_state_rules are not supported');
  if (errors.any) {
    throw new WeftError('WEFT_ERR_CONFIG_INVALID', `jwt_authn filter rejected: ${errors.list.slice(0, 3).map((e) => `${e.path}: ${e.message}`).join('; ')}`);
  }
  return { providers, rules, bypassCorsPreflight: bool(tc['bypass_cors_preflight']) === true };
}
