// Test helpers for the proxy: Istio-shaped xDS resources (as decodeAny returns them), real upstream servers on
// port 0, a proxy engine with its explicit outbound port, and a small HTTP client that speaks through it.
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { TypeUrl, decodeAny, encodeAny } from '../../src/xds/protos.ts';
import { ProxyEngine } from '../../src/proxy/engine.ts';
import { unknownWorkload } from '../../src/proxy/stats/istio-metrics.ts';
import type { Raw } from '../../src/proxy/config/raw.ts';
import type { AccessLog } from '../../src/proxy/access-log/access-log.ts';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

/** Round-trip through the real protos so tests see exactly what an xDS client would decode. */
export function viaProto(typeUrl: string, obj: Raw): Raw {
  return decodeAny(encodeAny(typeUrl, obj));
}

export function hcm(route: Raw, extra: Raw = {}): Raw {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': HCM,
      stat_prefix: 'outbound',
      ...route,
      http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
      ...extra,
    },
  };
}

/** Istio's per-port outbound listener (`0.0.0.0_9080`, bind_to_port false, RDS "9080"). */
export function outboundListener(port: number, routeName = String(port)): Raw {
  return viaProto(TypeUrl.listener, {
    name: `0.0.0.0_${port}`,
    address: { socket_address: { address: '0.0.0.0', port_value: port } },
    bind_to_port: { value: false },
    filter_chains: [{ filters: [hcm({ rds: { route_config_name: routeName, config_source: { ads: {} } } })] }],
  });
}

export function routeConfig(name: string, virtualHosts: Raw[]): Raw {
  return viaProto(TypeUrl.route, { name, virtual_hosts: virtualHosts });
}

export function vhost(name: string, domains: string[], routes: Raw[]): Raw {
  return { name, domains, routes };
}

export function staticCluster(name: string, ports: number[], extra: Raw = {}): Raw {
  return viaProto(TypeUrl.cluster, {
    name,
    type: 'STATIC',
    connect_timeout: { seconds: 1 },
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: ports.map((p) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } } })) }] },
    ...extra,
  });
}

export function edsCluster(name: string, extra: Raw = {}): Raw {
  return viaProto(TypeUrl.cluster, { name, type: 'EDS', connect_timeout: { seconds: 1 }, eds_cluster_config: { service_name: name, eds_config: { ads: {} } }, ...extra });
}

export function assignment(name: string, ports: number[]): Raw {
  return viaProto(TypeUrl.endpoint, {
    cluster_name: name,
    endpoints: [{ lb_endpoints: ports.map((p) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } } })) }],
  });
}

export interface Upstream {
  port: number;
  server: http.Server;
  requests: http.IncomingMessage[];
  close(): Promise<void>;
}

/** A real node:http upstream on port 0. The default handler answers 200 with `name` and echoes a few headers. */
export async function startUpstream(name: string, handler?: http.RequestListener): Promise<Upstream> {
  const requests: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req);
    if (handler) return handler(req, res);
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      res.setHeader('x-upstream', name);
      res.setHeader('x-seen-path', req.url ?? '');
      res.end(body === '' ? name : `${name}:${body}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    server,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface TestProxy {
  engine: ProxyEngine;
  port: number;
  close(): void;
}

export async function startProxy(resources: { clusters?: Raw[]; endpoints?: Raw[]; listeners?: Raw[]; routes?: Raw[] }, accessLog?: AccessLog): Promise<TestProxy> {
  let seed = 42;
  const engine = new ProxyEngine({ workload: unknownWorkload, accessLog, random: () => ((seed = (seed * 16807) % 2147483647) / 2147483647) });
  const port = await engine.listeners.bindOwn('virtualOutbound', '127.0.0.1', 0, 'explicit', 'outbound');
  engine.reserved.add(port);
  if (resources.clusters) engine.apply(TypeUrl.cluster, resources.clusters, '1');
  if (resources.endpoints) engine.apply(TypeUrl.endpoint, resources.endpoints, '1');
  if (resources.listeners) engine.apply(TypeUrl.listener, resources.listeners, '1');
  if (resources.routes) engine.apply(TypeUrl.route, resources.routes, '1');
  return { engine, port, close: () => engine.close() };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Send one request through the proxy as an HTTP proxy client does (absolute URI). */
export function viaProxy(proxyPort: number, url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: '127.0.0.1', port: proxyPort, method: options.method ?? 'GET', path: url, headers: { host: u.host, ...options.headers }, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Write raw bytes to a port and collect everything until the server closes (bounded by a timeout). */
export function rawExchange(port: number, data: string | Buffer, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve(out);
    }, timeoutMs);
    s.on('data', (d) => (out += d.toString('latin1')));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    s.on('error', reject);
    s.write(data);
  });
}
