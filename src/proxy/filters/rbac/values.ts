// Matchers RBAC needs beyond strings and headers: CIDR ranges, Envoy ValueMatchers over dynamic metadata (JWT claims
// and other filters' metadata), and URI templates (`/a/*/b`, `/a/**`). Compiled once, never throw at match time.
import { BlockList, isIP } from 'node:net';
import { type Errors, type Raw, arr, at, obj, str, wrappedNum } from '../../config/raw.ts';
import { compileStringMatcher, loadRe2 } from '../../router/matchers.ts';
import type { AuthzRequest } from './request.ts';

/** `::ffff:1.2.3.4` (how Node reports IPv4 peers on dual-stack sockets) → `1.2.3.4`. */
export function plainIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/** envoy.config.core.v3.CidrRange → a predicate over an address. */
export function compileCidr(raw: unknown, path: string, errors: Errors): ((ip: string | undefined) => boolean) | undefined {
  const o = obj(raw);
  const address = str(o?.['address_prefix']) ?? '';
  const family = isIP(address);
  if (family === 0) {
    errors.add(at(path, 'address_prefix'), `not an IP address: ${JSON.stringify(address)}`);
    return undefined;
  }
  const len = wrappedNum(o?.['prefix_len']) ?? 0;
  const max = family === 4 ? 32 : 128;
  if (!Number.isInteger(len) || len < 0 || len > max) {
    errors.add(at(path, 'prefix_len'), `prefix length must be 0–${max}`);
    return undefined;
  }
  const list = new BlockList();
  const type = family === 4 ? 'ipv4' : 'ipv6';
  list.addSubnet(address, len, type);
  return (ip) => {
    if (ip === undefined) return false;
    const p = plainIp(ip);
    const f = isIP(p);
    if (f !== family) return false;
    return list.check(p, type);
  };
}

type ValueTest = (v: unknown) => boolean;

/**
 * envoy.type.matcher.v3.StringMatcher with direct closures for the common case-sensitive forms (the router's compiler
 * lower-cases through a helper on every call); everything else goes to the router's compiler.
 */
export function fastStringMatcher(raw: unknown, path: string, errors: Errors): ((v: string) => boolean) | undefined {
  const o = obj(raw);
  if (o && o['ignore_case'] !== true) {
    const e = o['exact'];
    if (typeof e === 'string') return (v) => v === e;
    const p = o['prefix'];
    if (typeof p === 'string') return (v) => v.startsWith(p);
    const s = o['suffix'];
    if (typeof s === 'string') return (v) => v.endsWith(s);
  }
  return compileStringMatcher(raw, path, errors);
}

/** envoy.type.matcher.v3.ValueMatcher. */
export function compileValueMatcher(raw: unknown, path: string, errors: Errors): ValueTest | undefined {
  const o = obj(raw);
  if (!o) {
    errors.add(path, 'value matcher must be an object');
    return undefined;
  }
  if (o['string_match'] !== undefined) {
    const t = fastStringMatcher(o['string_match'], at(path, 'string_match'), errors);
    return t && ((v) => typeof v === 'string' && t(v));
  }
  if (o['list_match'] !== undefined) {
    const one = compileValueMatcher(obj(o['list_match'])?.['one_of'], at(at(path, 'list_match'), 'one_of'), errors);
    return one && ((v) => Array.isArray(v) && v.some(one));
  }
  if (o['or_match'] !== undefined) {
    const list = arr(obj(o['or_match'])?.['value_matchers']).map((m, i) => compileValueMatcher(m, at(at(at(path, 'or_match'), 'value_matchers'), i), errors));
    if (list.some((t) => t === undefined)) return undefined;
    const ts = list as ValueTest[];
    return (v) => ts.some((t) => t(v));
  }
  if (o['present_match'] !== undefined) {
    const want = o['present_match'] === true;
    return (v) => (v !== undefined && v !== null) === want;
  }
  if (o['null_match'] !== undefined) return (v) => v === null || v === undefined;
  if (o['bool_match'] !== undefined) {
    const b = o['bool_match'] === true;
    return (v) => v === b;
  }
  if (o['double_match'] !== undefined) {
    const d = obj(o['double_match']) ?? {};
    if (typeof d['exact'] === 'number') {
      const e = d['exact'];
      return (v) => v === e;
    }
    const r = obj(d['range']) ?? {};
    const lo = Number(r['start'] ?? -Infinity);
    const hi = Number(r['end'] ?? Infinity);
    return (v) => typeof v === 'number' && v >= lo && v < hi;
  }
  errors.add(path, 'value matcher needs one of string_match, list_match, or_match, present_match, null_match, bool_match, double_match');
  return undefined;
}

/** Where a metadata matcher's filter namespace comes from in the request. */
function metadataRoot(filter: string, req: AuthzRequest): unknown {
  if (filter === 'envoy.filters.http.jwt_authn') return req.jwt ? { payload: req.jwt.claims } : undefined;
  if (filter === 'istio_authn') {
    // Older Istio (≤1.x) keyed the JWT under istio_authn: request.auth.principal, .audiences, .presenter, .claims.
    if (!req.jwt) return req.peerPrincipal ? { 'source.principal': req.peerPrincipal.replace(/^spiffe:\/\//, '') } : undefined;
    return {
      'request.auth.principal': req.jwt.principal,
      'request.auth.audiences': req.jwt.audiences.join(','),
      'request.auth.presenter': req.jwt.presenter,
      'request.auth.claims': req.jwt.claims,
      ...(req.peerPrincipal ? { 'source.principal': req.peerPrincipal.replace(/^spiffe:\/\//, '') } : {}),
    };
  }
  return req.metadata?.[filter];
}

/** envoy.type.matcher.v3.MetadataMatcher over the request's dynamic metadata. */
export function compileMetadataMatcher(raw: unknown, path: string, errors: Errors): ((req: AuthzRequest) => boolean) | undefined {
  const o = obj(raw) ?? {};
  const filter = str(o['filter']) ?? '';
  const keys = arr(o['path']).map((seg) => str(obj(seg)?.['key']));
  if (keys.some((k) => k === undefined)) {
    errors.add(at(path, 'path'), 'metadata path segments need a key');
    return undefined;
  }
  const value = compileValueMatcher(o['value'], at(path, 'value'), errors);
  if (!value) return undefined;
  const invert = o['invert'] === true;
  return (req) => {
    let cur: unknown = metadataRoot(filter, req);
    for (const k of keys as string[]) {
      const rec = obj(cur);
      cur = rec && Object.hasOwn(rec, k) ? rec[k] : undefined;
      if (cur === undefined) break;
    }
    const hit = cur !== undefined && value(cur);
    return invert ? !hit : hit;
  };
}

/** Envoy's uri_template path matcher: `*` one non-empty segment, `**` any rest (possibly empty), `{name}` forms too. */
export function compileUriTemplate(template: string, path: string, errors: Errors): ((p: string) => boolean) | undefined {
  if (!template.startsWith('/')) {
    errors.add(path, `path template must start with /: ${JSON.stringify(template)}`);
    return undefined;
  }
  let re = '';
  const parts = template.split(/(\{[^}]*\}|\*\*|\*)/);
  for (const part of parts) {
    if (part === '') continue;
    if (part === '**' || /^\{[A-Za-z0-9_]+=\*\*\}$/.test(part)) re += '.*';
    else if (part === '*' || /^\{[A-Za-z0-9_]+(=\*)?\}$/.test(part)) re += '[^/]+';
    else if (part.startsWith('{')) {
      errors.add(path, `unsupported path template operator ${part}`);
      return undefined;
    } else re += part.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
  }
  const compiled = loadRe2().compile(re);
  return (p) => compiled.matches(p);
}

export type { Raw };

/**
 * A route's `dynamic_metadata` matcher (claim-based routing) as a predicate over the request's verified JWT: the
 * router calls it with the JwtInfo the jwt_authn filter produced (undefined when no token was verified).
 */
export function compileRouteMetadataMatcher(raw: unknown, path: string, errors: Errors): ((jwt: AuthzRequest['jwt']) => boolean) | undefined {
  const m = compileMetadataMatcher(raw, path, errors);
  return m && ((jwt) => m(jwt ? { jwt, sourceIp: '', destinationPort: 0 } : { sourceIp: '', destinationPort: 0 }));
}
