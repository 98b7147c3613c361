// resolv.conf, both ways: read the host's name servers (the DNS proxy's upstreams) and write the one a
// workload namespace sees (`ip netns exec` mounts /etc/netns/<ns>/resolv.conf over /etc/resolv.conf), with the
// Kubernetes search path of the workload's namespace so that `reviews` resolves as it does in a pod.

import { readFileSync } from 'node:fs';

/** What a resolv.conf says, as far as Weft cares. */
export interface ResolvConf {
  readonly nameservers: readonly string[];
  readonly search: readonly string[];
  readonly options: readonly string[];
}

/** Parse resolv.conf text (resolv.conf(5)); unknown lines are ignored, as the C resolver does. */
export function parseResolvConf(text: string): ResolvConf {
  const nameservers: string[] = [];
  let search: string[] = [];
  const options: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0]) nameservers.push(rest[0]);
    else if (key === 'search' || key === 'domain') search = rest; // the last one wins
    else if (key === 'options') options.push(...rest);
  }
  return { nameservers, search, options };
}

/** The host's resolv.conf (default /etc/resolv.conf); empty when it cannot be read. */
export function readResolvConf(path = '/etc/resolv.conf'): ResolvConf {
  try {
    return parseResolvConf(readFileSync(path, 'utf8'));
  } catch {
    return { nameservers: [], search: [], options: [] };
  }
}

/**
 * A workload's resolv.conf: one name server (whose port-53 traffic the capture rules redirect to the DNS proxy)
 * and the Kubernetes search path `<ns>.svc.<domain> svc.<domain> <domain>`.
 */
export function workloadResolvConf(options: { nameserver: string; namespace: string; domainSuffix?: string; options?: readonly string[] }): string {
  const domain = options.domainSuffix ?? 'cluster.local';
  const lines = [
    '# Written by weft: queries to this server are redirected to the sidecar DNS proxy (port 15053).',
    `nameserver ${options.nameserver}`,
    `search ${options.namespace}.svc.${domain} svc.${domain} ${domain}`,
  ];
  if (options.options && options.options.length > 0) lines.push(`options ${options.options.join(' ')}`);
  return `${lines.join('\n')}\n`;
}
