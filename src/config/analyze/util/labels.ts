// Kubernetes equality-based label selectors as the analyzers use them (SelectorFromSet): every pair must match;
// an empty selector matches everything. `selectorString` prints them as Kubernetes does: `k=v` sorted by key.

export type Labels = Readonly<Record<string, string>>;

export function selectorMatches(selector: Labels, labels: Labels): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

export function selectorString(selector: Labels): string {
  return Object.keys(selector)
    .sort()
    .map((k) => `${k}=${selector[k] ?? ''}`)
    .join(',');
}

/** Parses `k=v,k2=v2` back into a set (pairs without exactly one `=` are dropped, as Istio's analyzer does). */
export function parseSelectorString(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of s.split(',')) {
    const kv = pair.split('=');
    if (kv.length === 2) out[kv[0] ?? ''] = kv[1] ?? '';
  }
  return out;
}
