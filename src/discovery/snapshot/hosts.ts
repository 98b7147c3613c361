// Istio host names: short-name resolution relative to a config's namespace, and wildcard matching.
// `reviews` in namespace `default` means `reviews.default.svc.cluster.local`; names with a dot are taken as written.

/** Resolve a host as Istio does: a name without dots (and not `*`) is expanded to `name.namespace.svc.<domainSuffix>`. */
export function resolveHost(host: string, namespace: string, domainSuffix: string): string {
  if (host === '*' || host.includes('.') || host.startsWith('*')) return host;
  return `${host}.${namespace}.svc.${domainSuffix}`;
}

/** True when `pattern` (possibly `*` or `*.example.com`) matches the concrete or wildcard host `host`. */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*' || pattern === host) return true;
  if (pattern.startsWith('*.')) {
    const suffix = pattern.slice(1);
    if (host.startsWith('*.')) return host.slice(1).endsWith(suffix);
    return host.endsWith(suffix);
  }
  if (host.startsWith('*.')) return pattern.endsWith(host.slice(1));
  return false;
}

/**
 * The names a client may use for a service in its virtual host domains, as Istio generates them:
 * the FQDN, and for Kubernetes-style hosts seen from the same namespace the short name and `name.namespace`, … each
 * also with `:port`. Wildcard hosts are returned as-is.
 */
export function hostAliases(hostname: string, port: number, proxyNamespace: string, domainSuffix: string): string[] {
  const names = [hostname];
  const svcSuffix = `.svc.${domainSuffix}`;
  if (hostname.endsWith(svcSuffix)) {
    const nameNs = hostname.slice(0, -svcSuffix.length);
    const dot = nameNs.indexOf('.');
    names.push(`${nameNs}.svc`, nameNs);
    if (dot > 0 && nameNs.slice(dot + 1) === proxyNamespace) names.push(nameNs.slice(0, dot));
  }
  const out: string[] = [];
  for (const n of names) {
    out.push(n);
    if (!n.startsWith('*')) out.push(`${n}:${port}`);
  }
  return out;
}
