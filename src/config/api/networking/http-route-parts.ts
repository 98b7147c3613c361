// The parts of an HTTP route that answer or reshape a request: fault injection, redirect, direct response, rewrite
// and CORS, checked with Istio's webhook rules. Used by the VirtualService validator.
import type { Reporter } from '../validation/report.ts';
import { checkDuration, NS_PER_S } from '../validation/common/duration.ts';
import { checkRegex } from '../validation/common/regex.ts';
import { checkPort } from '../validation/common/net.ts';
import { checkHttpStatus, checkPercentage } from '../validation/common/percent.ts';
import { CORS_METHODS, validateCorsHeaderName } from '../validation/common/http.ts';
import { arr, isSet, num, obj, q, str, type Obj } from './util.ts';

/** gRPC status names Istio accepts in fault.abort.grpcStatus. */
export const GRPC_STATUS_NAMES: ReadonlySet<string> = new Set([
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE',
  'DATA_LOSS', 'UNAUTHENTICATED',
]);

const KB = 1024;
const MB = 1024 * KB;

/** corsPolicy: non-empty origins (RE2 regexes), known methods, header names, maxAge ≥ 1ms in whole seconds. */
export function checkCors(r: Reporter, c: Obj | undefined): void {
  if (c === undefined) return;
  arr(c.allowOrigins).forEach((o, i) => {
    const or = r.at('allowOrigins').at(i);
    const so = obj(o) ?? {};
    const value = str(so.exact ?? so.prefix ?? so.regex);
    if (value === '') return or.error('allowOrigins entries need a non-empty exact, prefix or regex value');
    if (typeof so.regex === 'string') checkRegex(or.at('regex'), so.regex);
  });
  arr(c.allowMethods).forEach((m, i) => {
    if (!CORS_METHODS.has(str(m))) r.at('allowMethods').at(i).error(`${q(m)} is not a supported HTTP method: use ${[...CORS_METHODS].join(', ')}`);
  });
  for (const f of ['allowHeaders', 'exposeHeaders'] as const) {
    arr(c[f]).forEach((n, i) => {
      const m = validateCorsHeaderName(str(n));
      if (m !== undefined) r.at(f).at(i).error(m);
    });
  }
  if (isSet(c.maxAge)) {
    const ns = checkDuration(r.at('maxAge'), c.maxAge);
    if (ns !== undefined && ns % NS_PER_S !== 0n) r.at('maxAge').error(`maxAge ${q(c.maxAge)} must be whole seconds (Access-Control-Max-Age has second precision)`);
  }
}

/** fault: abort and/or delay, error type and status ranges, percentages, fixed delays only. */
export function checkFault(r: Reporter, f: Obj | undefined): void {
  if (f === undefined) return;
  const abort = obj(f.abort);
  const delay = obj(f.delay);
  if (abort === undefined && delay === undefined) r.error('fault injection needs an abort and/or a delay');
  if (abort !== undefined) {
    const ar = r.at('abort');
    checkPercentage(ar.at('percentage'), abort.percentage);
    if (isSet(abort.grpcStatus)) {
      if (!GRPC_STATUS_NAMES.has(str(abort.grpcStatus))) ar.at('grpcStatus').error(`gRPC status ${q(abort.grpcStatus)} is not supported: use a status name such as "UNAVAILABLE" or "NOT_FOUND"`);
    } else if (isSet(abort.http2Error)) {
      ar.at('http2Error').error('HTTP/2 error fault injection is not supported: use httpStatus or grpcStatus');
    } else if (isSet(abort.httpStatus)) {
      // Istio's bound is 200..600 inclusive.
      const s = abort.httpStatus;
      if (!(typeof s === 'number' && Number.isInteger(s) && s >= 200 && s <= 600)) ar.at('httpStatus').error(`HTTP status ${q(s)} must be in the range 200..599`);
    } else {
      ar.warn('abort is configured without an error type: set httpStatus or grpcStatus, or requests will not be aborted');
    }
  }
  if (delay !== undefined) {
    const dr = r.at('delay');
    checkPercentage(dr.at('percentage'), delay.percentage);
    if (isSet(delay.fixedDelay)) checkDuration(dr.at('fixedDelay'), delay.fixedDelay);
    else if (isSet(delay.exponentialDelay)) {
      checkDuration(dr.at('exponentialDelay'), delay.exponentialDelay);
      dr.at('exponentialDelay').error('exponentialDelay is not supported: use fixedDelay');
    }
  }
}

/** redirect: uri vs prefixRewrite (which needs prefix uri matches), something to change, 3xx code, http(s) scheme, port. */
export function checkRedirect(r: Reporter, rd: Obj | undefined, matches: unknown[]): void {
  if (rd === undefined) return;
  const uri = str(rd.uri);
  const prefixRewrite = str(rd.prefixRewrite);
  if (uri !== '' && prefixRewrite !== '') return r.error('redirect may set only one of uri or prefixRewrite');
  if (prefixRewrite !== '' && matches.some((m) => obj(obj(m)?.uri) !== undefined && typeof obj(obj(m)?.uri)?.prefix !== 'string')) {
    return r.at('prefixRewrite').error('redirect prefixRewrite requires every uri match of the route to be a prefix match');
  }
  const hasPort = isSet(rd.port) || isSet(rd.derivePort);
  if (uri === '' && prefixRewrite === '' && str(rd.authority) === '' && !hasPort && str(rd.scheme) === '') {
    return r.error('redirect must set at least one of uri, prefixRewrite, authority, scheme or port');
  }
  const code = num(rd.redirectCode);
  if (code !== 0 && (code < 300 || code > 399)) return r.at('redirectCode').error(`${code} is not a redirect status: use a 3xx code such as 301 or 302`);
  const scheme = str(rd.scheme);
  if (scheme !== '' && scheme !== 'http' && scheme !== 'https') return r.at('scheme').error(`redirect scheme ${q(scheme)} is not valid: use "http" or "https"`);
  if (num(rd.port) > 0) checkPort(r.at('port'), rd.port);
}

/** directResponse: status 200–599 (Istio accepts 600), body at most 1 MB (warning above 100 KB). */
export function checkDirectResponse(r: Reporter, d: Obj | undefined): void {
  if (d === undefined) return;
  const body = obj(d.body);
  if (body !== undefined) {
    const size = typeof body.string === 'string' ? Buffer.byteLength(body.string) : typeof body.bytes === 'string' ? Buffer.from(body.bytes, 'base64').length : 0;
    if (size > MB) r.at('body').error('directResponse body is larger than 1MB: serve large bodies from a service instead');
    else if (size > 100 * KB) r.at('body').warn('directResponse body is larger than 100KB: large bodies may slow down the control plane');
  }
  const s = d.status;
  if (!(typeof s === 'number' && Number.isInteger(s) && s >= 200 && s <= 600)) checkHttpStatus(r.at('status'), s);
}

/** rewrite: uri vs uriRegexRewrite, at least one change, regex rewrite needs an RE2 match and a rewrite. */
export function checkRewrite(r: Reporter, rw: Obj | undefined): void {
  if (rw === undefined) return;
  const hasUri = str(rw.uri) !== '';
  const rr = obj(rw.uriRegexRewrite);
  if (hasUri && rr !== undefined) return r.error('rewrite may set only one of uri or uriRegexRewrite');
  if (!hasUri && rr === undefined && str(rw.authority) === '') return r.error('rewrite must set at least one of uri, uriRegexRewrite or authority');
  if (rr !== undefined) {
    if (str(rr.match) === '' || str(rr.rewrite) === '') return r.at('uriRegexRewrite').error('uriRegexRewrite needs both match and rewrite');
    checkRegex(r.at('uriRegexRewrite').at('match'), rr.match);
  }
}
