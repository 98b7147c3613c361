// DestinationRule: typed spec (see destination-rule.types.ts) and Istio's webhook rules for it — host, traffic
// policy (see traffic-policy.ts), uniquely named subsets with valid labels, exportTo and workloadSelector.
import { Reporter, type SemanticValidator, type Validation } from '../validation/report.ts';
import type { Resource } from '../resource.ts';
import { validateWildcardDomain, isDns1123Label } from '../validation/common/host.ts';
import { checkLabels, checkWorkloadSelector } from '../validation/common/labels.ts';
import { checkExportTo } from '../validation/common/http.ts';
import { checkMetadata } from '../validation/common/metadata.ts';
import { checkTrafficPolicy } from './traffic-policy.ts';
import { arr, isSet, obj, q, str } from './util.ts';

export type * from './destination-rule.types.ts';

export const validateDestinationRule: SemanticValidator = (resource: Resource): Validation => {
  const root = new Reporter();
  checkMetadata(root, resource.metadata);
  const spec = obj(resource.spec) ?? {};
  const r = root.at('spec');
  const namespace = resource.metadata.namespace ?? 'default';
  const host = str(spec.host);
  const hm = validateWildcardDomain(host);
  if (hm !== undefined) r.at('host').error(host === '' ? 'host is required: name the service the rule applies to, e.g. "reviews"' : hm);
  checkTrafficPolicy(r.at('trafficPolicy'), namespace, spec.trafficPolicy);
  const names = new Set<string>();
  arr(spec.subsets).forEach((s, i) => {
    const sr = r.at('subsets').at(i);
    const so = obj(s);
    if (so === undefined) return sr.error('subset may not be null');
    const name = str(so.name);
    if (names.has(name)) sr.at('name').error(`duplicate subset name ${q(name)}: subset names must be unique`);
    names.add(name);
    if (name === '') sr.at('name').error('subset name is required');
    else if (!isDns1123Label(name)) sr.at('name').error(`subset name ${q(name)} is not valid: it must be a DNS-1123 label (letters, digits, '-')`);
    checkLabels(sr.at('labels'), so.labels);
    checkTrafficPolicy(sr.at('trafficPolicy'), namespace, so.trafficPolicy);
  });
  const hasSelector = isSet(spec.workloadSelector);
  checkExportTo(r.at('exportTo'), namespace, spec.exportTo, { destinationRuleWithSelector: hasSelector });
  checkWorkloadSelector(r.at('workloadSelector'), spec.workloadSelector, 'matchLabels');
  return root.out;
};
