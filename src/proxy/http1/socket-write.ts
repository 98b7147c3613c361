// Writing to a plain TCP socket's handle directly instead of through net.Socket's Writable: the same native call
// (which tries the write at once and queues in libuv what the kernel does not take), without Writable's per-write
// bookkeeping, a WriteWrap per write and a process.nextTick per write batch — about a fifth of the user-space
// instructions of a proxied request went there (bench/proxy/RESULTS.md, "Hot path, session 3").
//
// The handle is reached through process.binding('stream_wrap'), Node's own request object and result slots for
// stream writes. Every assumption is checked once at load and per socket; when one fails, or when the socket is not
// idle (connecting, corked, bytes queued in Writable or in libuv), the write goes through socket.write() unchanged.
// Byte order is safe either way: libuv keeps one queue per handle, and end() shuts down only after it drains.
// A direct write the kernel does not take whole is finished by libuv; it returns false and 'drain' is emitted on
// the socket when it completes, so callers pause and resume as with write(). Only an idle handle is written
// directly, so at most one such write per socket is in flight; writes made meanwhile go through Writable.
import * as net from 'node:net';
import { getSystemErrorName } from 'node:util';

interface WriteReq {
  oncomplete: ((this: WriteReq, status: number) => void) | undefined;
  /** Keeps the written bytes alive while libuv still points into them. */
  buffer: unknown;
  socket: net.Socket | undefined;
}

interface StreamWrapBinding {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

interface StreamHandle {
  writeBuffer(req: WriteReq, data: Uint8Array): number;
  writeLatin1String(req: WriteReq, data: string): number;
  readonly writeQueueSize: number;
}

function loadBinding(): StreamWrapBinding | undefined {
  try {
    const p = process as unknown as { binding?: (name: string) => unknown };
    if (typeof p.binding !== 'function') return undefined;
    const b = p.binding('stream_wrap') as Partial<StreamWrapBinding> | undefined;
    if (b === undefined || typeof b.WriteWrap !== 'function' || !(b.streamBaseState instanceof Int32Array)) return undefined;
    if (typeof b.kLastWriteWasAsync !== 'number' || b.kLastWriteWasAsync < 0 || b.kLastWriteWasAsync >= b.streamBaseState.length) return undefined;
    return b as StreamWrapBinding;
  } catch {
    return undefined;
  }
}

const binding = loadBinding();
let allowed = true;
/** The request object passed with every write that completes at once (the native side does not keep it then). */
let idleReq: WriteReq | undefined = binding ? new binding.WriteWrap() : undefined;

/** Whether direct writes are available on this Node.js (for tests and diagnostics). */
export function directWriteAvailable(): boolean {
  return binding !== undefined;
}

/** Tests: false sends every write through socket.write(). */
export function setDirectWrite(on: boolean): void {
  allowed = on;
}

function onAsyncWriteDone(this: WriteReq, status: number): void {
  inFlight--;
  const socket = this.socket;
  this.socket = undefined;
  this.buffer = undefined;
  if (socket === undefined || socket.destroyed) return;
  if (status < 0) {
    const e = new Error(`write ${getSystemErrorName(status)}`) as NodeJS.ErrnoException;
    e.code = getSystemErrorName(status);
    e.errno = status;
    e.syscall = 'write';
    socket.destroy(e);
    return;
  }
  // Writes issued meanwhile went through Writable (the handle was busy), which applies its own backpressure to them.
  socket.emit('drain');
}

/** What writeSocket() takes: a net.Socket, or another stream with write() (an HTTP/2 upstream link). */
export interface WriteTarget {
  write(data: string | Uint8Array, encoding?: BufferEncoding): boolean;
}

const isPlainSocket = (s: WriteTarget): s is net.Socket => Object.getPrototypeOf(s) === net.Socket.prototype;

interface PlainSocketInternals {
  _handle: StreamHandle | null;
  _writableState: { length: number; readonly ending: boolean } | undefined;
}

/** Direct writes that libuv is still finishing (while there are any, the handle's own queue is checked too). */
let inFlight = 0;

/**
 * The handle of an idle plain TCP socket, or undefined when this write must go through socket.write(). Idle: not
 * connecting, not destroyed (no handle), not ended, nothing queued in Writable (a corked socket with nothing queued
 * is idle: writing now keeps the byte order) and nothing of an earlier direct write left in libuv.
 */
function idleHandle(socket: net.Socket): StreamHandle | undefined {
  const internals = socket as unknown as PlainSocketInternals;
  const state = internals._writableState;
  if (socket.connecting || state === undefined || state.length !== 0 || state.ending) return undefined;
  const handle = internals._handle;
  if (handle === null || handle === undefined || typeof handle.writeLatin1String !== 'function' || (inFlight > 0 && handle.writeQueueSize !== 0)) return undefined;
  return handle;
}

/**
 * Write `data` (a Buffer, or a string sent as latin1) as socket.write() would, directly to the handle when the
 * socket is idle. Returns false when the caller should wait for 'drain'. After an asynchronous write the caller
 * must not modify a written Buffer (as with socket.write()).
 */
export function writeSocket(target: WriteTarget, data: Buffer | string): boolean {
  const req = idleReq;
  if (!allowed || req === undefined || binding === undefined || !isPlainSocket(target)) return typeof data === 'string' ? target.write(data, 'latin1') : target.write(data);
  const socket = target;
  const handle = idleHandle(socket);
  if (handle === undefined) return typeof data === 'string' ? socket.write(data, 'latin1') : socket.write(data);
  const err = typeof data === 'string' ? handle.writeLatin1String(req, data) : handle.writeBuffer(req, data);
  if (err !== 0) {
    // As Writable does with a failed write: the socket is destroyed with the error ('error', then 'close').
    // The request object may carry the error now: the next write gets a fresh one.
    idleReq = new binding.WriteWrap();
    const e = new Error(`write ${getSystemErrorName(err)}`) as NodeJS.ErrnoException;
    e.code = getSystemErrorName(err);
    e.errno = err;
    e.syscall = 'write';
    socket.destroy(e);
    return false;
  }
  if (binding.streamBaseState[binding.kLastWriteWasAsync] === 0) return true;
  // libuv holds the rest: this request object now belongs to that write until it completes.
  req.oncomplete = onAsyncWriteDone;
  req.buffer = data;
  req.socket = socket;
  inFlight++;
  idleReq = new binding.WriteWrap();
  return false;
}
