// Trust-domain aliases (MeshConfig trustDomain + trustDomainAliases): a principal that names the mesh's trust domain,
// one of its aliases or `cluster.local` is widened to every one of them, so identities keep working across a
// trust-domain migration, as Istio does.

/** `td/ns/x/sa/y` principals rewritten for every trust domain in `trustDomains` (the first is the mesh's). */
export function replaceTrustDomainAliases(principals: readonly string[], trustDomains: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of principals) {
    const parts = p.split('/');
    if (parts.length !== 5 || parts[0] === '*') {
      out.push(p);
      continue;
    }
    const td = parts[0]!;
    if (!trustDomains.some((t) => domainMatches(t, td)) && td !== 'cluster.local') {
      out.push(p);
      continue;
    }
    const widened: string[] = [];
    for (const t of trustDomains) {
      const np = domainMatches(t, td) ? p : [t, ...parts.slice(1)].join('/');
      if (!widened.includes(np)) widened.push(np);
    }
    out.push(...widened);
  }
  return out;
}

/** Trust-domain values naming one of the bundle's domains expand to all of them. */
export function expandTrustDomainAliases(values: readonly string[], trustDomains: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    for (const x of trustDomains.includes(v) ? trustDomains : [v]) if (!out.includes(x)) out.push(x);
  }
  return out;
}

/** Does a bundle trust domain match the principal's trust domain (which may be a `*suffix` pattern)? */
function domainMatches(bundleTd: string, principalTd: string): boolean {
  if (principalTd.startsWith('*')) return bundleTd.endsWith(principalTd.slice(1));
  return bundleTd === principalTd;
}
