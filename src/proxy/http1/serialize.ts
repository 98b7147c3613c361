// Serialising HTTP/1.1 heads and chunk framing. Heads are built as one latin1 string and written with the
// first body bytes in a single corked write; header names are sent lower-case as Envoy does by default.

export const STATUS_TEXT: Record<number, string> = {
  100: 'Continue', 101: 'Switching Protocols', 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content',
  206: 'Partial Content', 301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified',
  307: 'Temporary Redirect', 308: 'Permanent Redirect', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden',
  404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout', 413: 'Payload Too Large',
  426: 'Upgrade Required', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large', 500: 'Internal Server Error',
  501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? 'Unknown';
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) a proxy never forwards as they are; framing is re-derived. */
export function isHopByHop(name: string): boolean {
  switch (name) {
    case 'connection':
    case 'keep-alive':
    case 'proxy-connection':
    case 'transfer-encoding':
    case 'upgrade':
    case 'te':
    case 'trailer':
    case 'proxy-authorization':
      return true;
    default:
      return false;
  }
}

export function chunkHeader(length: number): string {
  return `${length.toString(16)}\r\n`;
}

export const CHUNK_END = '0\r\n\r\n';

export function lastChunk(trailers: string[] | undefined): string {
  if (!trailers || trailers.length === 0) return CHUNK_END;
  let s = '0\r\n';
  for (let i = 0; i < trailers.length; i += 2) s += `${trailers[i]}: ${trailers[i + 1]}\r\n`;
  return s + '\r\n';
}

let cachedDate = '';
let cachedAt = 0;

/** The Date header value, cached for a second (RFC 9110 IMF-fixdate). */
export function httpDate(nowMs: number): string {
  if (nowMs - cachedAt >= 1000 || cachedDate === '') {
    cachedAt = nowMs - (nowMs % 1000);
    cachedDate = new Date(cachedAt).toUTCString();
  }
  return cachedDate;
}
