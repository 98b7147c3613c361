// Outbound HTTP for the Bookinfo apps: one GET with a deadline, sent either straight to the service or, in Weft's
// explicit mode, to the sidecar as a forward proxy with an absolute URI (`GET http://reviews:9080/reviews/0`).
// Connections are not pooled, as in Istio's sample, so load spreads over backends even without a mesh.
import { Agent, request } from 'node:http';
import type { ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import type { HttpProxy } from './proxy-env.ts';
import { NoProxy } from './proxy-env.ts';

/** Largest response body read from a backend; Bookinfo's are under 1 KiB. */
const MAX_BODY_BYTES = 1 << 20;

/** What a backend call produced: a response (any status), or why there was none. */
export type UpstreamResult =
  | { kind: 'response'; status: number; body: string }
  | { kind: 'timeout'; afterMs: number }
  | { kind: 'error'; message: string };

export interface OutboundOptions {
  /** The forward proxy (HTTP_PROXY); undefined connects directly. */
  proxy: HttpProxy | undefined;
  /** NO_PROXY: hosts reached directly even when a proxy is set. */
  noProxy: NoProxy;
}

export class OutboundClient {
  readonly #proxy: HttpProxy | undefined;
  readonly #noProxy: NoProxy;
  readonly #agent = new Agent({ keepAlive: false });

  constructor(options: OutboundOptions) {
    this.#proxy = options.proxy;
    this.#noProxy = options.noProxy;
  }

  /** The proxy a request to `url` goes through, or undefined when it connects directly. */
  proxyFor(url: URL): HttpProxy | undefined {
    if (this.#proxy === undefined) return undefined;
    return this.#noProxy.bypass(url.hostname, portOf(url)) ? undefined : this.#proxy;
  }

  /** GET `url` with `headers`; settles with a timeout result once `timeoutMs` has passed without a full response. */
  get(url: URL, headers: Record<string, string>, timeoutMs: number): Promise<UpstreamResult> {
    const proxy = this.proxyFor(url);
    const options: RequestOptions = proxy === undefined
      ? { host: bare(url.hostname), port: portOf(url), path: `${url.pathname}${url.search}` }
      : { host: proxy.host, port: proxy.port, path: url.href };
    options.method = 'GET';
    options.agent = this.#agent;
    options.headers = { ...headers, host: url.host, accept: 'application/json' };
    if (proxy?.authorization !== undefined) options.headers['proxy-authorization'] = proxy.authorization;

    return new Promise((resolve) => {
      let req: ClientRequest;
      try {
        req = request(options);
      } catch (e) {
        // node:http refuses some inputs synchronously (a header value it cannot send, say).
        resolve({ kind: 'error', message: `${url.href}: ${e instanceof Error ? e.message : String(e)}` });
        return;
      }
      const timer = setTimeout(() => {
        settle({ kind: 'timeout', afterMs: timeoutMs });
        req.destroy();
      }, timeoutMs);
      let settled = false;
      function settle(r: UpstreamResult): void {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      }
      req.on('response', (res) => readResponse(res, url, settle, () => req.destroy()));
      req.on('error', (e) => settle({ kind: 'error', message: `${url.href}${proxy ? ` via proxy ${proxy.href}` : ''}: ${e.message}` }));
      req.end();
    });
  }

  /** Abort every outbound request still in flight (shutdown). */
  close(): void {
    this.#agent.destroy();
  }
}

/** Collect a response body up to MAX_BODY_BYTES and settle with it. */
function readResponse(res: IncomingMessage, url: URL, settle: (r: UpstreamResult) => void, abort: () => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      settle({ kind: 'error', message: `response from ${url.href} is larger than ${MAX_BODY_BYTES} bytes` });
      abort();
      return;
    }
    chunks.push(chunk);
  });
  res.on('end', () => settle({ kind: 'response', status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
  res.on('error', (e) => settle({ kind: 'error', message: e.message }));
  res.on('aborted', () => settle({ kind: 'error', message: `${url.href}: response aborted` }));
}

/** Parse a JSON body; undefined when it is not JSON (a proxy's plain-text error page, say). */
export function parseJson(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

/** One-line description of a failed result, for the app's log. */
export function describeResult(r: UpstreamResult): string {
  switch (r.kind) {
    case 'response':
      return `status ${r.status}`;
    case 'timeout':
      return `no response within ${r.afterMs} ms`;
    case 'error':
      return r.message;
  }
}

function portOf(url: URL): number {
  return url.port === '' ? 80 : Number(url.port);
}

function bare(hostname: string): string {
  return hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
}
