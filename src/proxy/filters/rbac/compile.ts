// Envoy RBAC config (envoy.config.rbac.v3.RBAC, decoded from xDS) compiled once into predicates over an AuthzRequest:
// a policy matches when any of its permissions and any of its principals match; and/or/not trees become closures.
// Anything this engine cannot evaluate is a compile error, so the listener is rejected (NACK) instead of enforcing
// less than the control plane asked for.
import { type Errors, type Raw, arr, at, num, obj, str } from '../../config/raw.ts';
import { compileHeaderMatcher } from '../../router/matchers.ts';
import type { AuthzRequest } from './request.ts';
import { compileCidr, compileMetadataMatcher, compileUriTemplate, fastStringMatcher } from './values.ts';

export type Pred = (req: AuthzRequest) => boolean;

export type RbacAction = 'ALLOW' | 'DENY' | 'LOG';

export interface CompiledPolicy {
  name: string;
  matches: Pred;
  /**
   * When every principal of the policy requires one of these exact peer identities, a quick pre-check: the common
   * `from.source.principals` rule then costs a Set lookup on non-matching requests instead of a tree walk.
   */
  peers?: ReadonlySet<string>;
  /** Likewise for paths: every permission requires the path to equal one of `exact` or start with one of `prefix`. */
  paths?: { exact: ReadonlySet<string>; prefix: readonly string[] };
}

export interface CompiledRbac {
  action: RbacAction;
  /** Policies in config order (Envoy keeps a map; the first match is reported). */
  policies: readonly CompiledPolicy[];
}

const yes: Pred = () => true;

function headerValue(headers: readonly string[] | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  let out: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === name) out = out === undefined ? headers[i + 1]! : `${out},${headers[i + 1]!}`;
  }
  return out;
}

/** The value a header matcher sees: pseudo-headers from the request, others from the header list (joined by ','). */
function headerOf(req: AuthzRequest, name: string): string | undefined {
  switch (name) {
    case ':authority':
      return req.host ?? headerValue(req.headers, 'host');
    case ':method':
      return req.method;
    case ':path':
      return req.path;
    case ':scheme':
      return req.method === undefined ? undefined : 'http';
    case 'host':
      return req.host ?? headerValue(req.headers, 'host');
    default:
      return headerValue(req.headers, name);
  }
}

/** The path without query or fragment (what url_path matches). Two indexOf calls; no allocation without a query. */
function pathOf(req: AuthzRequest): string | undefined {
  return req.path === undefined ? undefined : pathOnly(req.path);
}

function pathOnly(target: string): string {
  const q = target.indexOf('?');
  const h = target.indexOf('#');
  const end = q < 0 ? h : h < 0 ? q : Math.min(q, h);
  return end < 0 ? target : target.slice(0, end);
}

function pathAllowed(gate: { exact: ReadonlySet<string>; prefix: readonly string[] }, path: string): boolean {
  if (gate.exact.has(path)) return true;
  for (const p of gate.prefix) if (path.startsWith(p)) return true;
  return false;
}

function all(list: Pred[]): Pred {
  if (list.length === 1) return list[0]!;
  return (req) => {
    for (const p of list) if (!p(req)) return false;
    return true;
  };
}

function any(list: Pred[]): Pred {
  if (list.length === 1) return list[0]!;
  return (req) => {
    for (const p of list) if (p(req)) return true;
    return false;
  };
}

function header(raw: unknown, path: string, errors: Errors): Pred | undefined {
  const h = compileHeaderMatcher(obj(raw) ?? {}, path, errors);
  if (!h) return undefined;
  const name = h.name;
  return (req) => h.test(headerOf(req, name));
}

function urlPath(raw: unknown, path: string, errors: Errors): Pred | undefined {
  const t = fastStringMatcher(obj(raw)?.['path'], at(path, 'path'), errors);
  return t && ((req) => {
    const p = pathOf(req);
    return p !== undefined && t(p);
  });
}

/** Compile a list of sub-rules; undefined if any failed. */
function list(items: unknown[], path: string, errors: Errors, one: (raw: unknown, path: string, errors: Errors) => Pred | undefined): Pred[] | undefined {
  const out = items.map((r, i) => one(r, at(path, i), errors));
  return out.some((p) => p === undefined) ? undefined : (out as Pred[]);
}

/** envoy.config.rbac.v3.Permission. */
export function compilePermission(raw: unknown, path: string, errors: Errors): Pred | undefined {
  const o = obj(raw) ?? {};
  if (o['any'] === true) return yes;
  if (o['and_rules'] !== undefined) {
    const l = list(arr(obj(o['and_rules'])?.['rules']), at(at(path, 'and_rules'), 'rules'), errors, compilePermission);
    return l && (l.length === 0 ? yes : all(l));
  }
  if (o['or_rules'] !== undefined) {
    const l = list(arr(obj(o['or_rules'])?.['rules']), at(at(path, 'or_rules'), 'rules'), errors, compilePermission);
    return l && (l.length === 0 ? () => false : any(l));
  }
  if (o['not_rule'] !== undefined) {
    const p = compilePermission(o['not_rule'], at(path, 'not_rule'), errors);
    return p && ((req) => !p(req));
  }
  if (o['header'] !== undefined) return header(o['header'], at(path, 'header'), errors);
  if (o['url_path'] !== undefined) return urlPath(o['url_path'], at(path, 'url_path'), errors);
  if (o['destination_port'] !== undefined) {
    const port = num(o['destination_port']);
    return (req) => req.destinationPort === port;
  }
  if (o['destination_port_range'] !== undefined) {
    const r = obj(o['destination_port_range']) ?? {};
    const lo = num(r['start']) ?? 0;
    const hi = num(r['end']) ?? 0;
    return (req) => req.destinationPort >= lo && req.destinationPort < hi;
  }
  if (o['destination_ip'] !== undefined) {
    const t = compileCidr(o['destination_ip'], at(path, 'destination_ip'), errors);
    return t && ((req) => t(req.destinationIp));
  }
  if (o['requested_server_name'] !== undefined) {
    const t = fastStringMatcher(o['requested_server_name'], at(path, 'requested_server_name'), errors);
    return t && ((req) => t(req.sni ?? ''));
  }
  if (o['metadata'] !== undefined) return compileMetadataMatcher(o['metadata'], at(path, 'metadata'), errors);
  if (o['uri_template'] !== undefined) {
    const tc = obj(obj(o['uri_template'])?.['typed_config']) ?? {};
    const template = str(tc['path_template']);
    if (template === undefined) {
      errors.add(at(path, 'uri_template'), 'uri_template needs a UriTemplateMatchConfig with path_template');
      return undefined;
    }
    const t = compileUriTemplate(template, at(path, 'uri_template'), errors);
    return t && ((req) => {
      const p = pathOf(req);
      return p !== undefined && t(p);
    });
  }
  errors.add(path, `permission rule ${Object.keys(o).join(',') || '(empty)'} is not supported by this proxy`);
  return undefined;
}

/** envoy.config.rbac.v3.Principal. */
export function compilePrincipal(raw: unknown, path: string, errors: Errors): Pred | undefined {
  const o = obj(raw) ?? {};
  if (o['any'] === true) return yes;
  if (o['and_ids'] !== undefined) {
    const l = list(arr(obj(o['and_ids'])?.['ids']), at(at(path, 'and_ids'), 'ids'), errors, compilePrincipal);
    return l && (l.length === 0 ? yes : all(l));
  }
  if (o['or_ids'] !== undefined) {
    const l = list(arr(obj(o['or_ids'])?.['ids']), at(at(path, 'or_ids'), 'ids'), errors, compilePrincipal);
    return l && (l.length === 0 ? () => false : any(l));
  }
  if (o['not_id'] !== undefined) {
    const p = compilePrincipal(o['not_id'], at(path, 'not_id'), errors);
    return p && ((req) => !p(req));
  }
  if (o['authenticated'] !== undefined) {
    const name = obj(o['authenticated'])?.['principal_name'];
    // No principal_name: any authenticated (mTLS) peer. With one: the peer's URI SAN must match.
    if (name === undefined) return (req) => req.peerPrincipal !== undefined;
    const t = fastStringMatcher(name, at(at(path, 'authenticated'), 'principal_name'), errors);
    return t && ((req) => req.peerPrincipal !== undefined && t(req.peerPrincipal));
  }
  if (o['filter_state'] !== undefined) {
    const fs = obj(o['filter_state']) ?? {};
    if (fs['key'] !== 'io.istio.peer_principal') {
      errors.add(at(path, 'filter_state'), `filter state key ${String(fs['key'])} is not supported`);
      return undefined;
    }
    const t = fastStringMatcher(fs['string_match'], at(at(path, 'filter_state'), 'string_match'), errors);
    return t && ((req) => req.peerPrincipal !== undefined && t(req.peerPrincipal));
  }
  if (o['direct_remote_ip'] !== undefined || o['source_ip'] !== undefined) {
    const key = o['direct_remote_ip'] !== undefined ? 'direct_remote_ip' : 'source_ip';
    const t = compileCidr(o[key], at(path, key), errors);
    return t && ((req) => t(req.sourceIp));
  }
  if (o['remote_ip'] !== undefined) {
    const t = compileCidr(o['remote_ip'], at(path, 'remote_ip'), errors);
    return t && ((req) => t(req.remoteIp ?? req.sourceIp));
  }
  if (o['header'] !== undefined) return header(o['header'], at(path, 'header'), errors);
  if (o['url_path'] !== undefined) return urlPath(o['url_path'], at(path, 'url_path'), errors);
  if (o['metadata'] !== undefined) return compileMetadataMatcher(o['metadata'], at(path, 'metadata'), errors);
  errors.add(path, `principal ${Object.keys(o).join(',') || '(empty)'} is not supported by this proxy`);
  return undefined;
}

/**
 * The exact peer identities a principal list requires, if it requires one: every entry must be an and_ids holding an
 * or_ids of `authenticated.principal_name.exact` (Istio's shape for `principals: [a, b]`). Undefined otherwise.
 */
function exactPeers(principals: unknown[]): Set<string> | undefined {
  if (principals.length === 0) return undefined;
  const out = new Set<string>();
  for (const p of principals) {
    const ids = arr(obj(obj(p)?.['and_ids'])?.['ids']);
    const required = ids.map((id) => {
      const or = arr(obj(obj(id)?.['or_ids'])?.['ids']);
      const exacts = or.map((x) => {
        const m = obj(obj(obj(x)?.['authenticated'])?.['principal_name']);
        return m && m['ignore_case'] !== true && typeof m['exact'] === 'string' ? m['exact'] : undefined;
      });
      return or.length > 0 && exacts.every((e) => e !== undefined) ? (exacts as string[]) : undefined;
    }).find((e) => e !== undefined);
    if (!required) return undefined;
    for (const e of required) out.add(e);
  }
  return out;
}

/**
 * The paths a permission list requires, if it requires them: every entry must be an and_rules holding an or_rules of
 * case-sensitive `url_path` exact / prefix matchers (Istio's shape for `paths: [/a, /b/*]`). Undefined otherwise.
 */
function requiredPaths(permissions: unknown[]): { exact: Set<string>; prefix: string[] } | undefined {
  if (permissions.length === 0) return undefined;
  const exact = new Set<string>();
  const prefix: string[] = [];
  for (const p of permissions) {
    const rules = arr(obj(obj(p)?.['and_rules'])?.['rules']);
    const found = rules.map((r) => {
      const or = arr(obj(obj(r)?.['or_rules'])?.['rules']);
      const ms = or.map((x) => obj(obj(obj(x)?.['url_path'])?.['path']));
      if (or.length === 0 || ms.some((m) => !m || m['ignore_case'] === true || (typeof m['exact'] !== 'string' && typeof m['prefix'] !== 'string'))) return undefined;
      return ms as Raw[];
    }).find((m) => m !== undefined);
    if (!found) return undefined;
    for (const m of found) {
      if (typeof m['exact'] === 'string') exact.add(m['exact']);
      else prefix.push(m['prefix'] as string);
    }
  }
  return { exact, prefix };
}

/** envoy.config.rbac.v3.RBAC (the `rules` or `shadow_rules` of the filter). */
export function compileRbac(raw: unknown, path: string, errors: Errors): CompiledRbac | undefined {
  const o = obj(raw) ?? {};
  const action = (str(o['action']) ?? 'ALLOW') as RbacAction;
  if (action !== 'ALLOW' && action !== 'DENY' && action !== 'LOG') {
    errors.add(at(path, 'action'), `unknown RBAC action ${String(action)}`);
    return undefined;
  }
  const policies: CompiledPolicy[] = [];
  for (const [name, p] of Object.entries(obj(o['policies']) ?? {})) {
    const pr: Raw = obj(p) ?? {};
    const ppath = at(at(path, 'policies'), name);
    if (pr['condition'] !== undefined || pr['checked_condition'] !== undefined) {
      errors.add(ppath, 'CEL conditions in RBAC policies are not supported by this proxy');
      continue;
    }
    const perms = list(arr(pr['permissions']), at(ppath, 'permissions'), errors, compilePermission);
    const prins = list(arr(pr['principals']), at(ppath, 'principals'), errors, compilePrincipal);
    if (!perms || !prins) continue;
    const perm = perms.length === 0 ? () => false : any(perms);
    const prin = prins.length === 0 ? () => false : any(prins);
    const peers = exactPeers(arr(pr['principals']));
    const paths = requiredPaths(arr(pr['permissions']));
    policies.push({ name, matches: (req) => perm(req) && prin(req), ...(peers ? { peers } : {}), ...(paths ? { paths } : {}) });
  }
  return errors.any ? undefined : { action, policies };
}

/** The first policy that matches, or undefined. Never throws: a matcher failure counts as no match. */
export function firstMatch(rbac: CompiledRbac, req: AuthzRequest): string | undefined {
  const list = rbac.policies;
  try {
    const peer = req.peerPrincipal;
    const path = pathOf(req);
    for (let i = 0; i < list.length; i++) {
      const p = list[i]!;
      if (p.peers !== undefined && (peer === undefined || !p.peers.has(peer))) continue;
      if (p.paths !== undefined && (path === undefined || !pathAllowed(p.paths, path))) continue;
      if (p.matches(req)) return p.name;
    }
    return undefined;
  } catch {
    // A matcher failed (it should not): evaluate one by one, counting a failing policy as no match.
    for (const p of list) {
      try {
        if (p.matches(req)) return p.name;
      } catch {
        // no match
      }
    }
    return undefined;
  }
}
