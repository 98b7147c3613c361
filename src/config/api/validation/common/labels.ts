// Kubernetes labels and Istio's ways of selecting workloads: `workloadSelector.matchLabels`, `selector.matchLabels`
// and `targetRef`/`targetRefs` (policy attachment), with the rules Kubernetes and Istio's webhook apply.
import type { Reporter } from '../report.ts';
import { isDns1123Subdomain } from './host.ts';

const QUALIFIED_NAME = /^(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(?:(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const q = (s: string): string => JSON.stringify(s);

/** A Kubernetes label key: optional DNS-subdomain prefix (≤ 253) and `/`, then a name of ≤ 63 characters. */
export function validateLabelKey(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && !isDns1123Subdomain(prefix)) {
    return `label key ${q(key)} is not valid: the prefix ${q(prefix)} must be a lower-case DNS subdomain of at most 253 characters`;
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME.test(name)) {
    return `label key ${q(key)} is not valid: the name must be 1-63 characters of letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  }
  return undefined;
}

/** A Kubernetes label value: empty, or ≤ 63 characters of letters, digits, `-`, `_`, `.`, alphanumeric at both ends. */
export function validateLabelValue(value: string): string | undefined {
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    return `label value ${q(value)} is not valid: use at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`;
  }
  return undefined;
}

/** Report every invalid key and value of a label map (as subset labels and WorkloadEntry labels are checked). */
export function checkLabels(r: Reporter, labels: unknown): void {
  if (labels === undefined || labels === null) return;
  if (typeof labels !== 'object' || Array.isArray(labels)) {
    r.error('labels must be a map of string keys to string values');
    return;
  }
  for (const [k, v] of Object.entries(labels)) {
    const kr = r.at(k);
    const km = validateLabelKey(k);
    if (km !== undefined) kr.error(km);
    if (typeof v !== 'string') kr.error(`label value must be a string, not ${typeof v}`);
    else {
      const vm = validateLabelValue(v);
      if (vm !== undefined) kr.error(vm);
    }
  }
}

/** Istio's `WorkloadSelector` / `selector` body. */
export interface WorkloadSelector {
  /** Labels a workload must carry (all of them) to be selected. An empty map selects nothing useful and warns. */
  matchLabels?: Record<string, string>;
}

/**
 * Istio's workloadSelector rules: no empty keys, no `*` in keys or values; a selector without labels is accepted
 * with a warning. `r` is the reporter of the selector itself (`spec.workloadSelector`). Security and telemetry kinds
 * name the map `matchLabels`; networking kinds (Sidecar, DestinationRule) name it `labels`.
 */
export function checkWorkloadSelector(r: Reporter, selector: unknown, labelsField: 'matchLabels' | 'labels' = 'matchLabels'): void {
  if (selector === undefined || selector === null) return;
  if (typeof selector !== 'object' || Array.isArray(selector)) {
    r.error('selector must be an object with matchLabels');
    return;
  }
  const labels = (selector as Record<string, unknown>)[labelsField];
  const entries = labels !== undefined && labels !== null && typeof labels === 'object' ? Object.entries(labels) : [];
  const lr = r.at(labelsField);
  for (const [k, v] of entries) {
    if (k === '') lr.error(`empty label key is not supported in a selector (entry "=${String(v)}")`);
    if (k.includes('*') || (typeof v === 'string' && v.includes('*'))) {
      lr.at(k).error(`wildcard is not supported in selector ${q(`${k}=${String(v)}`)}: list the exact label values to select`);
    }
  }
  if (entries.length === 0) r.warn('workload selector has no labels: it selects every workload in the namespace; add matchLabels, or remove the selector');
}

/** A reference to the object a policy attaches to (Gateway API policy attachment). */
export interface PolicyTargetReference {
  /** API group of the target; empty means the core group (e.g. `Service`). */
  group?: string;
  /** Kind of the target: `Service`, `ServiceEntry`, `Gateway` (gateway.networking.k8s.io) or `GatewayClass`. */
  kind: string;
  /** Name of the target object, in the policy's namespace. */
  name: string;
  /** Must be unset: cross-namespace references are not supported. */
  namespace?: string;
}

/** The group/kind pairs a policy may target, as Istio allows them. */
export const ALLOWED_TARGET_KINDS: readonly { group: string; kind: string }[] = [
  { group: '', kind: 'Service' },
  { group: 'networking.istio.io', kind: 'ServiceEntry' },
  { group: 'gateway.networking.k8s.io', kind: 'Gateway' },
  { group: 'gateway.networking.k8s.io', kind: 'GatewayClass' },
];

/** Check one targetRef: name set, no namespace, and an allowed group/kind. */
export function checkTargetRef(r: Reporter, ref: unknown): void {
  if (ref === undefined || ref === null) return;
  if (typeof ref !== 'object' || Array.isArray(ref)) {
    r.error('targetRef must be an object with group, kind and name');
    return;
  }
  const t = ref as Partial<PolicyTargetReference>;
  if (typeof t.name !== 'string' || t.name === '') r.at('name').error('targetRef name must be set to the name of the target object');
  if (typeof t.namespace === 'string' && t.namespace !== '') {
    r.at('namespace').error('targetRef namespace must not be set: cross-namespace references are not supported; create the policy in the target\'s namespace');
  }
  const group = t.group === 'core' ? '' : (t.group ?? '');
  if (!ALLOWED_TARGET_KINDS.some((a) => a.group === group && a.kind === t.kind)) {
    const allowed = ALLOWED_TARGET_KINDS.map((a) => `${a.group === '' ? 'core' : a.group}/${a.kind}`).join(', ');
    r.error(`targetRef must refer to one of ${allowed}, not ${group === '' ? 'core' : group}/${String(t.kind)}`);
  }
}

/**
 * The mutual exclusion of `selector`/`workloadSelector`, `targetRef` and `targetRefs`, then each part's own rules.
 * `r` is the spec reporter; `selectorField` is the field name the kind uses (`selector` or `workloadSelector`).
 */
export function checkSelectorOrTargetRefs(
  r: Reporter,
  spec: { targetRef?: unknown; targetRefs?: unknown } & Record<string, unknown>,
  selectorField: 'selector' | 'workloadSelector',
): void {
  const selector = spec[selectorField];
  const refs = Array.isArray(spec.targetRefs) ? spec.targetRefs : [];
  const set = [selector !== undefined && selector !== null, spec.targetRef !== undefined && spec.targetRef !== null, refs.length > 0].filter(Boolean).length;
  if (set > 1) r.error(`only one of targetRef, targetRefs or ${selectorField} can be set: choose the attachment you mean and remove the others`);
  checkWorkloadSelector(r.at(selectorField), selector);
  checkTargetRef(r.at('targetRef'), spec.targetRef);
  refs.forEach((ref, i) => checkTargetRef(r.at('targetRefs').at(i), ref));
}

/** A Kubernetes metav1.LabelSelector (used by Kubernetes objects and Gateway API resources). */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

/**
 * Kubernetes' LabelSelector validation: valid keys and values in matchLabels; each expression has a valid key, a known
 * operator, non-empty values for In/NotIn and no values for Exists/DoesNotExist.
 */
export function checkLabelSelector(r: Reporter, selector: unknown): void {
  if (selector === undefined || selector === null) return;
  if (typeof selector !== 'object' || Array.isArray(selector)) {
    r.error('selector must be an object with matchLabels and/or matchExpressions');
    return;
  }
  const s = selector as Record<string, unknown>;
  checkLabels(r.at('matchLabels'), s.matchLabels);
  const exprs = Array.isArray(s.matchExpressions) ? s.matchExpressions : [];
  exprs.forEach((e: unknown, i) => {
    const er = r.at('matchExpressions').at(i);
    const x = (e ?? {}) as Record<string, unknown>;
    const key = typeof x.key === 'string' ? x.key : '';
    const km = validateLabelKey(key);
    if (km !== undefined) er.at('key').error(km);
    const values = Array.isArray(x.values) ? x.values : [];
    switch (x.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) er.at('values').error(`operator ${x.operator} needs at least one value`);
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) er.at('values').error(`operator ${x.operator} takes no values: remove them`);
        break;
      default:
        er.at('operator').error(`unknown operator ${JSON.stringify(x.operator)}: use In, NotIn, Exists or DoesNotExist`);
    }
    values.forEach((v: unknown, j) => {
      const vm = typeof v === 'string' ? validateLabelValue(v) : 'label value must be a string';
      if (vm !== undefined) er.at('values').at(j).error(vm);
    });
  });
}
