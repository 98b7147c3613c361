// The destination an application dialled before the capture rules redirected its connection to the proxy:
// SO_ORIGINAL_DST (IPv4, also for IPv4 peers of a dual-stack listener) or IP6T_SO_ORIGINAL_DST (IPv6), read from
// the accepted socket's conntrack entry. This is how the outbound listener (15001) knows where a call was going.

import type { Socket } from 'node:net';
import { WeftError } from '../../core/errors.ts';
import { requireAddon } from './addon.ts';

/** The original destination of a redirected connection. */
export interface OriginalDestination {
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/**
 * The original destination of an accepted TCP connection, or undefined when the connection was not redirected
 * (it reached the listener directly: conntrack has no entry, or its original destination is the listener itself).
 * Throws WEFT_ERR_UNAVAILABLE when the native addon is not built, WEFT_ERR_IO when the socket has no file
 * descriptor (closed, or not a TCP socket).
 */
export function originalDestination(socket: Socket): OriginalDestination | undefined {
  const addon = requireAddon();
  const fd = socketFd(socket);
  if (fd === undefined) {
    throw new WeftError('WEFT_ERR_IO', 'originalDestination: the socket has no file descriptor (closed, or not a TCP socket)');
  }
  try {
    const dst = addon.originalDst(fd);
    return dst.port === socket.localPort && sameAddress(dst.address, socket.localAddress) ? undefined : dst;
  } catch (e) {
    // ENOENT: conntrack has no NAT entry for this connection, i.e. it was not redirected.
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw new WeftError('WEFT_ERR_IO', `originalDestination: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** Equal addresses, an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) being equal to its IPv4 address. */
function sameAddress(a: string, b: string | undefined): boolean {
  const plain = (x: string): string => x.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  return b !== undefined && plain(a) === plain(b);
}

/** The fd of a net.Socket's libuv TCP handle (Node exposes it as `_handle.fd` on Unix). */
function socketFd(socket: Socket): number | undefined {
  const handle: unknown = (socket as unknown as { _handle?: unknown })._handle;
  if (typeof handle !== 'object' || handle === null) return undefined;
  const fd: unknown = (handle as { fd?: unknown }).fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

function errnoCode(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const code: unknown = (e as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}
