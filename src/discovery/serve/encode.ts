// Encoding generated resources into google.protobuf.Any, and their per-resource versions (a hash of the encoded
// bytes). A resource whose bytes did not change keeps its version, which is what lets delta xDS and SotW EDS/RDS
// re-send only what changed. Encodings are memoized per resource object, so generators that reuse objects
// across proxies (or across pushes) are encoded once.
import { createHash } from 'node:crypto';
import { encodeAny, type AnyMessage } from '../../xds/protos.ts';
import type { GeneratedResource } from './types.ts';

/** A resource ready to send: its name, the Any, the version (hash) and the plain object (kept for config dumps). */
export interface EncodedResource {
  name: string;
  any: AnyMessage;
  version: string;
  resource: Record<string, unknown>;
}

const memo = new WeakMap<Record<string, unknown>, { typeUrl: string; any: AnyMessage; version: string }>();

/**
 * Encodings by content, across views: a translator builds new objects for every snapshot, but most resources are
 * unchanged between two snapshots. Looking them up by their JSON (cheap next to protobuf encoding) skips
 * re-encoding them. Two generations are kept: the current view's and the previous one's.
 */
export class EncodeCache {
  #current = new Map<string, { any: AnyMessage; version: string }>();
  #previous = new Map<string, { any: AnyMessage; version: string }>();

  /** Start a new generation (a new view): entries not used since the previous rotation are dropped. */
  rotate(): void {
    this.#previous = this.#current;
    this.#current = new Map();
  }

  get(key: string): { any: AnyMessage; version: string } | undefined {
    const hit = this.#current.get(key);
    if (hit !== undefined) return hit;
    const old = this.#previous.get(key);
    if (old !== undefined) this.#current.set(key, old);
    return old;
  }

  set(key: string, value: { any: AnyMessage; version: string }): void {
    this.#current.set(key, value);
  }
}

/** Version of encoded bytes: 16 base64url characters of SHA-256 (96 bits; collisions are not a practical concern). */
export function versionOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url').slice(0, 16);
}

/** Encode one generated resource. Throws (with the resource name) if it does not fit the Envoy message type. */
export function encodeResource(typeUrl: string, r: GeneratedResource, cache?: EncodeCache): EncodedResource {
  const hit = memo.get(r.resource);
  if (hit !== undefined && hit.typeUrl === typeUrl) return { name: r.name, any: hit.any, version: hit.version, resource: r.resource };
  const key = cache === undefined ? undefined : `${typeUrl}\u0000${JSON.stringify(r.resource)}`;
  const known = key === undefined ? undefined : cache?.get(key);
  if (known !== undefined) {
    memo.set(r.resource, { typeUrl, ...known });
    return { name: r.name, any: known.any, version: known.version, resource: r.resource };
  }
  let any: AnyMessage;
  try {
    any = encodeAny(typeUrl, r.resource);
  } catch (e) {
    throw new Error(`resource "${r.name}" of ${typeUrl} cannot be encoded: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  // protobufjs hands back small buffers as slices of Node's shared 8 KiB pool; a cached slice would pin a whole
  // slab. Keep an exact-size copy instead.
  any = { type_url: any.type_url, value: new Uint8Array(any.value) };
  const version = versionOf(any.value);
  memo.set(r.resource, { typeUrl, any, version });
  if (key !== undefined) cache?.set(key, { any, version });
  return { name: r.name, any, version, resource: r.resource };
}
