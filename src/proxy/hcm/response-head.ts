// The status line and header lines of a response passed downstream (framing headers are added by the stream):
// the upstream's headers after the route's edits, minus hop-by-hop ones, with Envoy's server header handling,
// x-envoy-upstream-service-time and headers filters add (CORS).
import type { ResponseHead } from '../http1/head.ts';
import { STATUS_TEXT, isHopByHop } from '../http1/serialize.ts';
import type { HcmConfig } from '../listener/listener-config.ts';
import { applyHeaderOps, hasHeaderOps } from '../router/route-action.ts';
import type { Route } from '../router/route-table.ts';

/** Status lines with the standard reason phrase, built once. */
const STATUS_LINES: string[] = [];
for (const [code, text] of Object.entries(STATUS_TEXT)) STATUS_LINES[Number(code)] = `HTTP/1.1 ${code} ${text}\r\n`;

export function responseHeadLines(resp: ResponseHead, route: Route, hcm: HcmConfig, upstreamServiceTimeMs: number, extra: string[] | undefined): string {
  const upgrade = resp.status === 101;
  let headers = resp.headers;
  if (hasHeaderOps(route.responseHeaders)) {
    headers = headers.slice();
    applyHeaderOps(headers, route.responseHeaders);
  }
  let s = resp.reason === STATUS_TEXT[resp.status] ? STATUS_LINES[resp.status]! : `HTTP/1.1 ${resp.status} ${resp.reason}\r\n`;
  let sawServer = false;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (isHopByHop(name)) {
      if (!(upgrade && name === 'upgrade')) continue;
    } else if (name === 'server') {
      if (hcm.serverHeaderTransformation === 'overwrite') continue;
      sawServer = true;
    } else if (name === 'x-envoy-upstream-service-time') {
      continue; // set below, as Envoy's router does (a peer sidecar's value is replaced, not repeated)
    }
    s += `${name}: ${headers[i + 1]}\r\n`;
  }
  if (!sawServer && hcm.serverHeaderTransformation !== 'pass_through') s += `server: ${hcm.serverName}\r\n`;
  s += `x-envoy-upstream-service-time: ${upstreamServiceTimeMs}\r\n`;
  if (extra) for (let i = 0; i < extra.length; i += 2) s += `${extra[i]}: ${extra[i + 1]}\r\n`;
  return s;
}
