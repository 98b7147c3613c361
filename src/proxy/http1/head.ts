// Parsing of one HTTP/1.1 message head (start line + header fields, without the final CRLFCRLF) and the
// framing rules of RFC 9112 §6, applied as strictly as Envoy applies them: Content-Length together with
// Transfer-Encoding, obsolete line folding, bad names or values all reject the message.
import { TOKEN, isToken } from './chars.ts';

export interface HeadError {
  /** The status the proxy answers with before closing: 400 malformed, 431 too large, 501 unsupported coding. */
  status: 400 | 431 | 501;
  /** Envoy-style response code details, e.g. `http1.codec_error`. */
  detail: string;
}

/** How the body of a message is delimited. */
export type BodyFraming = 'none' | 'length' | 'chunked' | 'close';

interface HeadCommon {
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  versionMinor: number;
  /** Flat list: name (lower-case), value, name, value … in arrival order. */
  headers: string[];
  body: BodyFraming;
  /** Valid when body is 'length'. */
  contentLength: number;
  /** Whether the connection may carry another message after this one. */
  keepAlive: boolean;
  /** Connection: upgrade with an Upgrade header (WebSocket and friends). */
  upgrade: boolean;
}

export interface RequestHead extends HeadCommon {
  kind: 'request';
  method: string;
  /** The request target as sent: origin-form (`/a?b`), absolute-form (`http://h/a`), authority-form (CONNECT) or `*`. */
  target: string;
  /** The Host header value, lower-cased ('' when absent, only allowed for HTTP/1.0). */
  host: string;
}

export interface ResponseHead extends HeadCommon {
  kind: 'response';
  status: number;
  reason: string;
}

export type MessageHead = RequestHead | ResponseHead;

const bad = (detail: string): HeadError => ({ status: 400, detail });

export function parseHead(kind: 'request' | 'response', text: string, requestMethod: string): MessageHead | HeadError {
  const firstEnd = text.indexOf('\r\n');
  const startLine = firstEnd < 0 ? text : text.slice(0, firstEnd);
  const headers: string[] = [];
  let contentLength = -1;
  let te: string | undefined;
  let connection = '';
  let host: string | undefined;
  let hasUpgrade = false;
  const len = text.length;
  let pos = firstEnd < 0 ? len : firstEnd + 2;
  while (pos < len) {
    let eol = text.indexOf('\r\n', pos);
    if (eol < 0) eol = len;
    const c0 = text.charCodeAt(pos);
    if (c0 === 32 || c0 === 9) return bad('http1.codec_error'); // obs-fold (RFC 9112 §5.2): rejected
    // Name: one or more token characters up to the colon (lower-cased only when it has capitals).
    let colon = pos;
    let upper = false;
    for (; colon < eol; colon++) {
      const c = text.charCodeAt(colon);
      if (c === 58 /* : */) break;
      if (c > 127 || TOKEN[c] !== 1) return bad('http1.invalid_characters');
      if (c <= 90 && c >= 65) upper = true;
    }
    if (colon === pos || colon === eol) return bad('http1.invalid_characters');
    const name = upper ? text.slice(pos, colon).toLowerCase() : text.slice(pos, colon);
    let vs = colon + 1;
    let ve = eol;
    while (vs < ve && (text.charCodeAt(vs) === 32 || text.charCodeAt(vs) === 9)) vs++;
    while (ve > vs && (text.charCodeAt(ve - 1) === 32 || text.charCodeAt(ve - 1) === 9)) ve--;
    // Value: visible characters, SP, HTAB and obs-text; no CR, LF, NUL or other controls.
    for (let i = vs; i < ve; i++) {
      const c = text.charCodeAt(i);
      if ((c < 32 && c !== 9) || c === 127) return bad('http1.invalid_characters');
    }
    const value = text.slice(vs, ve);
    headers.push(name, value);
    switch (name) {
      case 'content-length': {
        const n = decimal(value);
        if (n < 0) return bad('http1.content_length_not_allowed');
        if (contentLength >= 0 && contentLength !== n) return bad('http1.content_length_not_allowed');
        contentLength = n;
        break;
      }
      case 'transfer-encoding':
        te = te === undefined ? value.toLowerCase() : `${te}, ${value.toLowerCase()}`;
        break;
      case 'connection':
        connection = connection === '' ? value.toLowerCase() : `${connection},${value.toLowerCase()}`;
        break;
      case 'host':
        if (host !== undefined) return bad('http1.multiple_host'); // RFC 9112 §3.2: exactly one Host
        host = value.toLowerCase();
        break;
      case 'upgrade':
        hasUpgrade = true;
        break;
    }
    pos = eol + 2;
  }

  let versionMinor: number;
  if (kind === 'request') {
    const sp1 = startLine.indexOf(' ');
    const sp2 = startLine.lastIndexOf(' ');
    if (sp1 <= 0 || sp2 <= sp1 + 1) return bad('http1.codec_error');
    const method = startLine.slice(0, sp1);
    const target = startLine.slice(sp1 + 1, sp2);
    const version = startLine.slice(sp2 + 1);
    if (!isToken(method, 0, method.length)) return bad('http1.invalid_method');
    for (let i = 0; i < target.length; i++) {
      const c = target.charCodeAt(i);
      if (c <= 32 || c >= 127) return bad('http1.invalid_url');
    }
    if (version === 'HTTP/1.1') versionMinor = 1;
    else if (version === 'HTTP/1.0') versionMinor = 0;
    else return bad('http1.codec_error');
    if (host === undefined && versionMinor === 1) return bad('missing_host_header');
    const framing = requestFraming(method, contentLength, te, versionMinor);
    if ('detail' in framing) return framing;
    const keepAlive = isKeepAlive(versionMinor, connection);
    return {
      kind: 'request',
      method,
      target,
      host: host ?? '',
      versionMinor,
      headers,
      body: framing.body,
      contentLength: framing.body === 'length' ? contentLength : 0,
      keepAlive,
      upgrade: hasUpgrade && hasToken(connection, 'upgrade'),
    };
  }

  // Response: HTTP/1.x SP 3DIGIT SP reason
  if (!startLine.startsWith('HTTP/1.') || startLine.length < 12 || startLine.charCodeAt(8) !== 32) return bad('http1.codec_error');
  const v = startLine.charCodeAt(7);
  if (v !== 48 && v !== 49) return bad('http1.codec_error');
  versionMinor = v - 48;
  const d0 = startLine.charCodeAt(9) - 48;
  const d1 = startLine.charCodeAt(10) - 48;
  const d2 = startLine.charCodeAt(11) - 48;
  if (d0 < 1 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9 || (startLine.length > 12 && startLine.charCodeAt(12) !== 32)) return bad('http1.codec_error');
  const status = d0 * 100 + d1 * 10 + d2;
  const reason = startLine.slice(13);
  let body: BodyFraming;
  if (requestMethod === 'HEAD' || status < 200 || status === 204 || status === 304) body = 'none';
  else if (requestMethod === 'CONNECT' && status < 300) body = 'none';
  else if (te !== undefined) {
    if (contentLength >= 0) return bad('http1.content_length_and_chunked_not_allowed');
    if (!isChunkedFinal(te)) body = 'close';
    else body = 'chunked';
  } else if (contentLength >= 0) body = 'length';
  else body = 'close';
  const keepAlive = body !== 'close' && isKeepAlive(versionMinor, connection);
  return {
    kind: 'response',
    status,
    reason,
    versionMinor,
    headers,
    body,
    contentLength: body === 'length' ? contentLength : 0,
    keepAlive,
    upgrade: status === 101,
  };
}

/** 1 to 15 ASCII digits as a number, else -1 (a Content-Length value). */
function decimal(s: string): number {
  const n = s.length;
  if (n === 0 || n > 15) return -1;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

function requestFraming(method: string, contentLength: number, te: string | undefined, versionMinor: number): { body: BodyFraming } | HeadError {
  if (te !== undefined) {
    // Envoy rejects a request with both (request smuggling); allow_chunked_length is off by default.
    if (contentLength >= 0) return bad('http1.content_length_and_chunked_not_allowed');
    if (versionMinor === 0) return bad('http1.invalid_transfer_encoding');
    if (te !== 'chunked') {
      // Anything but exactly `chunked` is not a coding the proxy forwards (RFC 9112 §6.1: 501).
      return isChunkedFinal(te) ? { status: 501, detail: 'http1.invalid_transfer_encoding' } : bad('http1.invalid_transfer_encoding');
    }
    return { body: 'chunked' };
  }
  if (contentLength > 0) return { body: 'length' };
  if (method === 'CONNECT') return { body: 'none' };
  return { body: 'none' };
}

function isChunkedFinal(te: string): boolean {
  const last = te.lastIndexOf(',');
  return (last < 0 ? te : te.slice(last + 1)).trim() === 'chunked';
}

function hasToken(list: string, token: string): boolean {
  if (list === token) return true;
  for (const part of list.split(',')) if (part.trim() === token) return true;
  return false;
}

function isKeepAlive(versionMinor: number, connection: string): boolean {
  if (connection === '') return versionMinor === 1;
  if (hasToken(connection, 'close')) return false;
  return versionMinor === 1 || hasToken(connection, 'keep-alive');
}
