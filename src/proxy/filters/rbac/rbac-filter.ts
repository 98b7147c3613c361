// The RBAC filter (envoy.filters.http.rbac and envoy.filters.network.rbac): built once per listener config from the
// typed_config, then called per request (or per TCP connection) to decide. The caller turns a denial into Envoy's
// response — 403 `RBAC: access denied` with response flag/details `rbac_access_denied_matched_policy[NAME]` — counts
// it and logs it. Shadow rules never change the decision; their result is reported (and enables ext_authz for CUSTOM).
import { WeftError } from '../../../core/errors.ts';
import { Errors, obj, str } from '../../config/raw.ts';
import { type CompiledRbac, compileRbac, firstMatch, type RbacAction } from './compile.ts';
import type { AuthzRequest } from './request.ts';

export type { AuthzRequest, JwtInfo } from './request.ts';

/** The body and status Envoy answers a denied HTTP request with. */
export const RBAC_DENIED_STATUS = 403;
export const RBAC_DENIED_BODY = 'RBAC: access denied';

export interface RbacDecision {
  allowed: boolean;
  /** The enforced action (undefined when the filter has only shadow rules). */
  action?: RbacAction;
  /** The enforced policy that matched (`ns[foo]-policy[x]-rule[0]`), if any. */
  policy?: string;
  /** Shadow (dry-run / CUSTOM) result: the matched shadow policy and what it would have decided. */
  shadow?: { policy?: string; allowed: boolean };
  /** Envoy's response code details for the access log. */
  details?: string;
}

export type RbacFilter = (req: AuthzRequest) => RbacDecision;

export interface RbacFilterConfig {
  rules?: CompiledRbac;
  shadowRules?: CompiledRbac;
  /** `istio_dry_run_allow_`, `istio_ext_authz_` …: the prefix of shadow metrics and metadata keys. */
  shadowRulesStatPrefix: string;
  /** `tcp.` on network filters. */
  statPrefix: string;
}

/** Parse and compile the typed_config of an RBAC filter (HTTP or network); throws WEFT_ERR_CONFIG_INVALID on errors. */
export function parseRbacConfig(typedConfig: unknown, path = 'typed_config'): RbacFilterConfig {
  const tc = obj(typedConfig) ?? {};
  const errors = new Errors();
  const rules = tc['rules'] === undefined ? undefined : compileRbac(tc['rules'], `${path}.rules`, errors);
  const shadowRules = tc['shadow_rules'] === undefined ? undefined : compileRbac(tc['shadow_rules'], `${path}.shadow_rules`, errors);
  if (errors.any) {
    const first = errors.list.slice(0, 3).map((e) => `${e.path}: ${e.message}`).join('; ');
    throw new WeftError('WEFT_ERR_CONFIG_INVALID', `RBAC filter rejected: ${first}`);
  }
  return {
    ...(rules ? { rules } : {}),
    ...(shadowRules ? { shadowRules } : {}),
    shadowRulesStatPrefix: str(tc['shadow_rules_stat_prefix']) ?? '',
    statPrefix: str(tc['stat_prefix']) ?? '',
  };
}

function decide(rbac: CompiledRbac, req: AuthzRequest): { allowed: boolean; policy?: string } {
  const policy = firstMatch(rbac, req);
  switch (rbac.action) {
    case 'ALLOW':
      return policy === undefined ? { allowed: false } : { allowed: true, policy };
    case 'DENY':
      return policy === undefined ? { allowed: true } : { allowed: false, policy };
    case 'LOG':
      return policy === undefined ? { allowed: true } : { allowed: true, policy };
  }
}

/** The enforced decision for (rules, matched policy): immutable, so built once per policy instead of per request. */
function decisionTable(rules: CompiledRbac): (policy: string | undefined) => RbacDecision {
  const make = (policy: string | undefined): RbacDecision => {
    const allowed = rules.action === 'ALLOW' ? policy !== undefined : rules.action === 'DENY' ? policy === undefined : true;
    const d: RbacDecision = { allowed, action: rules.action };
    if (policy !== undefined) d.policy = policy;
    if (!allowed) d.details = `rbac_access_denied_matched_policy[${policy ?? 'none'}]`;
    return Object.freeze(d);
  };
  const none = make(undefined);
  const byPolicy = new Map(rules.policies.map((p) => [p.name, make(p.name)]));
  return (policy) => (policy === undefined ? none : (byPolicy.get(policy) ?? make(policy)));
}

/** Build the per-request decision function for one RBAC filter. */
export function createRbacFilter(config: RbacFilterConfig): RbacFilter {
  const { rules, shadowRules } = config;
  const table = rules ? decisionTable(rules) : undefined;
  const allowAll: RbacDecision = Object.freeze({ allowed: true });
  return (req) => {
    // Common case, no allocation: enforced rules only.
    const enforced = rules && table ? table(firstMatch(rules, req)) : allowAll;
    if (!shadowRules) return enforced;
    const s = decide(shadowRules, req);
    return { ...enforced, shadow: s.policy === undefined ? { allowed: s.allowed } : { policy: s.policy, allowed: s.allowed } };
  };
}

/** Convenience: parse + compile + build from an xDS typed_config. */
export function rbacFilterFromTypedConfig(typedConfig: unknown): RbacFilter {
  return createRbacFilter(parseRbacConfig(typedConfig));
}
