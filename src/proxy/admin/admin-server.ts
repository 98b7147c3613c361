// The proxy's admin and telemetry endpoints, as Envoy and pilot-agent expose them:
//   admin (127.0.0.1:15000): /config_dump, /clusters, /stats, /stats/prometheus, /ready, /server_info, /logging,
//                            /quitquitquit (POST)
//   readiness (15021): /healthz/ready      Prometheus (15090): /stats/prometheus
// These are control paths, not the data path, so node:http is fine here.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProxyEngine } from '../engine.ts';
import type { AdsClient } from '../xds-client/ads-client.ts';
import { renderConfigDump } from './config-dump.ts';
import { renderClusters, renderEnvoyStats, renderProxyPrometheus } from './admin-stats.ts';

// node:http through process.getBuiltinModule, not an ES import: an ES import of node:http evaluates every export,
// and its WebSocket getter loads Node's bundled undici (~4 MB resident) into every proxy that never uses it.
const http = process.getBuiltinModule('node:http');

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface AdminContext {
  engine: ProxyEngine;
  xds: AdsClient | undefined;
  /** Whether the proxy is ready to take traffic (config received, listeners bound). */
  isReady(): boolean;
  /** Why it is not ready yet, for /healthz/ready's body (default: waiting for the first configuration). */
  notReadyReason?(): string;
  /** Node id and metadata shown in config_dump's bootstrap section. */
  node: { id: string; metadata: Record<string, unknown> };
  version: string;
  startedAt: number;
  logLevel: { value: LogLevel };
  /** Called for POST /quitquitquit. */
  quit(): void;
}

export type AdminRole = 'admin' | 'readiness' | 'prometheus';

export function startAdminServer(role: AdminRole, address: string, port: number, ctx: AdminContext): Promise<{ server: Server; port: number }> {
  const server = http.createServer((req, res) => {
    try {
      handle(role, req, res, ctx);
    } catch (e) {
      res.statusCode = 500;
      res.end(`internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address, port }, () => resolve({ server, port: (server.address() as AddressInfo).port }));
  });
}

/** What /healthz/ready answers (the readiness port, and the agent's status port). */
export function readiness(ctx: Pick<AdminContext, 'isReady' | 'notReadyReason' | 'engine'>): { ready: boolean; reason: string } {
  if (ctx.engine.draining) return { ready: false, reason: 'not ready: draining' };
  if (!ctx.isReady()) return { ready: false, reason: `not ready: ${ctx.notReadyReason?.() ?? 'waiting for the first configuration from the control plane'}` };
  return { ready: true, reason: '' };
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=UTF-8'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-cache, max-age=0' });
  res.end(body);
}

function handle(role: AdminRole, req: IncomingMessage, res: ServerResponse, ctx: AdminContext): void {
  const url = new URL(req.url ?? '/', 'http://admin');
  const path = url.pathname;
  if (path === '/stats/prometheus' && role !== 'readiness') {
    return send(res, 200, renderProxyPrometheus(ctx.engine, ctx.xds), 'text/plain; version=0.0.4; charset=utf-8');
  }
  if (path === '/healthz/ready' || path === '/ready') {
    const r = readiness(ctx);
    if (path === '/ready') return send(res, r.ready ? 200 : 503, r.ready ? 'LIVE\n' : ctx.engine.draining ? 'DRAINING\n' : 'PRE_INITIALIZING\n');
    return send(res, r.ready ? 200 : 503, r.ready ? '' : `${r.reason}\n`);
  }
  if (role !== 'admin') return send(res, 404, 'not found\n');
  switch (path) {
    case '/':
      return send(res, 200, ['/config_dump', '/clusters', '/stats', '/stats/prometheus', '/ready', '/server_info', '/logging', '/quitquitquit'].join('\n') + '\n');
    case '/config_dump':
      return send(res, 200, JSON.stringify(renderConfigDump(ctx, url.searchParams.get('resource') ?? undefined), null, 2) + '\n', 'application/json');
    case '/clusters':
      return url.searchParams.get('format') === 'json'
        ? send(res, 200, JSON.stringify(renderClusters(ctx.engine, 'json'), null, 2) + '\n', 'application/json')
        : send(res, 200, renderClusters(ctx.engine, 'text') as string);
    case '/stats':
      return send(res, 200, renderEnvoyStats(ctx.engine, ctx.xds));
    case '/server_info':
      return send(
        res,
        200,
        JSON.stringify(
          {
            version: `weft/${ctx.version}`,
            state: ctx.engine.draining ? 'DRAINING' : ctx.isReady() ? 'LIVE' : 'PRE_INITIALIZING',
            uptime_current_epoch: `${Math.floor((Date.now() - ctx.startedAt) / 1000)}s`,
            node: { id: ctx.node.id },
            xds: ctx.xds ? { state: ctx.xds.state, streams: ctx.xds.streams, last_error: ctx.xds.lastError ?? null } : null,
          },
          null,
          2,
        ) + '\n',
        'application/json',
      );
    case '/logging': {
      if (req.method !== 'POST') return send(res, 200, `active loggers:\n  weft: ${ctx.logLevel.value}\n`);
      const level = url.searchParams.get('level');
      if (level !== 'debug' && level !== 'info' && level !== 'warn' && level !== 'error') {
        return send(res, 400, 'usage: POST /logging?level=debug|info|warn|error\n');
      }
      ctx.logLevel.value = level;
      return send(res, 200, `active loggers:\n  weft: ${level}\n`);
    }
    case '/quitquitquit':
      if (req.method !== 'POST') return send(res, 405, 'use POST\n');
      send(res, 200, 'OK\n');
      setImmediate(() => ctx.quit());
      return;
    default:
      return send(res, 404, 'not found\n');
  }
}
