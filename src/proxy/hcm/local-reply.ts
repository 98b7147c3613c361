// Responses the proxy generates itself (no route, no healthy upstream, timeouts, malformed requests), written
// straight to the downstream socket in Envoy's shape: text/plain body, content-length, date, server.
import type * as net from 'node:net';
import { httpDate, statusText } from '../http1/serialize.ts';

/** Write a complete local response. `close` adds `connection: close` (the caller then closes the socket). */
export function writeLocalReply(
  socket: net.Socket,
  status: number,
  body: string | Buffer | undefined,
  close: boolean,
  extraHeaders: string[] | undefined,
  serverName = 'envoy',
  headRequest = false,
): number {
  const payload = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
  const length = payload?.length ?? 0;
  let head = `HTTP/1.1 ${status} ${statusText(status)}\r\n`;
  if (length > 0 || status >= 200) head += `content-length: ${length}\r\n`;
  if (length > 0) head += 'content-type: text/plain\r\n';
  if (extraHeaders) for (let i = 0; i < extraHeaders.length; i += 2) head += `${extraHeaders[i]}: ${extraHeaders[i + 1]}\r\n`;
  head += `date: ${httpDate(Date.now())}\r\nserver: ${serverName}\r\n`;
  if (close) head += 'connection: close\r\n';
  head += '\r\n';
  if (socket.destroyed || !socket.writable) return 0;
  socket.write(head, 'latin1');
  if (payload && length > 0 && !headRequest) socket.write(payload);
  return headRequest ? 0 : length;
}
