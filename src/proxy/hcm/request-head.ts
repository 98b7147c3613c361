// The request head a stream sends upstream, built as one string: rewritten path and host, the client's headers minus
// hop-by-hop ones (after the route's header edits), and the headers Envoy adds — x-forwarded-proto, x-forwarded-for
// (use_remote_address), x-request-id, x-forwarded-client-cert on mutual TLS, x-envoy-expected-rq-timeout-ms.
import { randomUUID } from 'node:crypto';
import type { RequestHead } from '../http1/head.ts';
import { isHopByHop } from '../http1/serialize.ts';
import type { HcmConfig } from '../listener/listener-config.ts';
import { applyHeaderOps, hasHeaderOps, type RouteAction } from '../router/route-action.ts';
import type { Route } from '../router/route-table.ts';
import type { DownstreamTls } from './connection.ts';
import type { StreamInfo } from './stream-info.ts';

type Forward = Extract<RouteAction, { kind: 'cluster' }>;

/** What the head depends on besides the action and the request target. */
export interface RequestHeadContext {
  req: RequestHead;
  route: Route;
  hcm: HcmConfig;
  tls: DownstreamTls | undefined;
  remoteIp: string;
  /** This workload's SPIFFE id (for x-forwarded-client-cert), if it has an identity. */
  ownSpiffe: string | undefined;
  /** Filled in: user agent, x-forwarded-for, request id (for the access log). */
  info: StreamInfo;
}

export function upstreamRequestHead(c: RequestHeadContext, action: Forward, authority: string, target: string, path: string, query: string): string {
  const { req, hcm, info, route } = c;
  let outPath = target;
  if (action.prefixRewrite !== undefined && route.path.kind === 'prefix') {
    outPath = action.prefixRewrite + path.slice(route.path.value.length) + (query === '' ? '' : `?${query}`);
  } else if (action.regexRewrite !== undefined) {
    outPath = action.regexRewrite.re.matcher(path).replaceAll(action.regexRewrite.substitution) + (query === '' ? '' : `?${query}`);
  }
  let headers = req.headers;
  if (hasHeaderOps(route.requestHeaders)) {
    headers = headers.slice();
    applyHeaderOps(headers, route.requestHeaders);
  }
  // A traced request's caller context is replaced by its span's (written below).
  if (info.span) headers = info.span.strip(headers);
  const host = action.hostRewrite ?? authority;
  let s = `${req.method} ${outPath} HTTP/1.1\r\nhost: ${host}\r\n`;
  let xfp = false;
  let xff: string | undefined;
  let requestId: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const value = headers[i + 1]!;
    switch (name) {
      case 'host':
        continue;
      case 'x-forwarded-proto':
        if (hcm.useRemoteAddress) continue;
        xfp = true;
        break;
      case 'x-forwarded-for':
        xff = xff === undefined ? value : `${xff},${value}`;
        continue;
      case 'x-forwarded-client-cert':
        // Only this proxy vouches for the peer (Envoy's SANITIZE_SET for a client it terminated TLS for).
        if (c.tls) continue;
        break;
      case 'x-request-id':
        // A traced request forwards the id with its sampling reason packed in (Envoy's UUID request id extension).
        requestId = info.span ? info.span.requestId(value) : value;
        s += `x-request-id: ${requestId}\r\n`;
        continue;
      case 'user-agent':
        info.userAgent = value;
        break;
      default:
        if (isHopByHop(name)) {
          if (name === 'te' && value.toLowerCase() === 'trailers') break;
          continue;
        }
    }
    s += `${name}: ${value}\r\n`;
  }
  if (!xfp) s += `x-forwarded-proto: ${c.tls ? 'https' : 'http'}\r\n`;
  const own = c.ownSpiffe;
  if (c.tls?.peer !== undefined && own !== undefined) s += `x-forwarded-client-cert: By=${own};URI=${c.tls.peer}\r\n`;
  if (hcm.useRemoteAddress) xff = xff === undefined ? c.remoteIp : `${xff},${c.remoteIp}`;
  if (xff !== undefined) s += `x-forwarded-for: ${xff}\r\n`;
  info.xff = xff;
  if (requestId === undefined && hcm.generateRequestId) {
    requestId = info.span ? info.span.requestId(randomUUID()) : randomUUID();
    s += `x-request-id: ${requestId}\r\n`;
  }
  info.requestId = requestId;
  if (info.span) s += info.span.headerLines();
  if (action.timeoutMs > 0) s += `x-envoy-expected-rq-timeout-ms: ${action.timeoutMs}\r\n`;
  if (req.body === 'chunked') s += 'transfer-encoding: chunked\r\n';
  if (req.upgrade) {
    let up = '';
    for (let i = 0; i < req.headers.length; i += 2) if (req.headers[i] === 'upgrade') up = req.headers[i + 1]!;
    s += `connection: upgrade\r\nupgrade: ${up}\r\n`;
  }
  return s + '\r\n';
}
