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
import { joinStat, StatStore, type Counter } from '../stats/stat-store.ts';

export const FILTER_NAMES = {
  rbac: 'envoy.filters.http.rbac',
  jwt: 'envoy.filters.http.jwt_authn',
  extAuthz: 'envoy.filters.http.ext_authz',
} as const;

/** Where a filter chain's counters live: the proxy's stat store and the owning HCM's `stat_prefix`. */
export interface SecurityStatScope {
  store: StatStore;
  statPrefix: string;
}

/** One RBAC filter's counters, named as Envoy names them (see rbacCounters). */
export interface RbacCounters {
  allowed: Counter;
  denied: Counter;
  shadowAllowed: Counter;
  shadowDenied: Counter;
}

/**
 * Envoy's RBAC stat names under `base` (`http.<hcm stat_prefix>.` or the network filter's `stat_prefix`):
 * `<base>rbac.[<rules_stat_prefix>.]allowed|denied` and `<base>rbac.[<shadow_rules_stat_prefix>.]shadow_allowed|…`,
 * e.g. `http.inbound_0.0.0.0_8080.rbac.istio_dry_run_allow_.shadow_denied`, `tcp.rbac.allowed`.
 */
export function rbacCounters(store: StatStore, base: string, rulesPrefix: string, shadowPrefix: string): RbacCounters {
  const rbac = joinStat(base, 'rbac.');
  return {
    allowed: store.counter(joinStat(rbac + rulesPrefix, 'allowed')),
    denied: store.counter(joinStat(rbac + rulesPrefix, 'denied')),
    shadowAllowed: store.counter(joinStat(rbac + shadowPrefix, 'shadow_allowed')),
    shadowDenied: store.counter(joinStat(rbac + shadowPrefix, 'shadow_denied')),
  };
}

export type SecurityOutcome =
  | { kind: 'continue'; headers: readonly string[]; jwt?: JwtInfo; /** AUDIT policies that matched, for the access log. */ audited?: string }
  | { kind: 'respond'; status: number; body: string; headers: readonly string[]; details: string; flag?: 'RBAC' | 'UAEX' };

type Stage =
  | { kind: 'rbac'; run: RbacFilter; shadowPrefix: string; counters: RbacCounters }
  | { kind: 'jwt'; run: JwtAuthnFilter; allowed: Counter; denied: Counter }
  | { kind: 'ext'; run: ExtAuthzFilter; ok: Counter; denied: Counter; error: Counter; failureModeAllowed: Counter };

export interface HttpSecurityDeps extends ExtAuthzDeps {
  jwks?: JwksCache;
  now?: () => number;
}

export interface HttpSecurity {
  /** True when a stage may wait (JWKS fetch, external authorizer). */
  readonly async: boolean;
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
 * security filters are ignored here. Throws WEFT_ERR_CONFIG_INVALID for configs this proxy cannot enforce. Counters
 * go to `scope` under Envoy's names (`http.<stat_prefix>.rbac.allowed`, `….jwt_authn.denied`, `….ext_authz.ok` …).
 */
export function buildHttpSecurity(httpFilters: readonly unknown[], deps: HttpSecurityDeps = {}, scope: SecurityStatScope = { store: new StatStore(), statPrefix: '' }): HttpSecurity | undefined {
  const stages: Stage[] = [];
  const base = `http.${scope.statPrefix}.`;
  const counter = (name: string): Counter => scope.store.counter(base + name);
  httpFilters.forEach((raw, i) => {
    const f = obj(raw) ?? {};
    const name = str(f['name']) ?? '';
    const tc = obj(f['typed_config']) ?? {};
    const type = str(tc['@type']) ?? '';
    const path = `http_filters[${i}].typed_config`;
    if (name === FILTER_NAMES.rbac || type.endsWith('.http.rbac.v3.RBAC')) {
      const cfg = parseRbacConfig(tc, path);
      const counters = rbacCounters(scope.store, base, str(tc['rules_stat_prefix']) ?? '', cfg.shadowRulesStatPrefix);
      stages.push({ kind: 'rbac', run: createRbacFilter(cfg), shadowPrefix: cfg.shadowRulesStatPrefix, counters });
    } else if (name === FILTER_NAMES.jwt || type.endsWith('.jwt_authn.v3.JwtAuthentication')) {
      const run = createJwtAuthnFilter(parseJwtAuthnConfig(tc, path), { ...(deps.jwks ? { jwks: deps.jwks } : {}), ...(deps.now ? { now: deps.now } : {}) });
      stages.push({ kind: 'jwt', run, allowed: counter('jwt_authn.allowed'), denied: counter('jwt_authn.denied') });
    } else if (name === FILTER_NAMES.extAuthz || type.endsWith('.http.ext_authz.v3.ExtAuthz')) {
      stages.push({
        kind: 'ext',
        run: createExtAuthzFilter(parseExtAuthzConfig(tc, path), deps),
        ok: counter('ext_authz.ok'),
        denied: counter('ext_authz.denied'),
        error: counter('ext_authz.error'),
        failureModeAllowed: counter('ext_authz.failure_mode_allowed'),
      });
    }
  });
  if (stages.length === 0) return undefined;
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
      if (d.shadow.allowed) s.counters.shadowAllowed.value++;
      else s.counters.shadowDenied.value++;
      if (d.shadow.policy !== undefined) {
        const metadata = (scratch.metadata ??= {});
        metadata[`${s.shadowPrefix}shadow_effective_policy_id`] = d.shadow.policy;
        metadata[`${s.shadowPrefix}shadow_engine_result`] = d.shadow.allowed ? 'allowed' : 'denied';
      }
    }
    if (d.action === undefined) return undefined;
    if (d.action === 'LOG' && d.policy !== undefined) (scratch.audited ??= []).push(d.policy);
    if (d.allowed) {
      s.counters.allowed.value++;
      return undefined;
    }
    s.counters.denied.value++;
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
          s.denied.value++;
          return { kind: 'respond', status: r.status, body: r.body, headers: r.status === 401 ? ['www-authenticate', 'Bearer realm="http://' + req.host + req.path.split('?')[0] + '"'] : [], details: r.details };
        }
        s.allowed.value++;
        req = { ...req, headers: r.headers, ...(r.jwt ? { jwt: r.jwt } : {}) };
      } else {
        const r = await s.run({ ...req, metadata: { ...(req.metadata ?? {}), [FILTER_NAMES.rbac]: scratch.metadata ?? {} } }, resolve);
        if (!r.allowed) {
          if (r.details.startsWith('ext_authz_error')) s.error.value++;
          else s.denied.value++;
          return { kind: 'respond', status: r.status, body: r.body, headers: r.headers, details: r.details, flag: 'UAEX' };
        }
        // As Envoy: an authorizer error let through by failure_mode_allow counts as error and failure_mode_allowed, not ok.
        if (r.failedOpen) {
          s.error.value++;
          s.failureModeAllowed.value++;
        } else if (!r.skipped) s.ok.value++;
        req = { ...req, headers: r.headers };
      }
    }
    return finish(req.headers, req.jwt, scratch);
  };

  return { async, run: async ? runAsync : runSync };
}

/** A compiled envoy.filters.network.rbac: `run` decides once per connection. */
export type NetworkRbac = { run: RbacFilter; counters: RbacCounters };

/**
 * The RBAC network filter of a TCP chain (envoy.filters.network.rbac): decide once per connection. Counters are
 * named under the filter's own `stat_prefix` (Istio sets `tcp.`: `tcp.rbac.allowed`).
 */
export function buildNetworkRbac(typedConfig: unknown, store: StatStore = new StatStore()): NetworkRbac {
  const cfg = parseRbacConfig(typedConfig);
  const run = createRbacFilter(cfg);
  const counters = rbacCounters(store, cfg.statPrefix, '', cfg.shadowRulesStatPrefix);
  return {
    counters,
    run: (req) => {
      const d = run(req);
      if (d.shadow) {
        if (d.shadow.allowed) counters.shadowAllowed.value++;
        else counters.shadowDenied.value++;
      }
      if (d.action !== undefined) {
        if (d.allowed) counters.allowed.value++;
        else counters.denied.value++;
      }
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
