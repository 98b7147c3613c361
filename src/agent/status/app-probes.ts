// Application probes rewritten to the agent (Istio's app-health rewrite): the kubelet, or anything that checks the
// workload, asks the status port for `/app-health/<container>/livez|readyz|startupz`, and the agent runs the app's
// own probe — an HTTP GET, a TCP connect, or a gRPC health check — from inside the workload, where mTLS and
// authorization policy do not apply. Probes come from `--app-probe NAME:KIND=URL` flags or from Istio's
// ISTIO_KUBE_APP_PROBERS JSON (`--app-probers`).
import * as https from 'node:https';
import * as net from 'node:net';
import { err, ok, type Result } from '../../core/result.ts';

// node:http through process.getBuiltinModule, not an ES import: an ES import of node:http evaluates every export,
// and its WebSocket getter loads Node's bundled undici (~4 MB resident) into every proxy that never uses it.
const http = process.getBuiltinModule('node:http');

export type ProbeKind = 'livez' | 'readyz' | 'startupz';
const KINDS: readonly string[] = ['livez', 'readyz', 'startupz'];

export type AppProbe =
  | { type: 'http'; scheme: 'http' | 'https'; host: string; port: number; path: string; headers: ReadonlyArray<[string, string]>; timeoutMs: number }
  | { type: 'tcp'; host: string; port: number; timeoutMs: number }
  | { type: 'grpc'; host: string; port: number; service: string; timeoutMs: number };

/** Probes by status-port path (`/app-health/web/readyz`). */
export type AppProbes = ReadonlyMap<string, AppProbe>;

/** Kubernetes' default probe timeout (timeoutSeconds: 1). */
const DEFAULT_TIMEOUT_MS = 1000;

export const probePath = (container: string, kind: ProbeKind): string => `/app-health/${container}/${kind}`;

const CONTAINER = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * One `--app-probe` value: `NAME:KIND=URL`, KIND livez|readyz|startupz, URL `http[s]://HOST:PORT/PATH`,
 * `tcp://HOST:PORT` or `grpc://HOST:PORT[/SERVICE]`; `?timeout=2s` is not supported, use --app-probers for that.
 */
export function parseAppProbeFlag(v: string): Result<[string, AppProbe], string> {
  const m = /^([^:=]+):([a-z]+)=(.+)$/.exec(v);
  if (!m) return err(`--app-probe expects NAME:KIND=URL (e.g. web:readyz=http://127.0.0.1:8080/ready), not "${v}"`);
  const [, name, kind, target] = m as unknown as [string, string, string, string];
  if (!CONTAINER.test(name)) return err(`--app-probe: "${name}" must be a container name (a DNS label such as web)`);
  if (!KINDS.includes(kind)) return err(`--app-probe: "${kind}" must be livez, readyz or startupz`);
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return err(`--app-probe: "${target}" is not a URL such as http://127.0.0.1:8080/healthz, tcp://127.0.0.1:8080 or grpc://127.0.0.1:9090`);
  }
  if (!['http:', 'https:', 'tcp:', 'grpc:'].includes(url.protocol)) return err(`--app-probe: scheme "${url.protocol.slice(0, -1)}" must be http, https, tcp or grpc`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : url.protocol === 'http:' ? 80 : NaN));
  if (!Number.isInteger(port) || port < 1 || port > 65535) return err(`--app-probe: "${target}" needs a port`);
  const path = probePath(name, kind as ProbeKind);
  switch (url.protocol) {
    case 'http:':
    case 'https:':
      return ok([path, { type: 'http', scheme: url.protocol === 'https:' ? 'https' : 'http', host, port, path: `${url.pathname}${url.search}`, headers: [], timeoutMs: DEFAULT_TIMEOUT_MS }]);
    case 'tcp:':
      return ok([path, { type: 'tcp', host, port, timeoutMs: DEFAULT_TIMEOUT_MS }]);
    case 'grpc:':
      return ok([path, { type: 'grpc', host, port, service: decodeURIComponent(url.pathname.replace(/^\//, '')), timeoutMs: DEFAULT_TIMEOUT_MS }]);
    default:
      return err(`--app-probe: scheme "${url.protocol}" must be http, https, tcp or grpc`);
  }
}

const rec = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/**
 * Istio's ISTIO_KUBE_APP_PROBERS: `{"/app-health/web/livez": {"httpGet": {"path": "/healthz", "port": 8080,
 * "scheme": "HTTP", "host": "…", "httpHeaders": [{"name": …, "value": …}]}, "timeoutSeconds": 1}, …}` with
 * `tcpSocket: {port}` or `grpc: {port, service}` in place of httpGet. Errors name the key and field.
 */
export function parseKubeAppProbers(json: string, defaultHost = '127.0.0.1'): Result<Map<string, AppProbe>, string> {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    return err(`--app-probers: not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const top = rec(raw);
  if (!top) return err('--app-probers: expected an object of "/app-health/<container>/<livez|readyz|startupz>": probe');
  const out = new Map<string, AppProbe>();
  for (const [key, value] of Object.entries(top)) {
    const at = (f: string): string => `--app-probers: ${key}${f ? `.${f}` : ''}`;
    const m = /^\/app-health\/([^/]+)\/(livez|readyz|startupz)$/.exec(key);
    if (!m) return err(`${at('')}: the key must be /app-health/<container>/livez, readyz or startupz`);
    const p = rec(value);
    if (!p) return err(`${at('')}: must be an object with httpGet, tcpSocket or grpc`);
    const seconds = p['timeoutSeconds'] ?? 1;
    if (typeof seconds !== 'number' || seconds <= 0) return err(`${at('timeoutSeconds')}: must be a positive number`);
    const timeoutMs = seconds * 1000;
    const portOf = (o: Record<string, unknown>, f: string): Result<number, string> => {
      const n = o['port'];
      return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535 ? ok(n) : err(`${at(`${f}.port`)}: must be a port number 1-65535 (named ports are resolved by the injector)`);
    };
    const httpGet = rec(p['httpGet']);
    const tcp = rec(p['tcpSocket']);
    const grpc = rec(p['grpc']);
    if (httpGet) {
      const port = portOf(httpGet, 'httpGet');
      if (!port.ok) return port;
      const scheme = String(httpGet['scheme'] ?? 'HTTP').toUpperCase();
      if (scheme !== 'HTTP' && scheme !== 'HTTPS') return err(`${at('httpGet.scheme')}: must be HTTP or HTTPS`);
      const headers: Array<[string, string]> = [];
      const list = httpGet['httpHeaders'] ?? [];
      if (!Array.isArray(list)) return err(`${at('httpGet.httpHeaders')}: must be a list of {name, value}`);
      for (const [i, h] of list.entries()) {
        const o = rec(h);
        if (!o || typeof o['name'] !== 'string' || typeof o['value'] !== 'string') return err(`${at(`httpGet.httpHeaders[${i}]`)}: must be {name, value}`);
        headers.push([o['name'], o['value']]);
      }
      const path = typeof httpGet['path'] === 'string' ? httpGet['path'] : '/';
      const host = typeof httpGet['host'] === 'string' && httpGet['host'] !== '' ? httpGet['host'] : defaultHost;
      out.set(key, { type: 'http', scheme: scheme === 'HTTPS' ? 'https' : 'http', host, port: port.value, path: path.startsWith('/') ? path : `/${path}`, headers, timeoutMs });
    } else if (tcp) {
      const port = portOf(tcp, 'tcpSocket');
      if (!port.ok) return port;
      out.set(key, { type: 'tcp', host: typeof tcp['host'] === 'string' && tcp['host'] !== '' ? tcp['host'] : defaultHost, port: port.value, timeoutMs });
    } else if (grpc) {
      const port = portOf(grpc, 'grpc');
      if (!port.ok) return port;
      out.set(key, { type: 'grpc', host: defaultHost, port: port.value, service: typeof grpc['service'] === 'string' ? grpc['service'] : '', timeoutMs });
    } else return err(`${at('')}: needs httpGet, tcpSocket or grpc`);
  }
  return ok(out);
}

export interface ProbeResult {
  status: number;
  body: string;
}

/** Run one probe. HTTP answers with the app's status; TCP and gRPC with 200, else 500 and why. Never rejects. */
export function runProbe(p: AppProbe): Promise<ProbeResult> {
  switch (p.type) {
    case 'http':
      return httpProbe(p);
    case 'tcp':
      return tcpProbe(p);
    case 'grpc':
      return import('./grpc-health.ts').then((m) => m.grpcHealthProbe(p), (e: unknown) => ({ status: 500, body: `gRPC probe unavailable: ${String(e)}\n` }));
  }
}

function httpProbe(p: Extract<AppProbe, { type: 'http' }>): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { 'user-agent': 'weft-probe/1', 'accept': '*/*' };
    for (const [k, v] of p.headers) headers[k.toLowerCase()] = v;
    const options: https.RequestOptions = { host: p.host, port: p.port, path: p.path, method: 'GET', headers, agent: false, timeout: p.timeoutMs };
    // The app's own certificate is not the mesh's: kubelet does not verify HTTPS probes either.
    if (p.scheme === 'https') options.rejectUnauthorized = false;
    const req = (p.scheme === 'https' ? https : http).request(options, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 500, body: '' }));
      res.once('error', () => resolve({ status: 500, body: 'probe response broke\n' }));
    });
    req.once('timeout', () => req.destroy(new Error(`no response within ${p.timeoutMs} ms`)));
    req.once('error', (e: NodeJS.ErrnoException) => resolve({ status: 500, body: `probe ${p.scheme}://${p.host}:${p.port}${p.path} failed: ${e.code ?? e.message}\n` }));
    req.end();
  });
}

function tcpProbe(p: Extract<AppProbe, { type: 'tcp' }>): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const s = net.connect({ host: p.host, port: p.port });
    const done = (r: ProbeResult): void => {
      s.destroy();
      resolve(r);
    };
    s.setTimeout(p.timeoutMs, () => done({ status: 500, body: `tcp ${p.host}:${p.port}: no connection within ${p.timeoutMs} ms\n` }));
    s.once('connect', () => done({ status: 200, body: '' }));
    s.once('error', (e: NodeJS.ErrnoException) => done({ status: 500, body: `tcp ${p.host}:${p.port}: ${e.code ?? e.message}\n` }));
  });
}
