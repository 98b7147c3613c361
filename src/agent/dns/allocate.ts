// Addresses for mesh services that have none (ServiceEntries without `addresses`, services known only by
// name), so that an app can resolve them and transparent capture still sends the connection to the sidecar,
// which routes by original destination. Istio auto-allocates from 240.240.0.0/16 (Class E, never routed on
// the internet) and 2001:2::f0f0:0/112 for IPv6; so does Weft. Pure and deterministic: the same host set
// gives the same addresses in every process, so the control plane can compute the same VIPs.

/** The reserved IPv4 range (Istio's). */
export const AUTO_ALLOCATE_IPV4_RANGE = '240.240.0.0/16';
/** The reserved IPv6 range (Istio's). */
export const AUTO_ALLOCATE_IPV6_RANGE = '2001:2::f0f0:0/112';

/** Slots 1 … 65534: the /16 minus its first and last address. */
const SLOTS = 65534;

/** An allocated pair: the same slot in both ranges. */
export interface AllocatedAddress {
  readonly ipv4: string;
  readonly ipv6: string;
}

/**
 * Allocate an address to every host. Each host's slot is a hash of its name (so adding a host rarely moves
 * another); collisions take the next free slot in the order of the sorted host names. `previous` pins
 * assignments already handed out (a running sidecar keeps them while the table changes). Wildcard hosts get
 * none: a name like `*.example.com` is never looked up as such. Throws RangeError past 65534 hosts.
 */
export function allocateAddresses(hosts: Iterable<string>, previous?: ReadonlyMap<string, AllocatedAddress>): Map<string, AllocatedAddress> {
  const wanted = [...new Set([...hosts].map((h) => h.toLowerCase()))].filter((h) => !h.includes('*')).sort();
  if (wanted.length > SLOTS) throw new RangeError(`cannot auto-allocate ${wanted.length} addresses: the range has ${SLOTS}`);
  const used = new Set<number>();
  const out = new Map<string, AllocatedAddress>();
  const pending: string[] = [];
  for (const host of wanted) {
    const kept = previous?.get(host);
    const slot = kept ? slotOf(kept.ipv4) : undefined;
    if (slot !== undefined && !used.has(slot)) {
      used.add(slot);
      out.set(host, addressOf(slot));
    } else {
      pending.push(host);
    }
  }
  for (const host of pending) {
    let slot = (fnv1a(host) % SLOTS) + 1;
    while (used.has(slot)) slot = (slot % SLOTS) + 1;
    used.add(slot);
    out.set(host, addressOf(slot));
  }
  return out;
}

/** Is this address inside the IPv4 auto-allocation range? */
export function isAutoAllocated(address: string): boolean {
  return address.startsWith('240.240.');
}

function addressOf(slot: number): AllocatedAddress {
  return { ipv4: `240.240.${slot >> 8}.${slot & 0xff}`, ipv6: `2001:2::f0f0:${slot.toString(16)}` };
}

function slotOf(ipv4: string): number | undefined {
  const m = /^240\.240\.(\d+)\.(\d+)$/.exec(ipv4);
  if (!m) return undefined;
  const slot = Number(m[1]) * 256 + Number(m[2]);
  return slot >= 1 && slot <= SLOTS ? slot : undefined;
}

/** 32-bit FNV-1a of a string's UTF-8 bytes. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
