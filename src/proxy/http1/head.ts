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

/**
 * Header names seen on most requests and responses. A name that matches one (case-insensitively) is returned as this
 * constant instead of a new lower-cased string: no allocation per header, and later comparisons of the name (hop-by-hop
 * checks, switches) find an identical string. Only [a-z0-9-] here (the match folds case with `| 0x20`).
 */
const KNOWN_NAMES = [
  'te', 'via', 'host', 'date', 'etag', 'vary', 'server', 'accept', 'cookie', 'origin', 'pragma', 'expires', 'referer',
  'trailer', 'upgrade', 'location', 'connection', 'keep-alive', 'set-cookie', 'tracestate', 'user-agent', 'traceparent',
  'content-type', 'x-request-id', 'x-b3-spanid', 'x-b3-traceid', 'x-b3-sampled', 'accept-ranges', 'authorization',
  'cache-control', 'last-modified', 'content-length', 'accept-encoding', 'accept-language', 'x-forwarded-for',
  'content-encoding', 'proxy-connection', 'x-forwarded-proto', 'transfer-encoding', 'x-b3-parentspanid',
  'x-envoy-attempt-count', 'x-forwarded-client-cert', 'x-envoy-upstream-service-time', 'x-envoy-expected-rq-timeout-ms',
];
const NAMES_BY_LENGTH: string[][] = [];
for (const n of KNOWN_NAMES) (NAMES_BY_LENGTH[n.length] ??= []).push(n);

/** The known name spelled (in any case) by text[from, to), or undefined. `text` holds token characters there. */
function knownName(text: string, from: number, to: number): string | undefined {
  const candidates = NAMES_BY_LENGTH[to - from];
  if (candidates === undefined) return undefined;
  next: for (let k = 0; k < candidates.length; k++) {
    const name = candidates[k]!;
    for (let i = 0; i < name.length; i++) if ((text.charCodeAt(from + i) | 0x20) !== name.charCodeAt(i)) continue next;
    return name;
  }
  return undefined;
}

/** The request methods, returned as constants (no substring per request). */
const METHODS = ['GET', 'PUT', 'HEAD', 'POST', 'PATCH', 'TRACE', 'DELETE', 'CONNECT', 'OPTIONS'];

function method(text: string, end: number): string {
  for (let k = 0; k < METHODS.length; k++) {
    const m = METHODS[k]!;
    if (m.length === end && text.startsWith(m)) return m;
  }
  return text.slice(0, end);
}

/** Lower-cased, without a call when there is nothing to change (values are mostly lower-case already). */
function lower(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return s.toLowerCase();
  }
  return s;
}

export function parseHead(kind: 'request' | 'response', text: string, requestMethod: string): MessageHead | HeadError {
  let firstEnd = text.indexOf('\r\n');
  if (firstEnd < 0) firstEnd = text.length;
  const headers: string[] = [];
  let contentLength = -1;
  let te: string | undefined;
  let connection = '';
  let host: string | undefined;
  let hasUpgrade = false;
  const len = text.length;
  let pos = firstEnd + 2;
  while (pos < len) {
    const c0 = text.charCodeAt(pos);
    if (c0 === 32 || c0 === 9) return bad('http1.codec_error'); // obs-fold (RFC 9112 §5.2): rejected
    // Name: one or more token characters up to the colon (lower-cased only when it has capitals).
    let colon = pos;
    let upper = false;
    for (; colon < len; colon++) {
      const c = text.charCodeAt(colon);
      if (c === 58 /* : */) break;
      if (c > 127 || TOKEN[c] !== 1) return bad('http1.invalid_characters');
      if (c <= 90 && c >= 65) upper = true;
    }
    if (colon === pos || colon === len) return bad('http1.invalid_characters');
    const name = knownName(text, pos, colon) ?? (upper ? text.slice(pos, colon).toLowerCase() : text.slice(pos, colon));
    // Value: visible characters, SP, HTAB and obs-text up to CRLF (or the end); no other controls, no lone CR.
    let eol = colon + 1;
    for (; eol < len; eol++) {
      const c = text.charCodeAt(eol);
      if (c < 32 || c === 127) {
        if (c === 13 && text.charCodeAt(eol + 1) === 10) break;
        if (c !== 9) return bad('http1.invalid_characters');
      }
    }
    let vs = colon + 1;
    let ve = eol;
    while (vs < ve && (text.charCodeAt(vs) === 32 || text.charCodeAt(vs) === 9)) vs++;
    while (ve > vs && (text.charCodeAt(ve - 1) === 32 || text.charCodeAt(ve - 1) === 9)) ve--;
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
        te = te === undefined ? lower(value) : `${te}, ${lower(value)}`;
        break;
      case 'connection':
        connection = connection === '' ? lower(value) : `${connection},${lower(value)}`;
        break;
      case 'host':
        if (host !== undefined) return bad('http1.multiple_host'); // RFC 9112 §3.2: exactly one Host
        host = lower(value);
        break;
      case 'upgrade':
        hasUpgrade = true;
        break;
    }
    pos = eol + 2;
  }

  let versionMinor: number;
  if (kind === 'request') {
    // method SP request-target SP HTTP-version, within text[0, firstEnd)
    const sp1 = text.indexOf(' ');
    const sp2 = text.lastIndexOf(' ', firstEnd - 1);
    if (sp1 <= 0 || sp1 >= firstEnd || sp2 <= sp1 + 1) return bad('http1.codec_error');
    if (!isToken(text, 0, sp1)) return bad('http1.invalid_method');
    const m = method(text, sp1);
    for (let i = sp1 + 1; i < sp2; i++) {
      const c = text.charCodeAt(i);
      if (c <= 32 || c >= 127) return bad('http1.invalid_url');
    }
    const target = text.slice(sp1 + 1, sp2);
    if (firstEnd - sp2 !== 9 || !text.startsWith('HTTP/1.', sp2 + 1)) return bad('http1.codec_error');
    const v = text.charCodeAt(sp2 + 8);
    if (v === 49) versionMinor = 1;
    else if (v === 48) versionMinor = 0;
    else return bad('http1.codec_error');
    if (host === undefined && versionMinor === 1) return bad('missing_host_header');
    const framing = requestFraming(m, contentLength, te, versionMinor);
    if ('detail' in framing) return framing;
    const keepAlive = isKeepAlive(versionMinor, connection);
    return {
      kind: 'request',
      method: m,
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

  // Response: HTTP/1.x SP 3DIGIT SP reason, within text[0, firstEnd)
  if (!text.startsWith('HTTP/1.') || firstEnd < 12 || text.charCodeAt(8) !== 32) return bad('http1.codec_error');
  const v = text.charCodeAt(7);
  if (v !== 48 && v !== 49) return bad('http1.codec_error');
  versionMinor = v - 48;
  const d0 = text.charCodeAt(9) - 48;
  const d1 = text.charCodeAt(10) - 48;
  const d2 = text.charCodeAt(11) - 48;
  if (d0 < 1 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9 || (firstEnd > 12 && text.charCodeAt(12) !== 32)) return bad('http1.codec_error');
  const status = d0 * 100 + d1 * 10 + d2;
  const reason = firstEnd === 15 && status === 200 && text.charCodeAt(13) === 79 && text.charCodeAt(14) === 75 ? 'OK' : firstEnd > 13 ? text.slice(13, firstEnd) : '';
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
  // One element (trimmed when parsed): no split needed.
  if (list.indexOf(',') < 0) return false;
  for (const part of list.split(',')) if (part.trim() === token) return true;
  return false;
}

function isKeepAlive(versionMinor: number, connection: string): boolean {
  if (connection === '') return versionMinor === 1;
  if (hasToken(connection, 'close')) return false;
  return versionMinor === 1 || hasToken(connection, 'keep-alive');
}
