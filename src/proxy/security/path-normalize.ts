// Request path normalisation, as Istio's meshConfig pathNormalization configures Envoy's HTTP connection manager, so
// that what RBAC matches and what the upstream receives are the same path and a DENY on `/admin` cannot be bypassed
// with `/a/../admin`, `/%61dmin`, `//admin` or `/admin%2F`:
//   NONE                      — the path as sent.
//   BASE                      — RFC 3986 §6.2.2 (Envoy normalize_path): percent-encoded unreserved characters decoded,
//                               other escapes upper-cased, `\` → `/`, dot segments (also `%2E`) removed.
//   MERGE_SLASHES             — BASE, then runs of `/` merged into one.
//   DECODE_AND_MERGE_SLASHES  — `%2F`/`%5C` (any case) decoded first (Envoy UNESCAPE_AND_FORWARD), then MERGE_SLASHES.
// Only the path is normalised; the query is kept as sent. Never throws; normalising twice changes nothing.

/** Istio's MeshConfig.ProxyPathNormalization.NormalizationType. */
export type PathNormalization = 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';

const HEX = '0123456789ABCDEF';

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function unreserved(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 95 || c === 126;
}

/** Decode unreserved escapes (and `%2F`/`%5C` when asked), upper-case the rest, escape bytes outside visible ASCII. */
function canonicalEscapes(path: string, decodeSlashes: boolean): string {
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 37 /* % */) {
      const h = i + 2 < path.length ? hexVal(path.charCodeAt(i + 1)) : -1;
      const l = i + 2 < path.length ? hexVal(path.charCodeAt(i + 2)) : -1;
      if (h >= 0 && l >= 0) {
        const b = h * 16 + l;
        i += 2;
        if (unreserved(b)) out += String.fromCharCode(b);
        else if (decodeSlashes && (b === 47 || b === 92)) out += '/'; // %5C decodes to `\`, which BASE turns into `/`
        else out += `%${HEX[h]}${HEX[l]}`;
      } else out += '%25'; // a stray `%` is escaped, so it can never start an escape later
      continue;
    }
    if (c === 92 /* \ */) out += '/';
    else if (c <= 0x20 || c >= 0x7f || c === 35 /* # */) out += encodeChar(c);
    else out += path[i];
  }
  return out;
}

function encodeChar(c: number): string {
  if (c <= 0xff) return `%${HEX[c >> 4]}${HEX[c & 15]}`;
  return [...Buffer.from(String.fromCharCode(c), 'utf8')].map((b) => `%${HEX[b >> 4]}${HEX[b & 15]}`).join('');
}

/** RFC 3986 §5.2.4 remove_dot_segments on an absolute path. */
function removeDotSegments(path: string): string {
  const segments = path.split('/');
  const out: string[] = [];
  // segments[0] is '' (the path starts with '/'); a final '.' or '..' leaves a trailing slash, as the RFC says.
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    const last = i === segments.length - 1;
    if (s === '.') {
      if (last) out.push('');
    } else if (s === '..') {
      out.pop();
      if (last) out.push('');
    } else out.push(s);
  }
  return `/${out.join('/')}`;
}

/** Paths made only of these characters, with no `/.` and (when merging) no `//`, are already normal. */
const PLAIN_PATH = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;

/** Normalise the path part of a request target (`/a/../b?x=1` → `/b?x=1` under BASE). */
export function normalizePath(target: string, mode: PathNormalization): string {
  if (mode === 'NONE') return target;
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q);
  const first = path.charCodeAt(0);
  if (first !== 47 /* / */ && first !== 92 /* \\ */) return target; // `*` (OPTIONS) and other non-path targets are left alone
  if (PLAIN_PATH.test(path) && !path.includes('/.') && (mode === 'BASE' || !path.includes('//'))) return target;
  let p = removeDotSegments(canonicalEscapes(path, mode === 'DECODE_AND_MERGE_SLASHES'));
  if (mode !== 'BASE') p = p.replace(/\/{2,}/g, '/');
  return p + query;
}

/** The mode an HTTP connection manager config asks for (normalize_path, merge_slashes, path_with_escaped_slashes_action). */
export function normalizationOfHcm(hcm: Readonly<Record<string, unknown>>): PathNormalization {
  const flag = (v: unknown): boolean => v === true || (typeof v === 'object' && v !== null && (v as { value?: unknown }).value === true);
  const decode = hcm['path_with_escaped_slashes_action'] === 'UNESCAPE_AND_FORWARD' || hcm['path_with_escaped_slashes_action'] === 'UNESCAPE_AND_REDIRECT';
  if (decode) return 'DECODE_AND_MERGE_SLASHES';
  if (flag(hcm['merge_slashes'])) return 'MERGE_SLASHES';
  if (flag(hcm['normalize_path'])) return 'BASE';
  return 'NONE';
}
