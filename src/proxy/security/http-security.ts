// The security part of an HTTP connection manager's filter chain, built once per listener config from its
// http_filters: jwt_authn → (CUSTOM shadow RBAC → ext_authz) → AUDIT/DENY/ALLOW RBAC, in config order. Per request it
// returns either "continue" (with the request headers to forward and the verified JWT) or the local reply to send:
// 401 from jwt_authn, 403 `RBAC: access denied` (response flag RBAC), or the authorizer's denial (flag UAEX). When the
// chain holds only RBAC filters the answer is computed synchronously (no promise on the hot path).
import { obj, str } from '../config/raw.ts';
import { parseExtAuthzConfig } from '../filters/ext-authz/config.ts';
import { createExtAuthzFilter, type ClusterResolver, type ExtAuthzDeps, type ExtAuthzFilter } from '../filters/ext-authz/ext-authz-filter.ts';
import { parseJwtAuthnConfig } from '../filters/jwt-authn/config.ts';
import type { JwksCache } from '../filters/jwt-authn/jwks.ts';
import { createJwtAuthnFilter, type JwtAuthnFilter } from '../filters/jwt-authn/jwt-filter.ts';
import { RBAC_DENIED_BODY, RBAC_DENIED_STATUS, createRbacFilter, parseRbacConfig, type RbacFilter } from '../filters/rbac/rbac-filter.ts';
import type { AuthzRequest, JwtInfo } from '../filters/rbac/request.ts';

export const FILTER_NAMES = {
  rbac: 'envoy.filters.http.rbac',
  jwt: 'envoy.filters.http.jwt_authn',
  extAuthz: 'envoy.filters.http.ext_authz',
} as const;

/** Counters in Envoy's names (per HCM stat prefix): rbac.allowed, rbac.denied, rbac.shadow_allowed … */
export interface SecurityStats {
  rbacAllowed: number;
  rbacDenied: number;
  rbacShadowAllowed: number;
  rbacShadowDenied: number;
  jwtAllowed: number;
  jwtDenied: number;
  extAuthzOk: number;
  extAuthzDenied: number;
  extAuthzError: number;
}

export const newSecurityStats = (): SecurityStats => ({ rbacAllowed: 0, rbacDenied: 0, rbacShadowAllowed: 0, rbacShadowDenied: 0, jwtAllowed: 0, jwtDenied: 0, extAuthzOk: 0, extAuthzDenied: 0, extAuthzError: 0 });

export type SecurityOutcome =
  | { kind: 'continue'; headers: readonly string[]; jwt?: JwtInfo; /** AUDIT policies that matched, for the access log. */ audited?: string }
  | { kind: 'respond'; status: number; body: string; headers: readonly string[]; details: string; flag?: 'RBAC' | 'UAEX' };

type Stage =
  | { kind: 'rbac'; run: RbacFilter; shadowPrefix: string }
  | { kind: 'jwt'; run: JwtAuthnFilter }
  | { kind: 'ext'; run: ExtAuthzFilter };

export interface HttpSecurityDeps extends ExtAuthzDeps {
  jwks?: JwksCache;
  now?: () => number;
}

export interface HttpSecurity {
  /** True when a stage may wait (JWKS fetch, external authorizer). */
  readonly async: boolean;
  readonly stats: SecurityStats;
  /**
   * Run the chain; synchronous (a plain value) when `async` is false. `resolve` maps the ext_authz cluster to a live
   * endpoint (the proxy passes its cluster manager's choice).
   */
  run(req: AuthzRequest & { method: string; path: string; host: string; headers: readonly string[] }, resolve?: ClusterResolver): SecurityOutcome | Promise<SecurityOutcome>;
}

/** Is this HTTP filter one of ours? (the HCM builder hands the rest to its own filters) */
export function isSecurityFilter(name: string, typeUrl: string): boolean {
  return name === FILTER_NAMES.rbac || name === FILTER_NAMES.jwt || name === FILTER_NAMES.extAuthz || /\.(rbac|jwt_authn|ext_authz)\.v3\./.test(typeUrl);
}

/**
 * Build the chain from an HCM's http_filters (decoded objects with name and typed_config). Filters that are not
 * security filters are ignored here. Throws WEFT_ERR_CONFIG_INVALID for configs this proxy cannot enforce.
 */
export function buildHttpSecurity(httpFilters: readonly unknown[], deps: HttpSecurityDeps = {}): HttpSecurity | undefined {
  const stages: Stage[] = [];
  httpFilters.forEach((raw, i) => {
    const f = obj(raw) ?? {};
    const name = str(f['name']) ?? '';
    const tc = obj(f['typed_config']) ?? {};
    const type = str(tc['@type']) ?? '';
    const path = `http_filters[${i}].typed_config`;
    if (name === FILTER_NAMES.rbac || type.endsWith('.http.rbac.v3.RBAC')) {
      const cfg = parseRbacConfig(tc, path);
      stages.push({ kind: 'rbac', run: createRbacFilter(cfg), shadowPrefix: cfg.shadowRulesStatPrefix });
    } else if (name === FILTER_NAMES.jwt || type.endsWith('.jwt_authn.v3.JwtAuthentication')) {
      stages.push({ kind: 'jwt', run: createJwtAuthnFilter(parseJwtAuthnConfig(tc, path), { ...(deps.jwks ? { jwks: deps.jwks } : {}), ...(deps.now ? { now: deps.now } : {}) }) });
    } else if (name === FILTER_NAMES.extAuthz || type.endsWith('.http.ext_authz.v3.ExtAuthz')) {
      stages.push({ kind: 'ext', run: createExtAuthzFilter(parseExtAuthzConfig(tc, path), deps) });
    }
  });
  if (stages.length === 0) return undefined;
  const stats = newSecurityStats();
  const async = stages.some((s) => s.kind !== 'rbac');
  type Req = Parameters<HttpSecurity['run']>[0];

  /** Per-request scratch state, allocated only when a stage needs it (shadow metadata, audited policies). */
  interface Scratch {
    metadata: Record<string, unknown> | undefined;
    audited: string[] | undefined;
  }

  /** Run RBAC stage `s`; returns a denial or records shadow metadata for a following ext_authz. */
  const rbacStage = (s: Extract<Stage, { kind: 'rbac' }>, req: Req, scratch: Scratch): SecurityOutcome | undefined => {
    const d = s.run(req);
    if (d.shadow) {
      if (d.shadow.allowed) stats.rbacShadowAllowed++;
      else stats.rbacShadowDenied++;
      if (d.shadow.policy !== undefined) {
        const metadata = (scratch.metadata ??= {});
        metadata[`${s.shadowPrefix}shadow_effective_policy_id`] = d.shadow.policy;
        metadata[`${s.shadowPrefix}shadow_engine_result`] = d.shadow.allowed ? 'allowed' : 'denied';
      }
    }
    if (d.action === undefined) return undefined;
    if (d.action === 'LOG' && d.policy !== undefined) (scratch.audited ??= []).push(d.policy);
    if (d.allowed) {
      stats.rbacAllowed++;
      return undefined;
    }
    stats.rbacDenied++;
    return { kind: 'respond', status: RBAC_DENIED_STATUS, body: RBAC_DENIED_BODY, headers: [], details: d.details ?? 'rbac_access_denied', flag: 'RBAC' };
  };

  const finish = (headers: readonly string[], jwt: JwtInfo | undefined, scratch: Scratch): SecurityOutcome => {
    if (jwt === undefined && scratch.audited === undefined) return { kind: 'continue', headers };
    return { kind: 'continue', headers, ...(jwt ? { jwt } : {}), ...(scratch.audited ? { audited: scratch.audited.join(',') } : {}) };
  };

  const rbacStages = stages as Array<Extract<Stage, { kind: 'rbac' }>>;
  const runSync = (req: Req): SecurityOutcome => {
    const scratch: Scratch = { metadata: undefined, audited: undefined };
    for (let i = 0; i < rbacStages.length; i++) {
      const out = rbacStage(rbacStages[i]!, req, scratch);
      if (out) return out;
    }
    return finish(req.headers, req.jwt, scratch);
  };

  const runAsync = async (req0: Req, resolve?: ClusterResolver): Promise<SecurityOutcome> => {
    let req = req0;
    const scratch: Scratch = { metadata: undefined, audited: undefined };
    for (const s of stages) {
      if (s.kind === 'rbac') {
        const out = rbacStage(s, req, scratch);
        if (out) return out;
      } else if (s.kind === 'jwt') {
        const r = await s.run(req);
        if (!r.ok) {
          stats.jwtDenied++;
          return { kind: 'respond', status: r.status, body: r.body, headers: r.status === 401 ? ['www-authenticate', 'Bearer realm="http://' + req.host + req.path.split('?')[0] + '"'] : [], details: r.details };
        }
        stats.jwtAllowed++;
        req = { ...req, headers: r.headers, ...(r.jwt ? { jwt: r.jwt } : {}) };
      } else {
        const r = await s.run({ ...req, metadata: { ...(req.metadata ?? {}), [FILTER_NAMES.rbac]: scratch.metadata ?? {} } }, resolve);
        if (!r.allowed) {
          if (r.details.startsWith('ext_authz_error')) stats.extAuthzError++;
          else stats.extAuthzDenied++;
          return { kind: 'respond', status: r.status, body: r.body, headers: r.headers, details: r.details, flag: 'UAEX' };
        }
        if (!r.skipped) stats.extAuthzOk++;
        req = { ...req, headers: r.headers };
      }
    }
    return finish(req.headers, req.jwt, scratch);
  };

  return { async, stats, run: async ? runAsync : runSync };
}

/** A compiled envoy.filters.network.rbac: `run` decides once per connection. */
export type NetworkRbac = { run: RbacFilter; stats: SecurityStats };

/** The RBAC network filter of a TCP chain (envoy.filters.network.rbac): decide once per connection. */
export function buildNetworkRbac(typedConfig: unknown): NetworkRbac {
  const run = createRbacFilter(parseRbacConfig(typedConfig));
  const stats = newSecurityStats();
  return {
    stats,
    run: (req) => {
      const d = run(req);
      if (d.allowed) stats.rbacAllowed++;
      else stats.rbacDenied++;
      return d;
    },
  };
}

/**
 * The original client address for RBAC's `remote_ip` (Istio `remoteIpBlocks`, `remote.ip`): with
 * `xff_num_trusted_hops` N > 0, the Nth address from the right of x-forwarded-for (the hops a gateway's operator
 * trusts), else undefined (the connection's peer then counts, as in Envoy).
 */
export function originalClientIp(headers: readonly string[], trustedHops: number): string | undefined {
  if (trustedHops <= 0) return undefined;
  let xff: string | undefined;
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'x-forwarded-for') xff = xff === undefined ? headers[i + 1] : `${xff},${headers[i + 1]!}`;
  if (xff === undefined) return undefined;
  const list = xff.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return list.length >= trustedHops ? list[list.length - trustedHops] : undefined;
}
