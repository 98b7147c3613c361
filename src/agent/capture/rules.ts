// The iptables rules of transparent capture, as Istio's init container (tools/istio-iptables) writes them:
// nat chains ISTIO_INBOUND → ISTIO_IN_REDIRECT (to the inbound port, 15006) and ISTIO_OUTPUT → ISTIO_REDIRECT
// (to the outbound port, 15001), the proxy's own traffic excluded by its UID/GID, DNS on port 53 sent to the
// DNS proxy (15053). Pure: options in, iptables-restore lines out. apply.ts feeds them to iptables-restore.

import { isIP } from 'node:net';

/** Istio's capture ports beyond src/core/ports.ts. */
export const CapturePorts = {
  /** Istio's agent DNS proxy. */
  dnsProxy: 15053,
  /** HBONE tunnel port: never captured inbound, never sent back to inbound from the proxy (Istio does the same). */
  tunnel: 15008,
} as const;

/** The uid/gid Istio runs its proxy as; its traffic is not captured. */
export const DEFAULT_PROXY_ID = 1337;

/** DNS capture: off, or redirect port 53 (UDP and TCP) to the DNS proxy port. */
export type DnsCapture =
  | { readonly mode: 'off' }
  /** Only queries to these name servers (Istio's default: the resolv.conf name servers). */
  | { readonly mode: 'servers'; readonly port: number; readonly servers: readonly string[] }
  /** Every query to port 53, whatever the server (Istio's ambient/"capture all DNS"). */
  | { readonly mode: 'all'; readonly port: number };

/** What to capture. Field names follow istio-iptables' flags (in brackets). */
export interface CaptureOptions {
  /** [-p] Port the outbound traffic is redirected to (the proxy's virtualOutbound). Default 15001. */
  readonly proxyPort: number;
  /** [-z] Port the inbound traffic is redirected to (virtualInbound). Default 15006. */
  readonly inboundCapturePort: number;
  /** [-u] UIDs whose traffic is not captured (the proxy's). Default [1337]. */
  readonly proxyUids: readonly number[];
  /** [-g] GIDs whose traffic is not captured (the proxy's). Default [1337]. */
  readonly proxyGids: readonly number[];
  /** [-b] Inbound ports captured: '*' (all) or a list; an empty list captures no inbound traffic. Default '*'. */
  readonly inboundPorts: '*' | readonly number[];
  /** [-d] Inbound ports never captured when inboundPorts is '*'. Default 15090, 15021, 15020 (Istio's injector). */
  readonly inboundExcludePorts: readonly number[];
  /** [-i] Outbound destinations captured: '*' or CIDRs; an empty list captures none. Default '*'. */
  readonly outboundCidrs: '*' | readonly string[];
  /** [-x] Outbound CIDRs never captured. */
  readonly outboundExcludeCidrs: readonly string[];
  /** [-o] Outbound ports never captured (TCP and UDP). */
  readonly outboundExcludePorts: readonly number[];
  /** [-q] Outbound TCP ports captured whatever the destination. */
  readonly outboundIncludePorts: readonly number[];
  /** DNS capture. Default: off. */
  readonly dns: DnsCapture;
  /**
   * Loopback destinations left alone for everyone, the proxy included (not an istio-iptables flag). Weft relays
   * host workloads on 127.0.0.0/8 into the namespace at their own addresses; without this, Istio's rule sending
   * the proxy's loopback traffic to non-127.0.0.1 addresses to inbound would capture those calls. Default none.
   */
  readonly loopbackPassthroughCidrs: readonly string[];
}

export type IpFamily = 'ipv4' | 'ipv6';

export const defaultCaptureOptions: CaptureOptions = {
  proxyPort: 15001,
  inboundCapturePort: 15006,
  proxyUids: [DEFAULT_PROXY_ID],
  proxyGids: [DEFAULT_PROXY_ID],
  inboundPorts: '*',
  inboundExcludePorts: [15090, 15021, 15020],
  outboundCidrs: '*',
  outboundExcludeCidrs: [],
  outboundExcludePorts: [],
  outboundIncludePorts: [],
  dns: { mode: 'off' },
  loopbackPassthroughCidrs: [],
};

/** Options from defaults plus overrides. */
export function captureOptions(overrides: Partial<CaptureOptions> = {}): CaptureOptions {
  return { ...defaultCaptureOptions, ...overrides };
}

/** Loopback addresses the rules name, per family (Istio: 127.0.0.1 and 127.0.0.6, the inbound passthrough source). */
const loopback = {
  ipv4: { localhost: '127.0.0.1/32', passthroughSource: '127.0.0.6/32' },
  ipv6: { localhost: '::1/128', passthroughSource: '::6/128' },
} as const;

/** A CIDR's family, or undefined when it is not a CIDR or address. */
function cidrFamily(cidr: string): IpFamily | undefined {
  const [address] = cidr.split('/');
  const v = isIP(address ?? '');
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : undefined;
}

/** An address as a host CIDR (`/32` or `/128`) unless it already has a prefix. */
function hostCidr(address: string, family: IpFamily): string {
  return address.includes('/') ? address : `${address}/${family === 'ipv4' ? 32 : 128}`;
}

/**
 * The iptables-restore input for one family (`iptables-restore` for ipv4, `ip6tables-restore` for ipv6).
 * Lines and order follow istio-iptables so that `iptables-save` in a Weft workload reads like one in an Istio pod.
 * CIDRs of the other family are left out, as istio-iptables does.
 */
export function captureRules(opts: CaptureOptions, family: IpFamily = 'ipv4'): string[] {
  validate(opts);
  const lo = loopback[family];
  const ofFamily = (cidrs: readonly string[]): string[] => cidrs.filter((c) => cidrFamily(c) === family);
  const dns = dnsOfFamily(opts.dns, family);
  const nat: string[] = [];
  const add = (rule: string): void => {
    nat.push(rule);
  };

  add('-N ISTIO_INBOUND');
  add('-N ISTIO_REDIRECT');
  add('-N ISTIO_IN_REDIRECT');
  add('-N ISTIO_OUTPUT');
  if (dns) add('-N ISTIO_OUTPUT_DNS');
  add(`-A ISTIO_INBOUND -p tcp --dport ${CapturePorts.tunnel} -j RETURN`);
  add(`-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports ${opts.proxyPort}`);
  add(`-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports ${opts.inboundCapturePort}`);

  // Inbound: everything (minus exclusions) or the listed ports go to the inbound capture port.
  if (opts.inboundPorts === '*' || opts.inboundPorts.length > 0) {
    add('-A PREROUTING -p tcp -j ISTIO_INBOUND');
    if (opts.inboundPorts === '*') {
      if (opts.inboundExcludePorts.length > 0) add(`-A ISTIO_INBOUND -p tcp ${dports(opts.inboundExcludePorts)} -j RETURN`);
      add('-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT');
    } else {
      for (const port of opts.inboundPorts) add(`-A ISTIO_INBOUND -p tcp --dport ${port} -j ISTIO_IN_REDIRECT`);
    }
  }

  // Outbound. Istio sends all protocols to ISTIO_OUTPUT (UDP for DNS); ISTIO_REDIRECT itself only takes TCP.
  add('-A OUTPUT -j ISTIO_OUTPUT');
  if (opts.outboundExcludePorts.length > 0) {
    add(`-A ISTIO_OUTPUT -p tcp ${dports(opts.outboundExcludePorts)} -j RETURN`);
    add(`-A ISTIO_OUTPUT -p udp ${dports(opts.outboundExcludePorts)} -j RETURN`);
  }
  // Traffic the proxy sends to the app over loopback with the inbound passthrough source is delivered as is.
  add(`-A ISTIO_OUTPUT -o lo -s ${lo.passthroughSource} -j RETURN`);
  for (const cidr of ofFamily(opts.loopbackPassthroughCidrs)) add(`-A ISTIO_OUTPUT -o lo -d ${cidr} -j RETURN`);
  // The proxy calling its own pod IP over loopback is an inbound call: send it through inbound capture. Other
  // loopback traffic of the app is left alone, except TCP DNS when DNS is captured. The proxy's own traffic returns.
  const ownerRules = (match: '--uid-owner' | '--gid-owner', id: number, notPorts: string): void => {
    add(`-A ISTIO_OUTPUT -o lo ! -d ${lo.localhost} -p tcp ${notPorts} -m owner ${match} ${id} -j ISTIO_IN_REDIRECT`);
    add(`-A ISTIO_OUTPUT -o lo ${dns ? '-p tcp ! --dport 53 ' : ''}-m owner ! ${match} ${id} -j RETURN`);
    add(`-A ISTIO_OUTPUT -m owner ${match} ${id} -j RETURN`);
  };
  // istio-iptables keeps TCP 53 out of the UID rule only; the GID rule names the tunnel port alone. Kept as is.
  for (const uid of opts.proxyUids) ownerRules('--uid-owner', uid, dns ? `-m multiport ! --dports 53,${CapturePorts.tunnel}` : `! --dport ${CapturePorts.tunnel}`);
  for (const gid of opts.proxyGids) ownerRules('--gid-owner', gid, `! --dport ${CapturePorts.tunnel}`);

  if (dns) {
    add('-A ISTIO_OUTPUT -j ISTIO_OUTPUT_DNS');
    for (const server of dns.servers) add(`-A ISTIO_OUTPUT_DNS -p tcp --dport 53${server ? ` -d ${server}` : ''} -j REDIRECT --to-ports ${dns.port}`);
    // The DNS proxy's own queries to the upstream resolvers go out as they are.
    for (const uid of opts.proxyUids) add(`-A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --uid-owner ${uid} -j RETURN`);
    for (const gid of opts.proxyGids) add(`-A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --gid-owner ${gid} -j RETURN`);
    for (const server of dns.servers) add(`-A ISTIO_OUTPUT_DNS -p udp --dport 53${server ? ` -d ${server}` : ''} -j REDIRECT --to-port ${dns.port}`);
  }
  add(`-A ISTIO_OUTPUT -d ${lo.localhost} -j RETURN`);
  for (const cidr of ofFamily(opts.outboundExcludeCidrs)) add(`-A ISTIO_OUTPUT -d ${cidr} -j RETURN`);
  for (const port of opts.outboundIncludePorts) add(`-A ISTIO_OUTPUT -p tcp --dport ${port} -j ISTIO_REDIRECT`);
  if (opts.outboundCidrs === '*') {
    add('-A ISTIO_OUTPUT -j ISTIO_REDIRECT');
  } else {
    for (const cidr of ofFamily(opts.outboundCidrs)) add(`-A ISTIO_OUTPUT -d ${cidr} -j ISTIO_REDIRECT`);
  }

  const lines = ['* nat', ...nat, 'COMMIT'];
  if (dns && dns.servers.some((s) => s !== undefined)) lines.push(...conntrackZones(opts, dns));
  return lines;
}

/**
 * The raw-table rules that put the app↔DNS-proxy and proxy↔upstream halves of a redirected query in different
 * conntrack zones, so that their tuples (same ports, same server) never collide. Only needed when queries to
 * named servers are redirected, as Istio does.
 */
function conntrackZones(opts: CaptureOptions, dns: FamilyDns): string[] {
  const raw = ['* raw', '-N ISTIO_OUTPUT_DNS', '-N ISTIO_INBOUND', '-A OUTPUT -j ISTIO_OUTPUT_DNS'];
  const owners = [...opts.proxyUids.map((id) => `--uid-owner ${id}`), ...opts.proxyGids.map((id) => `--gid-owner ${id}`)];
  for (const owner of owners) {
    raw.push(`-A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner ${owner} -j CT --zone 1`);
    raw.push(`-A ISTIO_OUTPUT_DNS -p udp --sport ${dns.port} -m owner ${owner} -j CT --zone 2`);
  }
  raw.push('-A PREROUTING -j ISTIO_INBOUND');
  for (const server of dns.servers) {
    if (server === undefined) continue;
    raw.push(`-A ISTIO_OUTPUT_DNS -p udp --dport 53 -d ${server} -j CT --zone 2`);
    raw.push(`-A ISTIO_INBOUND -p udp --sport 53 -s ${server} -j CT --zone 1`);
  }
  raw.push('COMMIT');
  return raw;
}

/** DNS capture as it applies to one family: the servers as host CIDRs (undefined = any server), or none. */
interface FamilyDns {
  readonly port: number;
  readonly servers: readonly (string | undefined)[];
}

function dnsOfFamily(dns: DnsCapture, family: IpFamily): FamilyDns | undefined {
  switch (dns.mode) {
    case 'off':
      return undefined;
    case 'all':
      return { port: dns.port, servers: [undefined] };
    case 'servers': {
      const servers = dns.servers.filter((s) => cidrFamily(s) === family).map((s) => hostCidr(s, family));
      // istio-iptables still installs the DNS chain with no server of this family; it then redirects nothing.
      return { port: dns.port, servers };
    }
  }
}

/** `--dport P` for one port, `-m multiport --dports a,b` for several (multiport takes up to 15). */
function dports(ports: readonly number[]): string {
  return ports.length === 1 ? `--dport ${ports[0]}` : `-m multiport --dports ${ports.join(',')}`;
}

/** Refuse options that iptables would reject half-way through a restore, with the field that is wrong. */
function validate(opts: CaptureOptions): void {
  const port = (name: string, p: number): void => {
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new RangeError(`capture: ${name} must be a port 1-65535, got ${p}`);
  };
  port('proxyPort', opts.proxyPort);
  port('inboundCapturePort', opts.inboundCapturePort);
  if (opts.dns.mode !== 'off') port('dns.port', opts.dns.port);
  const ports = (name: string, list: readonly number[]): void => {
    list.forEach((p, i) => port(`${name}[${i}]`, p));
    if (list.length > 15) throw new RangeError(`capture: ${name} lists ${list.length} ports; iptables multiport takes at most 15`);
  };
  if (opts.inboundPorts !== '*') opts.inboundPorts.forEach((p, i) => port(`inboundPorts[${i}]`, p));
  ports('inboundExcludePorts', opts.inboundExcludePorts);
  ports('outboundExcludePorts', opts.outboundExcludePorts);
  opts.outboundIncludePorts.forEach((p, i) => port(`outboundIncludePorts[${i}]`, p));
  const ids = (name: string, list: readonly number[]): void =>
    list.forEach((id, i) => {
      if (!Number.isInteger(id) || id < 0) throw new RangeError(`capture: ${name}[${i}] must be a non-negative integer, got ${id}`);
    });
  ids('proxyUids', opts.proxyUids);
  ids('proxyGids', opts.proxyGids);
  const cidrs = (name: string, list: readonly string[]): void =>
    list.forEach((c, i) => {
      const [, prefix] = c.split('/');
      const fam = cidrFamily(c);
      const max = fam === 'ipv6' ? 128 : 32;
      if (!fam || (prefix !== undefined && !(/^\d+$/.test(prefix) && Number(prefix) <= max))) {
        throw new RangeError(`capture: ${name}[${i}] is not an IP address or CIDR: ${JSON.stringify(c)}`);
      }
    });
  if (opts.outboundCidrs !== '*') cidrs('outboundCidrs', opts.outboundCidrs);
  cidrs('outboundExcludeCidrs', opts.outboundExcludeCidrs);
  cidrs('loopbackPassthroughCidrs', opts.loopbackPassthroughCidrs);
  if (opts.dns.mode === 'servers') cidrs('dns.servers', opts.dns.servers);
}
