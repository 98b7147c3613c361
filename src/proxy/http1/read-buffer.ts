// Reading a socket into one reused buffer instead of a new Buffer (and a Readable push) per read. Client sockets get
// this from net.connect's public `onread` option. Sockets that a net.Server accepted have no public way to ask for
// it, so readIntoBuffer() makes the same switch through the private parts behind that option: the two symbol-keyed
// slots Node reads on every read (found by building a socket with `onread` and checking where its values landed)
// and the handle's useUserBuffer(). Every assumption is checked first; when one fails nothing changes and the socket
// keeps emitting 'data' (the public path). Tests run both paths (test/proxy/read-buffer.test.ts).
import * as net from 'node:net';
import * as tls from 'node:tls';

interface OnreadSlots {
  buffer: symbol;
  callback: symbol;
}

function findSlots(): OnreadSlots | undefined {
  try {
    const buffer = Buffer.alloc(1);
    const callback = (): boolean => true;
    const probe = new net.Socket({ onread: { buffer, callback } });
    const record = probe as unknown as Record<symbol, unknown>;
    let b: symbol | undefined;
    let c: symbol | undefined;
    for (const s of Object.getOwnPropertySymbols(probe)) {
      if (record[s] === buffer) b = s;
      else if (record[s] === callback) c = s;
    }
    probe.destroy();
    return b !== undefined && c !== undefined ? { buffer: b, callback: c } : undefined;
  } catch {
    return undefined;
  }
}

const slots = findSlots();
let allowed = true;

/** Whether accepted sockets can be switched on this Node.js (for tests and diagnostics). */
export function acceptedSocketReuseAvailable(): boolean {
  return slots !== undefined;
}

/** Tests: false keeps every accepted socket on the public 'data' path. */
export function setAcceptedSocketReuse(on: boolean): void {
  allowed = on;
}

interface UserBufferHandle {
  useUserBuffer?: unknown;
}

/**
 * Switch a TCP socket that a net.Server accepted, or a TLSSocket over one (decrypted bytes), to read into `buffer`
 * and call `onRead(bytes)` instead of emitting 'data' ('end', 'error', 'close', pause() and resume() behave as
 * before). The bytes are valid only during the call. Returns false, changing nothing, when the socket is neither a
 * plain net.Socket nor a tls.TLSSocket or Node's internals are not as expected.
 */
export function readIntoBuffer(socket: net.Socket, buffer: Buffer, onRead: (bytes: number) => boolean): boolean {
  const proto: unknown = Object.getPrototypeOf(socket);
  if (!allowed || slots === undefined || (proto !== net.Socket.prototype && proto !== tls.TLSSocket.prototype) || socket.destroyed) return false;
  const record = socket as unknown as Record<symbol, unknown>;
  // A socket built without `onread` holds null in both slots; anything else is not the layout found above.
  if (record[slots.buffer] !== null || record[slots.callback] !== null) return false;
  const handle = (socket as unknown as { _handle?: UserBufferHandle | null })._handle;
  if (handle === undefined || handle === null || typeof handle.useUserBuffer !== 'function') return false;
  try {
    (handle.useUserBuffer as (b: Uint8Array) => void).call(handle, buffer);
  } catch {
    return false;
  }
  record[slots.buffer] = buffer;
  record[slots.callback] = onRead;
  return true;
}
