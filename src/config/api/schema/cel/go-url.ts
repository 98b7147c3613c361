// Go's url.ParseRequestURI, which Kubernetes' CEL `isURL()`/`url()` use: an absolute URI or an absolute path,
// no fragment. Only the rules that decide validity and the parts the CEL URL accessors return are modelled.

export interface GoUrl {
  /** Lower-cased scheme, '' when absent. */
  scheme: string;
  /** Opaque part of `scheme:opaque` URLs (no `//`). */
  opaque: string;
  /** host[:port], IPv6 literals keep their brackets. */
  host: string;
  path: string;
  rawQuery: string;
}

const CTL = /[\x00-\x1f\x7f]/;
const isAlpha = (c: string): boolean => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const isHex = (c: string | undefined): boolean => c !== undefined && /^[0-9a-fA-F]$/.test(c);
/** Characters a host may carry unescaped (RFC 3986 reg-name/IP-literal plus what Go tolerates). */
const HOST_OK = /^[A-Za-z0-9\-._~!$&'()*+,;=:[\]<>"]$/;
const USERINFO_OK = /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]$/;

function getScheme(raw: string): { scheme: string; rest: string } | string {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charAt(i);
    if (isAlpha(c)) continue;
    if (isDigit(c) || c === '+' || c === '-' || c === '.') {
      if (i === 0) return { scheme: '', rest: raw };
      continue;
    }
    if (c === ':') {
      if (i === 0) return 'missing protocol scheme';
      return { scheme: raw.slice(0, i).toLowerCase(), rest: raw.slice(i + 1) };
    }
    return { scheme: '', rest: raw };
  }
  return { scheme: '', rest: raw };
}

/** Checks %-escapes; in a host, also that every other character may appear unescaped. */
function checkEscapes(s: string, host: boolean): string | undefined {
  for (let i = 0; i < s.length; i++) {
    const c = s.charAt(i);
    if (c === '%') {
      if (!isHex(s[i + 1]) || !isHex(s[i + 2])) return `invalid URL escape ${JSON.stringify(s.slice(i, i + 3))}`;
      if (host && parseInt(s.slice(i + 1, i + 3), 16) < 0x80 && s.slice(i, i + 3) !== '%25') return `invalid URL escape ${JSON.stringify(s.slice(i, i + 3))}`;
      i += 2;
    } else if (host && c.charCodeAt(0) < 0x80 && !HOST_OK.test(c)) {
      return `invalid character ${JSON.stringify(c)} in host name`;
    }
  }
  return undefined;
}

const validOptionalPort = (port: string): boolean => port === '' || (port[0] === ':' && /^[0-9]*$/.test(port.slice(1)));

function parseHost(host: string): string | { host: string } {
  if (host.startsWith('[')) {
    const end = host.lastIndexOf(']');
    if (end < 0) return "missing ']' in host";
    if (!validOptionalPort(host.slice(end + 1))) return `invalid port ${JSON.stringify(host.slice(end + 1))} after host`;
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0 && !validOptionalPort(host.slice(colon))) return `invalid port ${JSON.stringify(host.slice(colon))} after host`;
  }
  const bad = checkEscapes(host, true);
  return bad ?? { host };
}

/** Parse like Go's url.ParseRequestURI; a string result is the reason it is not a URL. */
export function parseRequestUri(raw: string): GoUrl | string {
  if (CTL.test(raw)) return 'invalid control character in URL';
  if (raw === '') return 'empty url';
  const url: GoUrl = { scheme: '', opaque: '', host: '', path: '', rawQuery: '' };
  if (raw === '*') return { ...url, path: '*' };
  const sr = getScheme(raw);
  if (typeof sr === 'string') return sr;
  url.scheme = sr.scheme;
  let rest = sr.rest;
  const q = rest.indexOf('?');
  if (q >= 0) {
    url.rawQuery = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  if (!rest.startsWith('/')) {
    if (url.scheme !== '') return { ...url, opaque: rest };
    return 'invalid URI for request';
  }
  if (url.scheme !== '' && rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    const authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
    rest = slash < 0 ? '' : rest.slice(slash);
    const at = authority.lastIndexOf('@');
    if (at >= 0) {
      const userinfo = authority.slice(0, at);
      for (const c of userinfo) if (!USERINFO_OK.test(c)) return 'invalid userinfo';
      const bad = checkEscapes(userinfo, false);
      if (bad !== undefined) return bad;
    }
    const h = parseHost(authority.slice(at + 1));
    if (typeof h === 'string') return h;
    url.host = h.host;
  }
  const bad = checkEscapes(rest, false);
  if (bad !== undefined) return bad;
  url.path = rest;
  return url;
}

/** host without port and without IPv6 brackets. */
export function hostname(u: GoUrl): string {
  if (u.host.startsWith('[')) {
    const end = u.host.indexOf(']');
    return u.host.slice(1, end);
  }
  const colon = u.host.lastIndexOf(':');
  return colon < 0 ? u.host : u.host.slice(0, colon);
}

/** The port digits after the host, '' when absent. */
export function port(u: GoUrl): string {
  const end = u.host.startsWith('[') ? u.host.indexOf(']') + 1 : 0;
  const colon = u.host.indexOf(':', end);
  return colon < 0 ? '' : u.host.slice(colon + 1);
}
