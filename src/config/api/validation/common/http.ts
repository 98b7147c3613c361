// HTTP-level value rules from Istio's webhook: header names (RFC 7230 tokens, pseudo-headers where allowed),
// header values with Envoy's `%VARIABLE%` formatter syntax, methods, and paths.
import type { Reporter } from '../report.ts';

const TOKEN = /^[!#$%&'*+\-.^_`|~A-Za-z0-9]+$/;
/** Control characters other than horizontal tab are not allowed in header values. */
const HEADER_VALUE = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;

const PSEUDO_HEADERS: ReadonlySet<string> = new Set([':method', ':scheme', ':authority', ':path', ':status']);

const q = (s: string): string => JSON.stringify(s);

/** An RFC 7230 token (header names, methods). */
export const isHttpToken = (s: string): boolean => TOKEN.test(s);

/** `@request.auth.claims.NAME` or `@request.auth.claims[NAME][SUB]`: JWT claim routing, gateways only. */
export const isJwtClaimRoute = (name: string): boolean => /^@request\.auth\.claims(?:\.[^.[\]]+|(?:\[[^\]]+\])+)$/.test(name);

/** Header names in match conditions: a token, a pseudo-header, or a JWT claim route. */
export function validateMatchHeaderName(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (isJwtClaimRoute(name) || PSEUDO_HEADERS.has(name) || isHttpToken(name)) return undefined;
  return `header name ${q(name)} is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_\`|~ only)`;
}

/** Header names that are set or added on requests: anything non-empty except pseudo-headers other than `:authority`. */
export function validateSetHeaderName(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (name.startsWith(':') && name.toLowerCase() !== ':authority') return `invalid header ${q(name)}: header names cannot start with ":"`;
  return undefined;
}

/** Header names removed from requests, or changed on responses: not Host, not pseudo-headers. */
export function validateHeaderOperationName(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (name.toLowerCase() === 'host') return `invalid header ${q(name)}: the Host header cannot be changed this way (use rewrite.authority)`;
  if (name.startsWith(':')) return `invalid header ${q(name)}: header names cannot start with ":"`;
  return undefined;
}

/** Header names in CORS lists: a token, or `*`. */
export function validateCorsHeaderName(name: string): string | undefined {
  if (name === '') return 'header name cannot be empty';
  if (name === '*' || isHttpToken(name)) return undefined;
  return `header name ${q(name)} is not a valid HTTP header name`;
}

/**
 * A header value as Envoy's custom-header formatter reads it: no control characters, `%` only as `%%` or around a
 * variable (`%HOSTNAME%`, `%REQ(x-id)%`, `%ENVIRONMENT(["A","B"])%`).
 */
export function validateHeaderValue(value: string): string | undefined {
  if (!HEADER_VALUE.test(value)) return `header value ${q(value)} contains control characters`;
  type State = 'literal' | 'name' | 'expectArray' | 'expectString' | 'string' | 'delimOrEnd' | 'argsEnd' | 'varEnd';
  let state: State = 'literal';
  const bad = (why: string): string => `header value ${q(value)} is not a valid Envoy header format: ${why} (write a literal % as %%)`;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    const space = c === ' ' || c === '\t';
    switch (state) {
      case 'literal':
        if (c !== '%') break;
        if (i + 1 >= value.length) return bad('unescaped % at the end');
        if (value[i + 1] === '%') i++;
        else state = 'name';
        break;
      case 'name':
        if (c === '%') state = 'literal';
        else if (c === '(') state = 'expectArray';
        break;
      case 'expectArray':
        if (c === '[') state = 'expectString';
        else if (!space) state = 'string';
        break;
      case 'delimOrEnd':
        if (c === ',') state = 'expectString';
        else if (c === ']') state = 'argsEnd';
        else if (!space) return bad("expected ',' or ']'");
        break;
      case 'expectString':
        if (c === '"') state = 'string';
        else if (!space) return bad('expected \'"\'');
        break;
      case 'string':
        if (c === '\\') {
          if (i + 1 >= value.length) return bad('unterminated backslash');
          i++;
        } else if (c === ')') state = 'varEnd';
        else if (c === '"') state = 'delimOrEnd';
        break;
      case 'argsEnd':
        if (c === ')') state = 'varEnd';
        else if (!space) return bad("expected ')'");
        break;
      case 'varEnd':
        if (c === '%') state = 'literal';
        else if (!space) return bad("expected '%' to close the variable");
        break;
    }
  }
  return state === 'literal' ? undefined : bad('unterminated variable expression');
}

/** Report a header-name problem found by one of the validate*HeaderName functions. */
export function checkWith(r: Reporter, msg: string | undefined): boolean {
  if (msg !== undefined) r.error(msg);
  return msg === undefined;
}

/** Methods Istio accepts in CORS allowMethods (Go's net/http method names, and `*`). */
export const CORS_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', '*']);

/**
 * Istio's exportTo rules: entries are `.` (this namespace), `*` (every namespace) or a namespace name, without
 * duplicates (`.` and the own namespace count as the same); `*` stands alone; `~` (export to no one) only on
 * ServiceEntry and only alone. A DestinationRule with a workloadSelector may export only to its own namespace.
 */
export function checkExportTo(
  r: Reporter,
  namespace: string,
  exportTo: unknown,
  opts: { serviceEntry?: boolean; destinationRuleWithSelector?: boolean } = {},
): void {
  if (!Array.isArray(exportTo) || exportTo.length === 0) return;
  const set = new Set<string>();
  exportTo.forEach((raw, i) => {
    const er = r.at(i);
    if (typeof raw !== 'string') {
      er.error('exportTo entries must be strings');
      return;
    }
    const key = raw === '.' ? namespace : raw;
    if (set.has(key)) {
      er.error(key !== raw ? `duplicate exportTo entry: "." and the current namespace ${q(namespace)} are the same` : `duplicate exportTo entry ${q(raw)}`);
      return;
    }
    if (raw === '~' && opts.serviceEntry !== true) {
      er.error('exportTo "~" (export to no one) is only allowed on ServiceEntry');
      return;
    }
    if (raw !== '~' && raw !== '*' && raw !== '.' && !/^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/.test(raw)) {
      er.error(`exportTo entry ${q(raw)} is not valid: use ".", "*" or a namespace name`);
      return;
    }
    set.add(key);
  });
  if (opts.destinationRuleWithSelector === true && set.size > 0) {
    if (!set.has(namespace)) r.error('a DestinationRule with a workloadSelector cannot be exported beyond its own namespace: use exportTo ["."]');
    else if (set.size > 1) r.error('a DestinationRule with a workloadSelector cannot have more than one exportTo entry: use exportTo ["."]');
  }
  if (set.has('*') && exportTo.length > 1) r.error('exportTo "*" cannot be combined with other entries: "*" already exports to every namespace');
  if (set.has('~') && exportTo.length > 1) r.error('exportTo "~" (export to no one) cannot be combined with other entries');
}
