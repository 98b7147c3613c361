// The ext_authz filter (CUSTOM authorization): asks an external authorizer about each request the CUSTOM shadow RBAC
// selected, over HTTP (the request's method and path under path_prefix, selected headers; 200 allows, anything else is
// the denial to send back) or gRPC (envoy.service.auth.v3.Authorization/Check). An unreachable or slow authorizer
// (timeout) allows the request with failure_mode_allow (marked with x-envoy-auth-failure-mode-allowed only when
// failure_mode_allow_header_add is set, as Envoy), else answers status_on_error (403 by default).
import type { ExtAuthzConfig } from './config.ts';
// The gRPC client (src/core/grpc and the Check messages' codec) loads on the first gRPC check, not with every proxy.
import type { CheckRequestMessage, CheckResponseMessage, HeaderOption } from './grpc-client.ts';

// node:http through process.getBuiltinModule, not an ES import: an ES import of node:http evaluates every export,
// and its WebSocket getter loads Node's bundled undici (~4 MB resident) into every proxy that never uses it.
const http = process.getBuiltinModule('node:http');

export interface ExtAuthzRequest {
  method: string;
  /** Request target (path and query). */
  path: string;
  host: string;
  /** Flat header list (lower-case names). */
  headers: readonly string[];
  /** Buffered body (only when with_request_body is configured). */
  body?: Buffer;
  sourceIp: string;
  sourcePort?: number;
  destinationIp?: string;
  destinationPort: number;
  peerPrincipal?: string;
  /** Dynamic metadata by filter (the RBAC shadow result for filter_enabled_metadata). */
  metadata?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

export type ExtAuthzDecision =
  | {
      allowed: true;
      skipped: boolean;
      /** Request headers to send upstream (with the authorizer's additions). */
      headers: string[];
      /** The authorizer failed and failure_mode_allow let the request through (counted as error and failure_mode_allowed, not ok). */
      failedOpen?: true;
    }
  | { allowed: false; status: number; body: string; /** Response headers for the client. */ headers: string[]; details: string };

/** Cluster name → an address of one of its endpoints. */
export type ClusterResolver = (cluster: string) => { host: string; port: number } | undefined;

/** Decide one request; `resolve` (per request, from the proxy's live clusters) overrides the one given at build time. */
export type ExtAuthzFilter = (req: ExtAuthzRequest, resolve?: ClusterResolver) => Promise<ExtAuthzDecision>;

export interface ExtAuthzDeps {
  /** Cluster name → an address of one of its endpoints; default: the host and port of the configured URI / authority. */
  resolve?: ClusterResolver;
}

/** Headers Envoy always sends to an HTTP authorizer. */
const ALWAYS = new Set(['authorization', 'content-length', 'host', 'method', 'path']);
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-connection', 'content-length', 'date', 'server']);

function setHeader(list: string[], name: string, value: string): string[] {
  const out = list.filter((_, i, h) => h[i - (i % 2)] !== name);
  out.push(name, value);
  return out;
}

function httpCheck(cfg: ExtAuthzConfig, t: Extract<ExtAuthzConfig['transport'], { kind: 'http' }>, addr: { host: string; port: number }, req: ExtAuthzRequest): Promise<{ status: number; headers: string[]; body: string }> {
  const headers: Record<string, string> = { host: req.host };
  for (let i = 0; i < req.headers.length; i += 2) {
    const name = req.headers[i]!;
    if (name === 'host' || name === 'content-length' || name === 'transfer-encoding' || name === 'connection') continue;
    if (ALWAYS.has(name) || cfg.allowedHeaders?.(name)) headers[name] = headers[name] === undefined ? req.headers[i + 1]! : `${headers[name]},${req.headers[i + 1]!}`;
  }
  for (const [k, v] of t.headersToAdd) headers[k] = v;
  const body = cfg.maxRequestBytes > 0 && req.body ? req.body.subarray(0, cfg.maxRequestBytes) : undefined;
  headers['content-length'] = String(body?.length ?? 0);
  return new Promise((resolve, reject) => {
    const r = http.request({ host: addr.host, port: addr.port, method: req.method, path: t.pathPrefix + req.path, headers, timeout: cfg.timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const flat: string[] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) flat.push(res.rawHeaders[i]!.toLowerCase(), res.rawHeaders[i + 1]!);
        resolve({ status: res.statusCode ?? 0, headers: flat, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    r.on('timeout', () => r.destroy(new Error('ext_authz timeout')));
    r.on('error', reject);
    r.end(body);
  });
}

function checkRequest(req: ExtAuthzRequest, cfg: ExtAuthzConfig): CheckRequestMessage {
  const headers: Record<string, string> = { ':authority': req.host, ':method': req.method, ':path': req.path };
  for (let i = 0; i < req.headers.length; i += 2) {
    const k = req.headers[i]!;
    headers[k] = headers[k] === undefined ? req.headers[i + 1]! : `${headers[k]},${req.headers[i + 1]!}`;
  }
  const body = cfg.maxRequestBytes > 0 && req.body ? req.body.subarray(0, cfg.maxRequestBytes).toString('utf8') : undefined;
  return {
    attributes: {
      source: { address: { socket_address: { address: req.sourceIp, port_value: req.sourcePort ?? 0 } }, principal: req.peerPrincipal ?? '' },
      destination: { address: { socket_address: { address: req.destinationIp ?? '', port_value: req.destinationPort } }, principal: '' },
      request: { http: { id: headers['x-request-id'] ?? '', method: req.method, headers, path: req.path, host: req.host, scheme: 'http', protocol: 'HTTP/1.1', ...(body !== undefined ? { body } : {}) } },
    },
  };
}

const STATUS_NAMES: Record<string, number> = { Forbidden: 403, Unauthorized: 401, BadRequest: 400, NotFound: 404, TooManyRequests: 429, InternalServerError: 500, ServiceUnavailable: 503, OK: 200, Found: 302, MovedPermanently: 301 };

/** A HeaderValue's value: `value`, else `raw_value` (authorizers on newer Envoy APIs send bytes). */
function headerValue(h: NonNullable<HeaderOption['header']>): string {
  return h.value || (h.raw_value ? Buffer.from(h.raw_value).toString('latin1') : '');
}

function grpcDecision(res: CheckResponseMessage, req: ExtAuthzRequest): ExtAuthzDecision {
  if ((res.status?.code ?? 0) === 0) {
    let headers = [...req.headers];
    for (const h of res.ok_response?.headers_to_remove ?? []) headers = headers.filter((_, i, l) => l[i - (i % 2)] !== h.toLowerCase());
    for (const h of res.ok_response?.headers ?? []) {
      if (!h.header?.key) continue;
      // append: true adds a value beside the client's; otherwise the authorizer's value replaces it.
      if (h.append?.value === true) headers.push(h.header.key.toLowerCase(), headerValue(h.header));
      else headers = setHeader(headers, h.header.key.toLowerCase(), headerValue(h.header));
    }
    return { allowed: true, skipped: false, headers };
  }
  const d = res.denied_response;
  const code = d?.status?.code;
  const status = typeof code === 'number' && code > 0 ? code : typeof code === 'string' ? (STATUS_NAMES[code] ?? Number(code)) || 403 : 403;
  const headers: string[] = [];
  for (const h of d?.headers ?? []) if (h.header?.key) headers.push(h.header.key.toLowerCase(), headerValue(h.header));
  return { allowed: false, status, body: d?.body ?? '', headers, details: 'ext_authz_denied' };
}

/** Build the per-request filter. */
export function createExtAuthzFilter(cfg: ExtAuthzConfig, deps: ExtAuthzDeps = {}): ExtAuthzFilter {
  const t = cfg.transport;
  const fallback = (): { host: string; port: number } => {
    if (t.kind === 'http') {
      const u = new URL(t.uri);
      return { host: u.hostname, port: u.port === '' ? 80 : Number(u.port) };
    }
    const colon = t.authority.lastIndexOf(':');
    return colon > 0 ? { host: t.authority.slice(0, colon), port: Number(t.authority.slice(colon + 1)) } : { host: t.authority, port: 80 };
  };
  const failed = (why: string): ExtAuthzDecision => ({ allowed: false, status: cfg.statusOnError, body: '', headers: [], details: `ext_authz_error{${why}}` });
  return async (req, resolve) => {
    const em = cfg.enabledMetadata;
    if (em) {
      const v = req.metadata?.[em.filter]?.[em.key];
      if (typeof v !== 'string' || !em.test(v)) return { allowed: true, skipped: true, headers: [...req.headers] };
    }
    const addr = (resolve ?? deps.resolve)?.(t.cluster) ?? fallback();
    try {
      if (t.kind === 'grpc') return grpcDecision(await (await import('./grpc-client.ts')).grpcCheck(`${addr.host}:${addr.port}`, t.authority, checkRequest(req, cfg), cfg.timeoutMs), req);
      const res = await httpCheck(cfg, t, addr, req);
      if (res.status === 200) {
        let headers = [...req.headers];
        for (let i = 0; i < res.headers.length; i += 2) {
          const name = res.headers[i]!;
          if (cfg.allowedUpstreamHeaders?.(name)) headers = setHeader(headers, name, res.headers[i + 1]!);
        }
        return { allowed: true, skipped: false, headers };
      }
      const headers: string[] = [];
      for (let i = 0; i < res.headers.length; i += 2) {
        const name = res.headers[i]!;
        if (HOP.has(name)) continue;
        if (!cfg.allowedClientHeaders || cfg.allowedClientHeaders(name)) headers.push(name, res.headers[i + 1]!);
      }
      return { allowed: false, status: res.status, body: res.body, headers, details: 'ext_authz_denied' };
    } catch (e) {
      if (cfg.failureModeAllow) {
        const headers = cfg.failureModeAllowHeaderAdd ? setHeader([...req.headers], 'x-envoy-auth-failure-mode-allowed', 'true') : [...req.headers];
        return { allowed: true, skipped: false, headers, failedOpen: true };
      }
      return failed(e instanceof Error ? e.message.replace(/[^A-Za-z0-9_ ]/g, '').replace(/ /g, '_').slice(0, 60) : 'unknown');
    }
  };
}
