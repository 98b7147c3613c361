// Strict, incremental HTTP/1.1 message parser for the proxy's hot path: feeds on socket chunks, emits a head,
// streamed body slices (never buffered) and the end of each message. Malformed input is reported once through
// onError with the status Envoy answers (400, 431, 501); the parser then stops. It never throws.
// After a message ends the parser pauses; the owner calls resume() when it is ready for the next one (pipelining).
import { parseHead, type MessageHead, type HeadError } from './head.ts';
import { isFieldValue, isToken } from './chars.ts';

/** Envoy's default max_request_headers_kb is 60. */
export const DEFAULT_MAX_HEADER_BYTES = 60 * 1024;

export type ParserKind = 'request' | 'response';

export interface ParserEvents {
  /** A complete head. Return value is ignored; read framing from the head itself. */
  onHead(head: MessageHead): void;
  /**
   * A slice of body bytes: a view of the bytes passed to execute(). When the parser was built with `reusedInput`,
   * that buffer is overwritten after the call returns: copy the slice to keep it.
   */
  onBody(chunk: Buffer): void;
  /** The message ended; trailers (flat name/value list, names lower-case) for chunked bodies that had any. */
  onEnd(trailers: string[] | undefined): void;
  /** Input was malformed. The parser is dead afterwards. */
  onError(error: HeadError): void;
}

const enum_ = {
  head: 0,
  bodyLength: 1,
  chunkSize: 2,
  chunkData: 3,
  chunkDataEnd: 4,
  trailers: 5,
  bodyUntilClose: 6,
  paused: 7,
  dead: 8,
  tunnel: 9,
} as const;
type State = (typeof enum_)[keyof typeof enum_];

const CR = 13;
const LF = 10;
const MAX_CHUNK_LINE = 4096;

export class Http1Parser {
  readonly kind: ParserKind;
  readonly maxHeaderBytes: number;
  private readonly ev: ParserEvents;
  /** The owner reuses the buffers it passes to execute() (a socket read buffer): keep only copies. */
  reusedInput: boolean;
  /** Whether the buffer being parsed is the owner's (reused) one rather than one the parser made. */
  private borrowed = false;
  private state: State = enum_.head;
  /** Bytes not yet consumed (partial head, partial chunk line, or data held while paused). */
  private pending: Buffer | undefined;
  /** Chunks collected without copying while paused or while a head is incomplete. */
  private held: Buffer[] | undefined;
  private heldBytes = 0;
  private remaining = 0;
  private trailerBytes = 0;
  /** For responses: the request method (HEAD responses carry no body) — set before each response. */
  requestMethod = 'GET';
  /** True once a message head has been parsed in the current message. */
  inMessage = false;

  constructor(kind: ParserKind, events: ParserEvents, maxHeaderBytes = DEFAULT_MAX_HEADER_BYTES, reusedInput = false) {
    this.kind = kind;
    this.ev = events;
    this.maxHeaderBytes = maxHeaderBytes;
    this.reusedInput = reusedInput;
  }

  /** A slice to hold past this execute() call: a copy when the input buffer is the owner's reused one. */
  private keep(b: Buffer): Buffer {
    return this.borrowed ? Buffer.from(b) : b;
  }

  /** Whether the parser is waiting for resume() after a complete message. */
  get isPaused(): boolean {
    return this.state === enum_.paused;
  }

  /** Whether bytes of a following (pipelined) message are held while paused. */
  get hasHeldData(): boolean {
    return this.held !== undefined || (this.pending !== undefined && this.pending.length > 0);
  }

  get isDead(): boolean {
    return this.state === enum_.dead;
  }

  /** Whether a response body is delimited by the connection closing (then call finish() on EOF). */
  get readsUntilClose(): boolean {
    return this.state === enum_.bodyUntilClose;
  }

  /** Feed bytes from the socket. */
  execute(data: Buffer): void {
    if (this.state === enum_.dead) return;
    if (this.state === enum_.tunnel) {
      this.ev.onBody(data);
      return;
    }
    this.borrowed = this.reusedInput;
    if (this.held !== undefined) {
      // Paused, or an incomplete head: collect without concatenating (a client trickling bytes must not cost O(n²)).
      this.held.push(this.keep(data));
      this.heldBytes += data.length;
      if (this.state === enum_.paused) return;
      if (!this.headMayBeComplete(data)) {
        if (this.heldBytes > this.maxHeaderBytes) this.fail(431, 'http1.headers_too_large');
        return;
      }
      data = Buffer.concat(this.held, this.heldBytes);
      this.held = undefined;
      this.heldBytes = 0;
      this.borrowed = false;
    } else if (this.pending !== undefined) {
      if (this.pending.length > 0) {
        data = Buffer.concat([this.pending, data]);
        this.borrowed = false;
      }
      this.pending = undefined;
    }
    this.run(data, 0);
    this.borrowed = false;
  }

  /** Whether the newest chunk (with the 3 bytes before it) holds an end of head, or a bare LF to reject. */
  private headMayBeComplete(data: Buffer): boolean {
    if (hasBlankLine(data)) return true;
    // The terminator may straddle chunks: look at the last 3 bytes held before this chunk plus its first 3.
    const tail: number[] = [];
    for (let i = this.held!.length - 2; i >= 0 && tail.length < 3; i--) {
      const b = this.held![i]!;
      for (let j = b.length - 1; j >= 0 && tail.length < 3; j--) tail.unshift(b[j]!);
    }
    for (let j = 0; j < data.length && j < 3; j++) tail.push(data[j]!);
    return hasBlankLine(Buffer.from(tail));
  }

  /** Continue after a paused message end, with any bytes held back. */
  resume(): void {
    if (this.state !== enum_.paused) return;
    this.state = enum_.head;
    this.inMessage = false;
    let data = this.pending;
    this.pending = undefined;
    if (this.held !== undefined) {
      data = Buffer.concat(data === undefined ? this.held : [data, ...this.held]);
      this.held = undefined;
      this.heldBytes = 0;
    }
    if (data === undefined || data.length === 0) return;
    // Held and pending bytes are the parser's own. resume() may run inside a callback of execute(): restore after.
    const borrowed = this.borrowed;
    this.borrowed = false;
    this.run(data, 0);
    this.borrowed = borrowed;
  }

  /** After an upgrade or CONNECT: all further bytes are opaque and go to onBody. Returns bytes held back. */
  tunnel(): Buffer | undefined {
    this.state = enum_.tunnel;
    let held = this.pending;
    this.pending = undefined;
    if (this.held !== undefined) {
      held = Buffer.concat(held === undefined ? this.held : [held, ...this.held]);
      this.held = undefined;
      this.heldBytes = 0;
    }
    return held;
  }

  /** The peer closed its side. Ends a close-delimited body; returns false if a message was cut short. */
  finish(): boolean {
    if (this.state === enum_.bodyUntilClose) {
      this.state = enum_.paused;
      this.ev.onEnd(undefined);
      return true;
    }
    return this.state === enum_.paused || (this.state === enum_.head && !this.inMessage && this.held === undefined);
  }

  /** Stop parsing for good (the owner is closing the connection). */
  kill(): void {
    this.state = enum_.dead;
    this.pending = undefined;
    this.held = undefined;
  }

  private fail(status: HeadError['status'], detail: string): void {
    this.state = enum_.dead;
    this.pending = undefined;
    this.held = undefined;
    this.ev.onError({ status, detail });
  }

  private run(data: Buffer, pos: number): void {
    const len = data.length;
    while (pos < len) {
      switch (this.state) {
        case enum_.head: {
          pos = this.readHead(data, pos);
          if (pos < 0) return;
          break;
        }
        case enum_.bodyLength: {
          const take = Math.min(this.remaining, len - pos);
          this.remaining -= take;
          const slice = pos === 0 && take === len ? data : data.subarray(pos, pos + take);
          pos += take;
          this.ev.onBody(slice);
          if (this.remaining === 0) this.endMessage(undefined);
          break;
        }
        case enum_.chunkSize: {
          pos = this.readChunkSize(data, pos);
          if (pos < 0) return;
          break;
        }
        case enum_.chunkData: {
          const take = Math.min(this.remaining, len - pos);
          this.remaining -= take;
          const slice = data.subarray(pos, pos + take);
          pos += take;
          this.ev.onBody(slice);
          if (this.remaining === 0) {
            this.state = enum_.chunkDataEnd;
            this.remaining = 2;
          }
          break;
        }
        case enum_.chunkDataEnd: {
          // Expect exactly CRLF after chunk data.
          const expected = this.remaining === 2 ? CR : LF;
          if (data[pos] !== expected) return this.fail(400, 'http1.invalid_chunk_terminator');
          pos++;
          this.remaining--;
          if (this.remaining === 0) this.state = enum_.chunkSize;
          break;
        }
        case enum_.trailers: {
          pos = this.readTrailers(data, pos);
          if (pos < 0) return;
          break;
        }
        case enum_.bodyUntilClose: {
          this.ev.onBody(pos === 0 ? data : data.subarray(pos));
          return;
        }
        case enum_.paused: {
          const rest = this.keep(pos === 0 ? data : data.subarray(pos));
          this.held = [rest];
          this.heldBytes = rest.length;
          return;
        }
        case enum_.tunnel: {
          this.pending = this.keep(pos === 0 ? data : data.subarray(pos));
          return;
        }
        case enum_.dead:
          return;
      }
    }
  }

  /** Returns the position after the head, or -1 if more data is needed (or the parser failed). */
  private readHead(data: Buffer, pos: number): number {
    // Tolerate empty lines before a request line (RFC 9112 §2.2) only between messages.
    while (pos + 1 < data.length && data[pos] === CR && data[pos + 1] === LF && this.kind === 'request') pos += 2;
    const end = headEnd(data, pos);
    if (end < 0) {
      if (data.length - pos > this.maxHeaderBytes) {
        this.fail(431, 'http1.headers_too_large');
        return -1;
      }
      if (data.indexOf('\n\n', pos, 'latin1') >= 0 || data.indexOf('\n\r\n', pos, 'latin1') >= 0) {
        this.fail(400, 'http1.codec_error');
        return -1;
      }
      const rest = this.keep(pos === 0 ? data : data.subarray(pos));
      this.held = [rest];
      this.heldBytes = rest.length;
      if (pos < data.length) this.inMessage = true;
      return -1;
    }
    if (end - pos > this.maxHeaderBytes) {
      this.fail(431, 'http1.headers_too_large');
      return -1;
    }
    const parsed = parseHead(this.kind, data.toString('latin1', pos, end), this.requestMethod);
    if ('detail' in parsed) {
      this.fail(parsed.status, parsed.detail);
      return -1;
    }
    this.inMessage = true;
    const head = parsed;
    const next = end + 4;
    // Interim (1xx other than 101) responses: deliver the head, stay in head state for the final response.
    if (head.kind === 'response' && head.status >= 100 && head.status < 200 && head.status !== 101) {
      this.ev.onHead(head);
      return this.state === enum_.dead ? -1 : next;
    }
    switch (head.body) {
      case 'none':
        this.ev.onHead(head);
        if (this.state === enum_.head) this.endMessage(undefined);
        break;
      case 'length':
        this.remaining = head.contentLength;
        this.ev.onHead(head);
        if (this.state === enum_.head) {
          if (this.remaining === 0) this.endMessage(undefined);
          else this.state = enum_.bodyLength;
        }
        break;
      case 'chunked':
        this.ev.onHead(head);
        if (this.state === enum_.head) this.state = enum_.chunkSize;
        break;
      case 'close':
        this.ev.onHead(head);
        if (this.state === enum_.head) this.state = enum_.bodyUntilClose;
        break;
    }
    if (this.state === enum_.dead) return -1;
    if (this.state === enum_.tunnel) {
      if (next < data.length) this.ev.onBody(data.subarray(next));
      return -1;
    }
    return next;
  }

  private readChunkSize(data: Buffer, pos: number): number {
    const nl = data.indexOf(LF, pos);
    if (nl < 0) {
      if (data.length - pos > MAX_CHUNK_LINE) {
        this.fail(400, 'http1.invalid_chunk_size');
        return -1;
      }
      this.pending = this.keep(data.subarray(pos));
      return -1;
    }
    if (nl === pos || data[nl - 1] !== CR || nl - pos > MAX_CHUNK_LINE) {
      this.fail(400, 'http1.invalid_chunk_size');
      return -1;
    }
    let size = 0;
    let i = pos;
    let digits = 0;
    for (; i < nl - 1; i++) {
      const c = data[i]!;
      let v: number;
      if (c >= 48 && c <= 57) v = c - 48;
      else if (c >= 97 && c <= 102) v = c - 87;
      else if (c >= 65 && c <= 70) v = c - 55;
      else break;
      size = size * 16 + v;
      digits++;
    }
    // Chunk extensions (`;name=value`) are allowed and ignored; anything else after the size is an error.
    // 13 hex digits keeps the size an exact integer (< 2^53).
    if (digits === 0 || digits > 13 || (i < nl - 1 && data[i] !== 59 /* ; */ && data[i] !== 32 && data[i] !== 9)) {
      this.fail(400, 'http1.invalid_chunk_size');
      return -1;
    }
    const next = nl + 1;
    if (size === 0) {
      this.state = enum_.trailers;
      this.trailerBytes = 0;
      this.trailerList = undefined;
    } else {
      this.remaining = size;
      this.state = enum_.chunkData;
    }
    return next;
  }

  private trailerList: string[] | undefined;

  private readTrailers(data: Buffer, pos: number): number {
    for (;;) {
      const nl = data.indexOf(LF, pos);
      if (nl < 0) {
        this.trailerBytes += data.length - pos;
        if (this.trailerBytes > this.maxHeaderBytes) {
          this.fail(431, 'http1.headers_too_large');
          return -1;
        }
        this.pending = this.keep(data.subarray(pos));
        this.trailerBytes -= data.length - pos; // re-counted when the rest arrives
        return -1;
      }
      if (nl === pos || data[nl - 1] !== CR) {
        this.fail(400, 'http1.codec_error');
        return -1;
      }
      this.trailerBytes += nl + 1 - pos;
      if (this.trailerBytes > this.maxHeaderBytes) {
        this.fail(431, 'http1.headers_too_large');
        return -1;
      }
      if (nl - 1 === pos) {
        const trailers = this.trailerList;
        this.trailerList = undefined;
        this.endMessage(trailers);
        return nl + 1;
      }
      const line = data.toString('latin1', pos, nl - 1);
      const colon = line.indexOf(':');
      const first = line.charCodeAt(0);
      if (colon <= 0 || first === 32 || first === 9 || !isToken(line, 0, colon)) {
        this.fail(400, 'http1.invalid_characters');
        return -1;
      }
      const value = line.slice(colon + 1).trim();
      if (!isFieldValue(value)) {
        this.fail(400, 'http1.invalid_characters');
        return -1;
      }
      (this.trailerList ??= []).push(line.slice(0, colon).toLowerCase(), value);
      pos = nl + 1;
    }
  }

  private endMessage(trailers: string[] | undefined): void {
    this.state = enum_.paused;
    this.ev.onEnd(trailers);
  }
}


/**
 * Where the first CRLFCRLF at or after `from` starts, or -1. Looks at every fourth byte mostly (a byte that is
 * neither CR nor LF cannot be part of the terminator): cheaper than Buffer#indexOf's native call for a short head.
 */
export function headEnd(d: Buffer, from: number): number {
  const n = d.length;
  let j = from + 3;
  while (j < n) {
    const b = d[j]!;
    if (b === 10) {
      if (d[j - 1] === 13 && d[j - 2] === 10 && d[j - 3] === 13) return j - 3;
      j += 2; // this LF can only be the terminator's second byte: its end would be 2 further
    } else if (b === 13) j += 1;
    else j += 4;
  }
  return -1;
}

/** An end of head (CRLFCRLF) or a bare-LF blank line, which the head parser then rejects. */
function hasBlankLine(b: Buffer): boolean {
  return b.indexOf('\r\n\r\n', 0, 'latin1') >= 0 || b.indexOf('\n\n', 0, 'latin1') >= 0 || b.indexOf('\n\r\n', 0, 'latin1') >= 0;
}
