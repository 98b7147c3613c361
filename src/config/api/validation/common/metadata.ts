// Checks on metadata that Istio's webhook applies to every kind before the kind's own rules: reserved internal
// annotations are refused, and `istio.io/dry-run` is only meaningful on AuthorizationPolicy.
import type { ObjectMeta } from '../../resource.ts';
import type { Reporter } from '../report.ts';

export const DRY_RUN_ANNOTATION = 'istio.io/dry-run';
const ALWAYS_REJECT = 'internal.istio.io/webhook-always-reject';
const INTERNAL_ANNOTATIONS = ['internal.istio.io/parent-namespace', 'internal.istio.io/parents'];

/** Report reserved annotations at `metadata.annotations.<key>`; `allowDryRun` is true only for AuthorizationPolicy. */
export function checkMetadata(root: Reporter, meta: ObjectMeta | undefined, opts: { allowDryRun?: boolean } = {}): void {
  const ann = meta?.annotations;
  if (ann === undefined || ann === null || typeof ann !== 'object') return;
  const r = root.at('metadata').at('annotations');
  if (DRY_RUN_ANNOTATION in ann && opts.allowDryRun !== true) {
    r.at(DRY_RUN_ANNOTATION).error(`annotation ${DRY_RUN_ANNOTATION} is only supported on AuthorizationPolicy: remove it`);
  }
  if (ALWAYS_REJECT in ann) r.at(ALWAYS_REJECT).error(`annotation ${ALWAYS_REJECT} is set, so the resource is rejected (it exists to test the webhook)`);
  for (const a of INTERNAL_ANNOTATIONS) {
    if (a in ann) r.at(a).error(`annotation ${a} is reserved for Istio's internal use and may not be set by users: remove it`);
  }
}
