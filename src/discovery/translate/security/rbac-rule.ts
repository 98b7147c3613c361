// One AuthorizationPolicy rule → one Envoy RBAC Policy (permissions = what is done, principals = who does it), with
// Istio's layout: each `to` entry is an and_rules of its fields, each `from` entry an and_ids, every field's values an
// or list and its not-values a not of an or list, `when` conditions appended to every entry. Field order follows
// Istio's builder (hosts, methods, paths, ports, then conditions; principals, request principals, service accounts,
// trust domains, namespaces, remote IPs, source IPs, then conditions), so the output reads like Istio's goldens.
import type { Condition, Rule } from '../../../config/api/security/authorization-policy.ts';
import type { Json } from '../common.ts';
import { cidrRange, claimMatcher, headerMatcher, metadataMatcher, orValue, prefixMatcher, quoteMeta, regexMatcher, stringMatcher, stringOrValue, exactMatcher, suffixMatcher } from './matchers.ts';
import { replaceTrustDomainAliases, expandTrustDomainAliases } from './trust-domain.ts';

/** Envoy's jwt_authn filter and the metadata key under which it stores a verified payload (Istio's names). */
export const JWT_FILTER = 'envoy.filters.http.jwt_authn';
export const JWT_PAYLOAD_KEY = 'payload';
export const URI_TEMPLATE_TYPE = 'type.googleapis.com/envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig';

/** Thrown by a generator for a field that cannot apply (an HTTP-only field on a TCP chain). */
class NotApplicable extends Error {}

type Side = 'permission' | 'principal';
/** `single` makes one matcher per value (or-ed by the caller); `multi` makes one matcher from all values. */
type Gen = { side: Side; httpOnly: boolean } & ({ kind: 'single'; one: (v: string) => Json } | { kind: 'multi'; all: (vs: readonly string[]) => Json });

interface Field {
  key: string;
  values: readonly string[];
  notValues: readonly string[];
  gen: Gen;
}

export interface RuleContext {
  policyNamespace: string;
  /** The trust domain and its aliases (the first is the mesh's own). */
  trustDomains: readonly string[];
  forTcp: boolean;
  /** Istio's RBAC action of the filter being built: an ALLOW rule with an inapplicable field is dropped whole. */
  action: 'ALLOW' | 'DENY' | 'LOG';
}

const authenticated = (m: Json): Json => ({ authenticated: { principal_name: m } });
const single = (side: Side, httpOnly: boolean, one: (v: string) => Json): Gen => ({ side, httpOnly, kind: 'single', one });
const multi = (side: Side, httpOnly: boolean, all: (vs: readonly string[]) => Json): Gen => ({ side, httpOnly, kind: 'multi', all });

const gens = {
  host: single('permission', true, (v) => ({ header: headerMatcher(':authority', v, true) })),
  method: single('permission', true, (v) => ({ header: headerMatcher(':method', v) })),
  path: single('permission', true, (v) =>
    v.includes('{*}') || v.includes('{**}')
      ? { uri_template: { name: 'uri-template', typed_config: { '@type': URI_TEMPLATE_TYPE, path_template: v.replaceAll('{**}', '**').replaceAll('{*}', '*') } } }
      : { url_path: { path: stringMatcher(v) } },
  ),
  port: single('permission', false, (v) => ({ destination_port: Number(v) })),
  destIp: single('permission', false, (v) => ({ destination_ip: cidrRange(v) })),
  sni: single('permission', false, (v) => ({ requested_server_name: stringMatcher(v) })),
  sourceIp: single('principal', false, (v) => ({ direct_remote_ip: cidrRange(v) })),
  remoteIp: single('principal', false, (v) => ({ remote_ip: cidrRange(v) })),
  namespace: single('principal', false, (v) => authenticated(regexMatcher(`.*/ns/${v.split('*').map(quoteMeta).join('.*')}/.*`))),
  principal: single('principal', false, (v) => authenticated(stringMatcher(v, 'spiffe://'))),
  header: (name: string) => single('principal', true, (v) => ({ header: headerMatcher(name, v) })),
  requestPrincipal: multi('principal', true, requestPrincipals),
  audiences: multi('principal', true, (vs) => ({ metadata: claimMatcher(JWT_FILTER, [JWT_PAYLOAD_KEY, 'aud'], stringOrValue(vs)) })),
  presenter: multi('principal', true, (vs) => ({ metadata: claimMatcher(JWT_FILTER, [JWT_PAYLOAD_KEY, 'azp'], stringOrValue(vs)) })),
  claims: (keys: string[]) => multi('principal', true, (vs) => ({ metadata: claimMatcher(JWT_FILTER, [JWT_PAYLOAD_KEY, ...keys], stringOrValue(vs)) })),
  envoyFilter: (filter: string, key: string) => multi('permission', false, (vs) => ({ metadata: metadataMatcher(filter, [key], orValue(vs.map(filterValue))) })),
};

function filterValue(v: string): Json {
  if (v.startsWith('[') && v.endsWith(']')) return { list_match: { one_of: { string_match: stringMatcher(v.slice(1, -1)) } } };
  return { string_match: stringMatcher(v) };
}

function serviceAccount(policyNs: string): Gen {
  return single('principal', false, (v) => {
    const slash = v.indexOf('/');
    const ns = slash < 0 ? policyNs : v.slice(0, slash);
    const sa = slash < 0 ? v : v.slice(slash + 1);
    return authenticated(regexMatcher(`spiffe://.+/ns/${quoteMeta(ns)}/(.+/|)sa/${quoteMeta(sa)}(/.+)?`));
  });
}

const trustDomain = single('principal', false, (v) => {
  if (v === '*') return authenticated(prefixMatcher('spiffe://'));
  const star = v.indexOf('*');
  if (star < 0) return authenticated(prefixMatcher(`spiffe://${v}/`));
  return authenticated(regexMatcher(`spiffe://${quoteMeta(v.slice(0, star))}[^/]*${quoteMeta(v.slice(star + 1))}/.*`));
});

/** `iss/sub` request principals, each an and of an `iss` and a `sub` claim matcher (split at the last `/`). */
function requestPrincipals(values: readonly string[]): Json {
  const any = regexMatcher('.+');
  const ids = values.map((value) => {
    const idx = value.lastIndexOf('/');
    const found = idx >= 0;
    const iss = found ? value.slice(0, idx) : value;
    const sub = found ? value.slice(idx + 1) : '';
    let mi: Json;
    let ms: Json;
    if (value === '*') [mi, ms] = [any, any];
    else if (value.startsWith('*')) [mi, ms] = found ? [iss === '*' ? any : suffixMatcher(iss.slice(1)), exactMatcher(sub)] : [any, suffixMatcher(value.slice(1))];
    else if (value.endsWith('*')) [mi, ms] = found ? [exactMatcher(iss), sub === '*' ? any : prefixMatcher(sub.slice(0, -1))] : [prefixMatcher(value.slice(0, -1)), any];
    else [mi, ms] = [exactMatcher(iss), exactMatcher(sub)];
    const claim = (name: string, m: Json): Json => ({ metadata: metadataMatcher(JWT_FILTER, [JWT_PAYLOAD_KEY, name], { string_match: m }) });
    return { and_ids: { ids: [claim('iss', mi), claim('sub', ms)] } };
  });
  return ids.length === 1 ? ids[0]! : { or_ids: { ids } };
}

/** Names inside brackets: `[a]` → [a]; `[a][b]` → [a, b] (nested claims). */
function bracketNames(s: string): string[] | undefined {
  const nested = [...s.matchAll(/\[([^[\]]*)\]/g)].map((m) => m[1]!);
  if (nested.length > 0 && nested.map((n) => `[${n}]`).join('') === s) return nested;
  if (s.startsWith('[') && s.endsWith(']')) return [s.slice(1, -1)];
  return undefined;
}

function conditionField(c: Condition, policyNs: string): Field {
  const key = c.key;
  const f = (gen: Gen): Field => ({ key, values: c.values ?? [], notValues: c.notValues ?? [], gen });
  switch (key) {
    case 'destination.ip': return f(gens.destIp);
    case 'destination.port': return f(gens.port);
    case 'connection.sni': return f(gens.sni);
    case 'source.ip': return f(gens.sourceIp);
    case 'remote.ip': return f(gens.remoteIp);
    case 'source.namespace': return f(gens.namespace);
    case 'source.trustDomain': return f(trustDomain);
    case 'source.serviceAccount': return f(serviceAccount(policyNs));
    case 'source.principal': return f(gens.principal);
    case 'request.auth.principal': return f(gens.requestPrincipal);
    case 'request.auth.audiences': return f(gens.audiences);
    case 'request.auth.presenter': return f(gens.presenter);
  }
  if (key.startsWith('experimental.envoy.filters.')) {
    const rest = key.slice('experimental.'.length);
    const open = rest.indexOf('[');
    if (open > 0 && rest.endsWith(']')) return f(gens.envoyFilter(rest.slice(0, open), rest.slice(open + 1, -1)));
  } else if (key.startsWith('request.headers')) {
    const names = bracketNames(key.slice('request.headers'.length));
    if (names?.length === 1) return f(gens.header(names[0]!));
  } else if (key.startsWith('request.auth.claims')) {
    const names = bracketNames(key.slice('request.auth.claims'.length));
    if (names) return f(gens.claims(names));
  }
  throw new Error(`unknown attribute ${key}`);
}

const nonEmpty = (fields: Field[]): Field[] => fields.filter((x) => x.values.length + x.notValues.length > 0);

/** The fields of a rule, as [permission lists per `to` entry, principal lists per `from` entry]. */
function ruleFields(rule: Rule, ctx: RuleContext): { permissions: Field[][]; principals: Field[][] } {
  const basePerm: Field[] = [];
  const basePrin: Field[] = [];
  for (const c of rule.when ?? []) {
    const field = conditionField(c, ctx.policyNamespace);
    (field.gen.side === 'permission' ? basePerm : basePrin).push(field);
  }
  const fld = (key: string, values: string[] | undefined, notValues: string[] | undefined, gen: Gen): Field => ({ key, values: values ?? [], notValues: notValues ?? [], gen });
  const principals = (rule.from ?? []).map(({ source: s = {} }) =>
    nonEmpty([
      fld('source.principal', s.principals, s.notPrincipals, gens.principal),
      fld('request.auth.principal', s.requestPrincipals, s.notRequestPrincipals, gens.requestPrincipal),
      fld('source.serviceAccount', s.serviceAccounts, s.notServiceAccounts, serviceAccount(ctx.policyNamespace)),
      fld('source.trustDomain', s.trustDomains, s.notTrustDomains, trustDomain),
      fld('source.namespace', s.namespaces, s.notNamespaces, gens.namespace),
      fld('remote.ip', s.remoteIpBlocks, s.notRemoteIpBlocks, gens.remoteIp),
      fld('source.ip', s.ipBlocks, s.notIpBlocks, gens.sourceIp),
    ]).concat(nonEmpty(basePrin)),
  );
  const permissions = (rule.to ?? []).map(({ operation: o = {} }) =>
    nonEmpty([
      fld('hosts', o.hosts, o.notHosts, gens.host),
      fld('methods', o.methods, o.notMethods, gens.method),
      fld('paths', o.paths, o.notPaths, gens.path),
      fld('destination.port', o.ports, o.notPorts, gens.port),
    ]).concat(nonEmpty(basePerm)),
  );
  if (principals.length === 0) principals.push(nonEmpty(basePrin));
  if (permissions.length === 0) permissions.push(nonEmpty(basePerm));
  // Trust-domain migration: principals name every alias, trust domain values expand to all of them.
  for (const list of principals) {
    for (let i = 0; i < list.length; i++) {
      const f = list[i]!;
      if (f.key === 'source.principal') list[i] = { ...f, values: replaceTrustDomainAliases(f.values, ctx.trustDomains), notValues: replaceTrustDomainAliases(f.notValues, ctx.trustDomains) };
      else if (f.key === 'source.trustDomain') list[i] = { ...f, values: expandTrustDomainAliases(f.values, ctx.trustDomains), notValues: expandTrustDomainAliases(f.notValues, ctx.trustDomains) };
    }
  }
  return { permissions, principals };
}

/** One value set of a field → its matchers; an inapplicable field throws for ALLOW and is left out otherwise. */
function generate(f: Field, values: readonly string[], ctx: RuleContext): Json | undefined {
  if (values.length === 0) return undefined;
  if (ctx.forTcp && f.gen.httpOnly) {
    if (ctx.action === 'ALLOW') throw new NotApplicable(`"${f.key}" is HTTP only`);
    return undefined;
  }
  const g = f.gen;
  if (g.kind === 'multi') return g.all(values);
  const list = values.map(g.one);
  return f.gen.side === 'permission' ? { or_rules: { rules: list } } : { or_ids: { ids: list } };
}

function entries(fields: Field[], ctx: RuleContext, side: Side): Json {
  const out: Json[] = [];
  for (const f of fields) {
    const yes = generate(f, f.values, ctx);
    if (yes) out.push(yes);
    const no = generate(f, f.notValues, ctx);
    if (no) out.push(side === 'permission' ? { not_rule: no } : { not_id: no });
  }
  if (out.length === 0) out.push({ any: true });
  return side === 'permission' ? { and_rules: { rules: out } } : { and_ids: { ids: out } };
}

/** Build the RBAC Policy of one rule, or undefined when the rule cannot apply here (HTTP-only fields in a TCP ALLOW). */
export function buildRulePolicy(rule: Rule, ctx: RuleContext): Json | undefined {
  const { permissions, principals } = ruleFields(rule, ctx);
  try {
    return {
      permissions: permissions.map((fs) => entries(fs, ctx, 'permission')),
      principals: principals.map((fs) => entries(fs, ctx, 'principal')),
    };
  } catch (e) {
    if (e instanceof NotApplicable) return undefined;
    throw e;
  }
}

/** The policy Istio emits for a policy without rules: matches nothing (so ALLOW with no rules allows nothing). */
export const matchNeverPolicy: Json = { permissions: [{ not_rule: { any: true } }], principals: [{ not_id: { any: true } }] };
