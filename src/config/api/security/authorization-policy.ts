// AuthorizationPolicy (security.istio.io/v1, v1beta1): allow, deny, audit or delegate (CUSTOM) requests by source,
// operation and conditions. Types mirror istio.security.v1beta1.AuthorizationPolicy; the validator implements
// Istio's webhook rules (action/provider pairing, non-empty sources and operations, IPs, ports, path templates,
// condition keys). Condition keys and path templates live in conditions.ts.
import type { Resource } from '../resource.ts';
import { checkSelectorOrTargetRefs, type PolicyTargetReference, type WorkloadSelector } from '../validation/common/labels.ts';
import { validateIpOrCidr } from '../validation/common/net.ts';
import { Reporter, type SemanticValidator, type Validation } from '../validation/report.ts';
import { checkCondition, pathTemplateProblem, portProblem, serviceAccountProblem, trustDomainProblem } from './conditions.ts';

export type AuthorizationAction =
  /** Allow a request that matches a rule (default). With ALLOW policies present, unmatched requests are denied. */
  | 'ALLOW'
  /** Deny a request that matches a rule; evaluated before ALLOW. */
  | 'DENY'
  /** Log matching requests; does not change the decision. */
  | 'AUDIT'
  /** Delegate matching requests to the external authorizer named by `provider`. */
  | 'CUSTOM';

/** Where a request comes from. Each list matches if any entry matches; `not*` lists exclude. */
export interface Source {
  /** Peer identities (`cluster.local/ns/default/sa/productpage`, `*` suffix/prefix allowed); needs mTLS. */
  principals?: string[];
  /** Excluded peer identities. */
  notPrincipals?: string[];
  /** Request identities from a JWT, as `iss/sub`. */
  requestPrincipals?: string[];
  /** Excluded request identities. */
  notRequestPrincipals?: string[];
  /** Namespaces of the peer; needs mTLS. */
  namespaces?: string[];
  /** Excluded peer namespaces. */
  notNamespaces?: string[];
  /** Peer service accounts as `name` or `namespace/name`; exclusive with principals and namespaces. */
  serviceAccounts?: string[];
  /** Excluded service accounts. */
  notServiceAccounts?: string[];
  /** Trust domains of the peer identity. */
  trustDomains?: string[];
  /** Excluded trust domains. */
  notTrustDomains?: string[];
  /** Source IPs or CIDR blocks of the connection's peer. */
  ipBlocks?: string[];
  /** Excluded source IPs or CIDR blocks. */
  notIpBlocks?: string[];
  /** Original client IPs or CIDR blocks (from X-Forwarded-For or PROXY protocol). */
  remoteIpBlocks?: string[];
  /** Excluded original client IPs or CIDR blocks. */
  notRemoteIpBlocks?: string[];
}

/** What a request does. HTTP-only fields (hosts, methods, paths) never match plain TCP traffic. */
export interface Operation {
  /** Host/authority values (exact, `*` prefix or suffix). */
  hosts?: string[];
  /** Excluded hosts. */
  notHosts?: string[];
  /** Destination ports, as strings of numbers. */
  ports?: string[];
  /** Excluded ports. */
  notPorts?: string[];
  /** HTTP methods (or gRPC: always POST). */
  methods?: string[];
  /** Excluded methods. */
  notMethods?: string[];
  /** Paths (exact, `*` prefix or suffix, or `{*}`/`{**}` templates). */
  paths?: string[];
  /** Excluded paths. */
  notPaths?: string[];
}

/** An extra condition on a request attribute, e.g. `request.headers[x-token]`. */
export interface Condition {
  /** The attribute; one of Istio's supported keys. */
  key: string;
  /** Accepted values; at least one of values or notValues is required. */
  values?: string[];
  /** Rejected values. */
  notValues?: string[];
}

export interface Rule {
  /** Sources; a request matches if any entry matches. Absent = any source. */
  from?: Array<{ source?: Source }>;
  /** Operations; a request matches if any entry matches. Absent = any operation. */
  to?: Array<{ operation?: Operation }>;
  /** Conditions; all must hold. */
  when?: Condition[];
}

export interface AuthorizationPolicySpec {
  /** Workloads the policy applies to; absent = the namespace (or mesh, in the root namespace). */
  selector?: WorkloadSelector;
  /** Single attachment target; exclusive with selector and targetRefs. */
  targetRef?: PolicyTargetReference;
  /** Attachment targets; exclusive with selector and targetRef. */
  targetRefs?: PolicyTargetReference[];
  /** Rules; absent with ALLOW = allow nothing (deny all); `[{}]` matches everything. */
  rules?: Rule[];
  /** Default ALLOW. */
  action?: AuthorizationAction;
  /** The external authorizer (a MeshConfig extension provider) for CUSTOM; only with CUSTOM. */
  provider?: { name?: string };
}

const SOURCE_FIELDS: ReadonlyArray<keyof Source> = [
  'principals', 'requestPrincipals', 'namespaces', 'serviceAccounts', 'trustDomains', 'ipBlocks', 'remoteIpBlocks',
  'notPrincipals', 'notRequestPrincipals', 'notNamespaces', 'notServiceAccounts', 'notTrustDomains', 'notIpBlocks', 'notRemoteIpBlocks',
];
const OPERATION_FIELDS: ReadonlyArray<keyof Operation> = ['hosts', 'ports', 'methods', 'paths', 'notHosts', 'notPorts', 'notMethods', 'notPaths'];
/** Source fields that need the peer's mTLS identity or IP, and so also match TCP traffic. */
const TCP_SOURCE_FIELDS: ReadonlyArray<keyof Source> = [
  'principals', 'notPrincipals', 'namespaces', 'notNamespaces', 'serviceAccounts', 'notServiceAccounts',
  'ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks',
];
/** Fields CUSTOM cannot use: the external authorizer is called before identities are known to the filter. */
const CUSTOM_UNSUPPORTED_SOURCE: ReadonlyArray<keyof Source> = [
  'namespaces', 'notNamespaces', 'serviceAccounts', 'notServiceAccounts', 'trustDomains', 'notTrustDomains',
  'principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals',
];

const count = (v: unknown): number => (Array.isArray(v) ? v.length : 0);

export const validateAuthorizationPolicy: SemanticValidator = (res: Resource): Validation => {
  const r = new Reporter('spec');
  const spec = (res.spec ?? {}) as AuthorizationPolicySpec & Record<string, unknown>;
  const action = spec.action ?? 'ALLOW';
  checkSelectorOrTargetRefs(r, spec, 'selector');
  const rulesAbsent = spec.rules === undefined || spec.rules === null;
  if (action === 'CUSTOM') {
    if (rulesAbsent) {
      r.at('rules').error('CUSTOM action without rules never triggers: add an empty rule `rules: [{}]` to send every request to the provider');
    } else if (!spec.provider?.name) {
      r.at('provider').at('name').error('required with action CUSTOM: name the extension provider (from MeshConfig extensionProviders) that authorizes the requests');
    }
  } else if (spec.provider !== undefined && spec.provider !== null) {
    r.at('provider').error(`provider may only be set with action CUSTOM, found action ${action}: remove provider or set action: CUSTOM`);
  }
  if (action === 'DENY' && rulesAbsent) {
    r.at('rules').error('DENY action without rules never triggers: add an empty rule `rules: [{}]` to deny every request');
  }
  (spec.rules ?? []).forEach((rule, i) => checkRule(r.at('rules').at(i), rule, action));
  return r.out;
};

function checkRule(r: Reporter, rule: Rule | null, action: AuthorizationAction): void {
  if (rule === null || rule === undefined) {
    r.error('rule must not be null: use {} to match every request');
    return;
  }
  let fromExists = false;
  let toExists = false;
  let tcpInFrom = false;
  let tcpInTo = false;
  if (Array.isArray(rule.from) && rule.from.length === 0) r.at('from').error('from must not be empty: remove it to match any source, or add a source');
  (rule.from ?? []).forEach((from, j) => {
    const fr = r.at('from').at(j);
    if (from === null || from === undefined) {
      fr.error('from entry must not be null: set source');
      return;
    }
    if (from.source === undefined || from.source === null) {
      fr.at('source').error('required: set source with at least one field (principals, namespaces, ipBlocks …)');
      return;
    }
    fromExists = true;
    const src = from.source;
    checkSource(fr.at('source'), src, action);
    if (TCP_SOURCE_FIELDS.some((f) => src[f] !== undefined && src[f] !== null)) tcpInFrom = true;
  });
  if (Array.isArray(rule.to) && rule.to.length === 0) r.at('to').error('to must not be empty: remove it to match any operation, or add an operation');
  (rule.to ?? []).forEach((to, j) => {
    const tr = r.at('to').at(j);
    if (to === null || to === undefined) {
      tr.error('to entry must not be null: set operation');
      return;
    }
    if (to.operation === undefined || to.operation === null) {
      tr.at('operation').error('required: set operation with at least one field (paths, methods, ports, hosts …)');
      return;
    }
    toExists = true;
    const op = to.operation;
    checkOperation(tr.at('operation'), op);
    if ((op.ports !== undefined && op.ports !== null) || (op.notPorts !== undefined && op.notPorts !== null)) tcpInTo = true;
  });
  (rule.when ?? []).forEach((c, j) => {
    const wr = r.at('when').at(j);
    if (c === null || c === undefined) {
      wr.error('condition must not be null: set key and values');
      return;
    }
    checkCondition(wr, c);
    if (action === 'CUSTOM' && unsupportedWithCustom(c.key)) {
      wr.at('key').error(`${c.key} is not supported with action CUSTOM: the external authorizer runs before it is known; use it in an ALLOW or DENY policy`);
    }
  });
  if (action === 'DENY' && ((fromExists && !toExists && !tcpInFrom) || (toExists && !tcpInTo))) {
    r.warn('this DENY rule uses only HTTP attributes, so it denies all traffic to TCP ports in its scope: specify ports in to.operation to limit it');
  }
}

function unsupportedWithCustom(key: string): boolean {
  return ['source.namespace', 'source.serviceAccount', 'source.trustDomain', 'source.principal'].includes(key) || key.startsWith('request.auth.');
}

function checkSource(r: Reporter, src: Source, action: AuthorizationAction): void {
  if (SOURCE_FIELDS.every((f) => count(src[f]) === 0)) {
    r.error('source must not be empty: set at least one of principals, requestPrincipals, namespaces, serviceAccounts, trustDomains, ipBlocks, remoteIpBlocks (or their not* forms)');
  }
  if (count(src.principals) + count(src.notPrincipals) + count(src.namespaces) + count(src.notNamespaces) > 0 && count(src.serviceAccounts) + count(src.notServiceAccounts) > 0) {
    r.error('serviceAccounts cannot be combined with principals or namespaces: use one way of naming the source');
  }
  for (const f of SOURCE_FIELDS) {
    const values = src[f];
    if (!Array.isArray(values)) continue;
    values.forEach((v, i) => {
      const at = r.at(f).at(i);
      if (v === '') {
        at.error(`empty value not allowed in ${f}`);
        return;
      }
      let why: string | undefined;
      if (f === 'ipBlocks' || f === 'notIpBlocks' || f === 'remoteIpBlocks' || f === 'notRemoteIpBlocks') why = validateIpOrCidr(v);
      else if (f === 'serviceAccounts' || f === 'notServiceAccounts') why = serviceAccountProblem(v);
      else if (f === 'trustDomains' || f === 'notTrustDomains') why = trustDomainProblem(v);
      if (why) at.error(why);
    });
    if ((f === 'serviceAccounts' || f === 'notServiceAccounts') && values.length > 16) r.at(f).error(`at most 16 service accounts may be listed, found ${values.length}: split the rule`);
    if (action === 'CUSTOM' && CUSTOM_UNSUPPORTED_SOURCE.includes(f) && values.length > 0) {
      r.at(f).error(`${f} is not supported with action CUSTOM: the external authorizer runs before identities are checked; use it in an ALLOW or DENY policy`);
    }
  }
}

function checkOperation(r: Reporter, op: Operation): void {
  if (OPERATION_FIELDS.every((f) => count(op[f]) === 0)) {
    r.error('operation must not be empty: set at least one of hosts, ports, methods, paths (or their not* forms)');
  }
  for (const f of OPERATION_FIELDS) {
    const values = op[f];
    if (!Array.isArray(values)) continue;
    values.forEach((v, i) => {
      const at = r.at(f).at(i);
      if (v === '') {
        at.error(`empty value not allowed in ${f}`);
        return;
      }
      let why: string | undefined;
      if (f === 'ports' || f === 'notPorts') why = portProblem(v);
      else if (f === 'paths' || f === 'notPaths') why = pathTemplateProblem(v);
      if (why) at.error(why);
    });
  }
}
