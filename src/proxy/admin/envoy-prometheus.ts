// Envoy stat names rendered as Prometheus metrics the way Istio's Envoy renders them: Istio's bootstrap tag
// extraction rules (stats_config.stats_tags) take parts of the name out into labels, the rest is sanitised
// ([^a-zA-Z0-9_] → _) and prefixed with `envoy_`. So `http.inbound_0.0.0.0_8080.rbac.allowed` becomes
// `envoy_http_inbound_0_0_0_0_8080_rbac{authz_enforce_result="allowed"}`, and a dry-run policy's
// `….rbac.istio_dry_run_deny_.shadow_denied` becomes `…_rbac{authz_dry_run_action="deny",authz_dry_run_result="denied"}`,
// the names Istio's documentation and dashboards query.

/** One of Istio's stats_tags: capture group 1 is removed from the name, group 2 is the label value. */
interface TagRule {
  tag: string;
  re: RegExp;
}

// Istio's bootstrap rules for the stats this proxy emits by name (tools/packaging/common/envoy_bootstrap.json).
// The rules are fixed and the names come from config, so a JS RegExp is safe here (no user-supplied pattern).
const RULES: readonly TagRule[] = [
  { tag: 'authz_enforce_result', re: /rbac(\.(allowed|denied))/d },
  { tag: 'authz_dry_run_action', re: /(\.istio_dry_run_(allow|deny)_)/d },
  { tag: 'authz_dry_run_result', re: /(\.shadow_(allowed|denied))/d },
  { tag: 'tcp_prefix', re: /^tcp\.((.*?)\.)\w+?$/d },
  { tag: 'http_conn_manager_prefix', re: /^http\.(((?:[_.0-9]*|[_[\]a-fA-F0-9]*))\.)/d },
];

export interface TaggedStat {
  /** Prometheus metric name (`envoy_…`). */
  name: string;
  /** Extracted labels, in rule order. */
  labels: Array<[string, string]>;
}

/** Apply the tag rules to one Envoy stat name (all rules match against the original name, as Envoy does). */
export function tagStat(stat: string): TaggedStat {
  const labels: Array<[string, string]> = [];
  const remove: Array<[number, number]> = [];
  for (const rule of RULES) {
    const m = rule.re.exec(stat);
    const span = m?.indices?.[1];
    if (!m || !span) continue;
    labels.push([rule.tag, m[2] ?? m[1] ?? '']);
    remove.push(span);
  }
  let kept = '';
  for (let i = 0; i < stat.length; i++) if (!remove.some(([a, b]) => i >= a && i < b)) kept += stat[i];
  return { name: `envoy_${kept.replace(/[^a-zA-Z0-9_]/g, '_')}`, labels };
}

const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** Counters as Prometheus text: one `# TYPE … counter` per metric name, its series after it. */
export function renderEnvoyCounters(stats: ReadonlyArray<[string, number]>): string {
  const families = new Map<string, string[]>();
  for (const [stat, value] of stats) {
    const t = tagStat(stat);
    const labels = t.labels.length === 0 ? '' : `{${t.labels.map(([k, v]) => `${k}="${esc(v)}"`).join(',')}}`;
    let rows = families.get(t.name);
    if (!rows) families.set(t.name, (rows = []));
    rows.push(`${t.name}${labels} ${value}`);
  }
  const out: string[] = [];
  for (const [name, rows] of families) out.push(`# TYPE ${name} counter`, ...rows);
  return out.length === 0 ? '' : out.join('\n') + '\n';
}
