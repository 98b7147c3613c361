// The monitoring server (Istio's 15014): Prometheus metrics and the debug endpoints that `weft proxy-status`,
// `weft proxy-config` and the dashboard read. Read-only JSON; it listens on the control plane's address.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { parseNodeId, proxyShortName } from '../core/names/node-id.ts';
import type { ConnectionSnapshot } from '../discovery/serve/server.ts';
import { configDump, proxySync } from '../discovery/serve/status.ts';

/** What the monitoring server reads; supplied by the control plane. */
export interface MonitoringSource {
  registries: Registry[];
  connections(): ConnectionSnapshot[];
  /** /debug/configz body. */
  configz(): unknown;
  /** /debug/registryz body. */
  registryz(): unknown;
  /** Identity of this control plane instance (the ISTIOD column of proxy-status). */
  instance: string;
  /** Version of the snapshot being served. */
  version(): string;
  ready(): boolean;
}

/** Find the connection of a proxy by full node id, or by `name.namespace` as istioctl accepts. */
export function findConnection(conns: readonly ConnectionSnapshot[], proxyId: string): ConnectionSnapshot | undefined {
  const exact = conns.find((c) => c.info.node.id === proxyId);
  if (exact) return exact;
  return conns.find((c) => {
    const n = parseNodeId(c.info.node.id);
    return n.ok && (proxyShortName(n.value) === proxyId || n.value.name === proxyId);
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function text(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function handle(src: MonitoringSource, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, 'only GET is supported\n');
  switch (url.pathname) {
    case '/metrics': {
      const parts = await Promise.all(src.registries.map((r) => r.metrics()));
      return text(res, 200, parts.join('\n'), 'text/plain; version=0.0.4; charset=utf-8');
    }
    case '/ready':
      return src.ready() ? text(res, 200, 'ready\n') : text(res, 503, 'not ready: the first snapshot is not built yet\n');
    case '/debug/syncz':
      return json(
        res,
        200,
        src.connections().map((c) => ({ ...proxySync(c), control_plane: src.instance, control_plane_version: src.version() })),
      );
    case '/debug/configz':
      return json(res, 200, src.configz());
    case '/debug/registryz':
      return json(res, 200, src.registryz());
    case '/debug/config_dump': {
      const id = url.searchParams.get('proxyID') ?? '';
      if (id === '') return json(res, 400, { error: 'proxyID is required: /debug/config_dump?proxyID=<node id or name.namespace>' });
      const c = findConnection(src.connections(), id);
      if (!c) return json(res, 404, { error: `proxy "${id}" is not connected to this control plane; run 'weft proxy-status' to list proxies` });
      return json(res, 200, configDump(c));
    }
    case '/debug':
    case '/debug/':
      return json(res, 200, { endpoints: ['/metrics', '/ready', '/debug/syncz', '/debug/configz', '/debug/registryz', '/debug/config_dump?proxyID='] });
    default:
      return text(res, 404, `not found: ${url.pathname}; see /debug for the list\n`);
  }
}

export function createMonitoringServer(src: MonitoringSource): Server {
  return createServer((req, res) => {
    handle(src, req, res).catch((e: unknown) => {
      if (!res.headersSent) text(res, 500, `internal error: ${e instanceof Error ? e.message : String(e)}\n`);
      else res.destroy();
    });
  });
}
