// AuthorizationPolicies that apply to one workload → Envoy's RBAC filters, in Istio's order: CUSTOM (a shadow RBAC
// that marks the requests to send, then ext_authz), AUDIT, DENY, ALLOW; one filter per action that has policies
// (no ALLOW policy ⇒ no ALLOW filter ⇒ allow). Each rule becomes the RBAC policy `ns[NS]-policy[NAME]-rule[N]`;
// dry-run policies (annotation istio.io/dry-run) go to shadow_rules. TCP chains get envoy.filters.network.rbac,
// where a rule that needs HTTP attributes is dropped from ALLOW and widened in DENY, exactly as Istio does.
import type { Resource } from '../../../config/api/resource.ts';
import type { AuthorizationPolicySpec } from '../../../config/api/security/authorization-policy.ts';
import type { Json } from '../common.ts';
import { extAuthzHttpFilter, extAuthzTcpFilter, type ExtensionProvider } from './ext-authz.ts';
import { buildRulePolicy, matchNeverPolicy, type RuleContext } from './rbac-rule.ts';

export const RBAC_HTTP_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
export const RBAC_TCP_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC';
const DRY_RUN_ANNOTATION = 'istio.io/dry-run';
const BAD_CUSTOM_SUFFIX = '-deny-due-to-bad-CUSTOM-action';

export interface AuthzOptions {
  /** The mesh trust domain followed by its aliases (MeshConfig trustDomainAliases). */
  trustDomains: readonly string[];
  /** MeshConfig extensionProviders, for CUSTOM. */
  extensionProviders: readonly ExtensionProvider[];
}

/** Something the builder skipped or replaced, for logs and `weft authz check`. */
export interface AuthzNote {
  policy: string;
  message: string;
}

type RbacAction = 'ALLOW' | 'DENY' | 'LOG';

interface Built {
  rules: Record<string, Json> | undefined;
  shadow: Record<string, Json> | undefined;
}

const isDryRun = (p: Resource): boolean => (p.metadata.annotations?.[DRY_RUN_ANNOTATION] ?? '').toLowerCase() === 'true';
const specOf = (p: Resource): AuthorizationPolicySpec => (p.spec ?? {}) as AuthorizationPolicySpec;

function policyName(p: Resource, i: number, provider?: string): string {
  const prefix = provider === undefined ? '' : `istio-ext-authz-${provider}-`;
  return `${prefix}ns[${p.metadata.namespace ?? 'default'}]-policy[${p.metadata.name}]-rule[${i}]`;
}

function buildPolicies(policies: readonly Resource[], action: RbacAction, forTcp: boolean, opts: AuthzOptions, provider?: string): Built {
  let rules: Record<string, Json> | undefined;
  let shadow: Record<string, Json> | undefined;
  for (const p of policies) {
    const target = isDryRun(p) ? (shadow ??= {}) : (rules ??= {});
    const spec = specOf(p);
    const ctx: RuleContext = { policyNamespace: p.metadata.namespace ?? 'default', trustDomains: opts.trustDomains, forTcp, action };
    const ruleList = spec.rules ?? [];
    ruleList.forEach((rule, i) => {
      if (rule === null || rule === undefined) return;
      const built = buildRulePolicy(rule, ctx);
      if (built) target[policyName(p, i, provider)] = built;
    });
    if (ruleList.length === 0) target[policyName(p, 0, provider)] = matchNeverPolicy;
  }
  return { rules, shadow };
}

/** Istio's shadow stat prefix quirk: keyed on the shadow rules' action, and ALLOW (the zero value) when there are none. */
function shadowPrefix(action: RbacAction, hasShadow: boolean): string | undefined {
  const a = hasShadow ? action : 'ALLOW';
  return a === 'ALLOW' ? 'istio_dry_run_allow_' : a === 'DENY' ? 'istio_dry_run_deny_' : undefined;
}

function rbac(action: RbacAction, policies: Record<string, Json>): Json {
  return action === 'ALLOW' ? { policies } : { action, policies };
}

function rbacFilter(built: Built, action: RbacAction, forTcp: boolean): Json {
  const cfg: Json = { '@type': forTcp ? RBAC_TCP_TYPE : RBAC_HTTP_TYPE };
  if (built.rules) cfg['rules'] = rbac(action, built.rules);
  if (built.shadow) cfg['shadow_rules'] = rbac(action, built.shadow);
  const prefix = shadowPrefix(action, built.shadow !== undefined);
  if (prefix) cfg['shadow_rules_stat_prefix'] = prefix;
  if (forTcp) cfg['stat_prefix'] = 'tcp.';
  return { name: forTcp ? 'envoy.filters.network.rbac' : 'envoy.filters.http.rbac', typed_config: cfg };
}

function badCustomFilter(rules: Record<string, Json>, forTcp: boolean): Json {
  const renamed: Record<string, Json> = {};
  for (const [k, v] of Object.entries(rules)) renamed[k + BAD_CUSTOM_SUFFIX] = v;
  const cfg: Json = { '@type': forTcp ? RBAC_TCP_TYPE : RBAC_HTTP_TYPE, rules: { action: 'DENY', policies: renamed } };
  if (forTcp) cfg['stat_prefix'] = 'tcp.';
  return { name: forTcp ? 'envoy.filters.network.rbac' : 'envoy.filters.http.rbac', typed_config: cfg };
}

/** CUSTOM policies: per provider, a shadow RBAC (which requests go to the authorizer) and the ext_authz filter. */
function customFilters(policies: readonly Resource[], forTcp: boolean, opts: AuthzOptions, notes: AuthzNote[]): Json[] {
  if (policies.length === 0) return [];
  const byProvider = new Map<string, Resource[]>();
  for (const p of policies) {
    const name = specOf(p).provider?.name ?? '';
    byProvider.set(name, [...(byProvider.get(name) ?? []), p]);
  }
  const providers = [...byProvider.keys()].sort();
  const out: Json[] = [];
  const built = new Map(providers.map((name) => [name, buildPolicies(byProvider.get(name)!, 'DENY', forTcp, opts, name)]));
  if (providers.length > 1) {
    notes.push({ policy: '*', message: `multiple CUSTOM providers on one workload are not supported (found ${providers.join(', ')}): their requests are denied` });
    for (const name of providers) out.push(badCustomFilter(built.get(name)!.rules ?? {}, forTcp));
    return out;
  }
  for (const name of providers) {
    const b = built.get(name)!;
    const provider = opts.extensionProviders.find((e) => e.name === name);
    const ext = provider === undefined ? `no extension provider named ${name} in MeshConfig` : forTcp ? extAuthzTcpFilter(provider) : extAuthzHttpFilter(provider);
    if (typeof ext === 'string') {
      notes.push({ policy: byProvider.get(name)!.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).join(','), message: `${ext}: matching requests are denied` });
      out.push(badCustomFilter(b.rules ?? {}, forTcp));
      continue;
    }
    if (ext === undefined) continue; // an HTTP provider cannot authorize TCP: Istio builds nothing for TCP
    const cfg: Json = { '@type': forTcp ? RBAC_TCP_TYPE : RBAC_HTTP_TYPE };
    if (b.shadow && Object.keys(b.shadow).length > 0) cfg['rules'] = rbac('DENY', b.shadow);
    cfg['shadow_rules'] = rbac('DENY', b.rules ?? {});
    cfg['shadow_rules_stat_prefix'] = 'istio_ext_authz_';
    if (forTcp) cfg['stat_prefix'] = 'tcp.';
    out.push({ name: forTcp ? 'envoy.filters.network.rbac' : 'envoy.filters.http.rbac', typed_config: cfg }, ext);
  }
  return out;
}

export interface AuthzFilters {
  /** HTTP filters to insert before the router (after jwt_authn), in order. */
  http: Json[];
  /** Network filters to insert before tcp_proxy on TCP chains, in order. */
  tcp: Json[];
  notes: AuthzNote[];
}

/** Build every authorization filter for the policies that apply to a workload (in config order). */
export function buildAuthzFilters(policies: readonly Resource[], opts: AuthzOptions): AuthzFilters {
  const notes: AuthzNote[] = [];
  const of = (a: string) => policies.filter((p) => (specOf(p).action ?? 'ALLOW') === a);
  const custom = of('CUSTOM');
  const groups: Array<[RbacAction, Resource[]]> = [['LOG', of('AUDIT')], ['DENY', of('DENY')], ['ALLOW', of('ALLOW')]];
  const build = (forTcp: boolean): Json[] => {
    const out = customFilters(custom, forTcp, opts, forTcp ? [] : notes);
    for (const [action, list] of groups) {
      if (list.length === 0) continue;
      out.push(rbacFilter(buildPolicies(list, action, forTcp, opts), action, forTcp));
    }
    return out;
  };
  return { http: build(false), tcp: build(true), notes };
}
