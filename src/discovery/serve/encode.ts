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

/** Version of encoded bytes: 16 base64url characters of SHA-256 (96 bits; collisions are not a practical concern). */
export function versionOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url').slice(0, 16);
}

/** Encode one generated resource. Throws (with the resource name) if it does not fit the Envoy message type. */
export function encodeResource(typeUrl: string, r: GeneratedResource): EncodedResource {
  const hit = memo.get(r.resource);
  if (hit !== undefined && hit.typeUrl === typeUrl) return { name: r.name, any: hit.any, version: hit.version, resource: r.resource };
  let any: AnyMessage;
  try {
    any = encodeAny(typeUrl, r.resource);
  } catch (e) {
    throw new Error(`resource "${r.name}" of ${typeUrl} cannot be encoded: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const version = versionOf(any.value);
  memo.set(r.resource, { typeUrl, any, version });
  return { name: r.name, any, version, resource: r.resource };
}
