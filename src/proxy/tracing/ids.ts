// Random trace and span ids, cut from a pool of random bytes refilled 4 KiB at a time (one getrandom call per
// ~250 spans instead of one per id). Ids are never all zeros: W3C and B3 treat zero ids as invalid.
import { randomFillSync } from 'node:crypto';

const POOL = Buffer.allocUnsafe(4096);
let offset = POOL.length;

/** Two hex digits per byte value: building the id in JS beats a Buffer.toString call for 8–16 bytes. */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function take(bytes: number): string {
  if (offset + bytes > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  let id = '';
  let any = 0;
  for (let i = offset; i < offset + bytes; i++) {
    const b = POOL[i]!;
    any |= b;
    id += HEX[b]!;
  }
  offset += bytes;
  return any === 0 ? take(bytes) : id;
}

/** A 16-hex-character span id. */
export function newSpanId(): string {
  return take(8);
}

/** A 32-hex-character trace id; with `bits64`, the upper half is zero (Zipkin's 64-bit trace ids). */
export function newTraceId(bits64 = false): string {
  return bits64 ? `0000000000000000${take(8)}` : take(16);
}
