// gRPC's length-prefixed messages on an HTTP/2 stream: a 1-byte compressed flag, a 4-byte big-endian length, then
// the message. Messages may span DATA frames and one frame may carry several; the decoder reassembles them and
// refuses compressed messages (this client never advertises an encoding) and messages over the size limit.

/** One message with its 5-byte prefix (uncompressed). */
export function frameMessage(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + message.byteLength);
  out[0] = 0;
  out.writeUInt32BE(message.byteLength, 1);
  out.set(message, 5);
  return out;
}

/** Why a stream's bytes cannot be decoded into messages; the call ends with INTERNAL or RESOURCE_EXHAUSTED. */
export class FramingError extends Error {
  readonly kind: 'compressed' | 'too-large';
  constructor(kind: 'compressed' | 'too-large', message: string) {
    super(message);
    this.name = 'FramingError';
    this.kind = kind;
  }
}

/** Reassembles messages from DATA chunks. `push` returns the messages completed by the chunk (often none or one). */
export class MessageDecoder {
  readonly #maxBytes: number;
  readonly #encoding: () => string | undefined;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Length of the message being read, once its prefix is complete. */
  #need: number | undefined;

  /**
   * @param maxBytes largest message accepted (grpc's default receive limit is 4 MiB).
   * @param encoding the response's grpc-encoding, named in the error when a compressed message arrives.
   */
  constructor(maxBytes: number, encoding: () => string | undefined = () => undefined) {
    this.#maxBytes = maxBytes;
    this.#encoding = encoding;
  }

  /** Bytes held that do not yet form a whole message (non-zero at end of stream means a truncated message). */
  get pending(): number {
    return this.#buffered;
  }

  push(chunk: Buffer): Buffer[] {
    if (chunk.length === 0) return [];
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.#need === undefined) {
        if (this.#buffered < 5) break;
        const prefix = this.#take(5);
        if (prefix[0] !== 0) {
          const enc = this.#encoding();
          throw new FramingError('compressed', `the server sent a compressed message (flag ${prefix[0]}, grpc-encoding ${enc ?? 'not set'}); this client accepts only uncompressed messages (grpc-accept-encoding: identity)`);
        }
        const len = prefix.readUInt32BE(1);
        if (len > this.#maxBytes) throw new FramingError('too-large', `received a message of ${len} bytes, over the limit of ${this.#maxBytes}`);
        this.#need = len;
      }
      if (this.#buffered < this.#need) break;
      out.push(this.#take(this.#need));
      this.#need = undefined;
    }
    return out;
  }

  /** Remove n bytes from the front of the buffered chunks (copying only when a message spans chunks). */
  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.#buffered -= n;
    const first = this.#chunks[0]!;
    if (first.length === n) {
      this.#chunks.shift();
      return first;
    }
    if (first.length > n) {
      this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.#chunks[0]!;
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) this.#chunks.shift();
      else this.#chunks[0] = c.subarray(k);
    }
    return out;
  }
}
