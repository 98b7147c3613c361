// The agent's status port (Istio's pilot-agent 15020): `/healthz/ready` (as 15021), `/stats/prometheus` — the
// proxy's metrics, the application's (scraped from its metrics port and path, as Istio does from the
// prometheus.io/port and /path annotations) and the agent's own, merged into one valid page — and the app-health
// rewrite `/app-health/<container>/livez|readyz|startupz` (app-probes.ts). A failed or malformed app scrape never
// breaks the page: the proxy's and agent's parts are still served and istio_agent_scrape_failures_total counts it.
// A control path, so node:http is fine.
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mergeExpositions } from './prom-text.ts';
import { runProbe, type AppProbes } from './app-probes.ts';

// node:http through process.getBuiltinModule, not an ES import: an ES import of node:http evaluates every export,
// and its WebSocket getter loads Node's bundled undici (~4 MB resident) into every proxy that never uses it.
const http = process.getBuiltinModule('node:http');

export interface AppMetricsTarget {
  /** Where the app serves Prometheus text; the host defaults to 127.0.0.1 (the app is local). */
  host?: string;
  port: number;
  /** Default `/metrics` (Istio's default for prometheus.io/path). */
  path: string;
}

export interface StatusServerOptions {
  address: string;
  /** 0 picks a free port. */
  port: number;
  /** Readiness as /healthz/ready on the readiness port reports it. */
  ready(): { ready: boolean; reason: string };
  /** The proxy's own Prometheus page (what the stats port serves). */
  proxyMetrics(): string;
  appMetrics?: AppMetricsTarget | undefined;
  probes: AppProbes;
  log(level: 'info' | 'warn' | 'error', message: string): void;
}

export interface StatusServer {
  port: number;
  server: Server;
  close(): void;
}

type ScrapeType = 'envoy' | 'application' | 'agent';

/** The agent's own counters (istio_agent_*), rendered into the merged page. */
class AgentMetrics {
  readonly failures: Record<ScrapeType, number> = { envoy: 0, application: 0, agent: 0 };
  scrapes = 0;
  probes = new Map<string, { ok: number; failed: number }>();
  private readonly startSeconds = Math.floor(Date.now() / 1000 - process.uptime());

  render(): string {
    const cpu = process.cpuUsage();
    const lines = [
      '# HELP istio_agent_scrapes_total Scrapes of the merged metrics page.',
      '# TYPE istio_agent_scrapes_total counter',
      `istio_agent_scrapes_total ${this.scrapes}`,
      '# HELP istio_agent_scrape_failures_total Failed scrapes, by the part that failed.',
      '# TYPE istio_agent_scrape_failures_total counter',
      ...(['envoy', 'application', 'agent'] as const).map((t) => `istio_agent_scrape_failures_total{type="${t}"} ${this.failures[t]}`),
      '# HELP istio_agent_app_probes_total App probes answered through the status port, by probe and result.',
      '# TYPE istio_agent_app_probes_total counter',
      ...[...this.probes].flatMap(([path, c]) => [`istio_agent_app_probes_total{probe="${path}",result="ok"} ${c.ok}`, `istio_agent_app_probes_total{probe="${path}",result="failed"} ${c.failed}`]),
      '# HELP istio_agent_process_cpu_seconds_total User and system CPU time of the proxy process.',
      '# TYPE istio_agent_process_cpu_seconds_total counter',
      `istio_agent_process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`,
      '# HELP istio_agent_process_resident_memory_bytes Resident set size of the proxy process.',
      '# TYPE istio_agent_process_resident_memory_bytes gauge',
      `istio_agent_process_resident_memory_bytes ${process.memoryUsage.rss()}`,
      '# HELP istio_agent_process_start_time_seconds Start time of the proxy process (Unix seconds).',
      '# TYPE istio_agent_process_start_time_seconds gauge',
      `istio_agent_process_start_time_seconds ${this.startSeconds}`,
    ];
    return lines.join('\n') + '\n';
  }
}

/** GET the app's metrics page; resolves with the text, or rejects with why. */
function scrapeApp(t: AppMetricsTarget, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: t.host ?? '127.0.0.1', port: t.port, path: t.path, agent: false, timeout: timeoutMs, headers: { accept: 'text/plain;version=0.0.4;q=1,*/*;q=0.1', 'user-agent': 'weft-agent/1' } },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          // A page past 64 MiB is a runaway label set, not metrics: give up on it rather than on the process.
          if (size > 64 << 20) req.destroy(new Error('metrics page larger than 64 MiB'));
          else chunks.push(d);
        });
        res.once('end', () => {
          if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) > 299) reject(new Error(`HTTP ${res.statusCode}`));
          else resolve(Buffer.concat(chunks).toString('utf8'));
        });
        res.once('error', reject);
      },
    );
    req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.once('error', reject);
  });
}

export function startStatusServer(o: StatusServerOptions): Promise<StatusServer> {
  const agent = new AgentMetrics();
  let lastAppError: string | undefined;

  const merged = async (req: IncomingMessage): Promise<string> => {
    agent.scrapes++;
    let proxy = '';
    try {
      proxy = o.proxyMetrics();
    } catch (e) {
      agent.failures.envoy++;
      o.log('warn', `status: rendering the proxy's metrics failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    let app = '';
    if (o.appMetrics) {
      // Prometheus says how long it will wait; answer well within it even when the app hangs.
      const budget = Number(req.headers['x-prometheus-scrape-timeout-seconds']);
      const timeoutMs = Number.isFinite(budget) && budget > 0 ? Math.max(100, budget * 800) : 5000;
      try {
        app = await scrapeApp(o.appMetrics, timeoutMs);
        lastAppError = undefined;
      } catch (e) {
        agent.failures.application++;
        const why = `scraping the app's metrics at http://${o.appMetrics.host ?? '127.0.0.1'}:${o.appMetrics.port}${o.appMetrics.path} failed: ${e instanceof Error ? e.message : String(e)}`;
        if (why !== lastAppError) o.log('warn', `status: ${why}`);
        lastAppError = why;
      }
    }
    const r = mergeExpositions([
      { name: 'proxy', text: proxy },
      { name: 'application', text: app },
      { name: 'agent', text: agent.render() },
    ]);
    if (r.conflicts.length > 0) o.log('warn', `status: app metric families dropped (their type clashes with the proxy's): ${r.conflicts.join('; ')}`);
    return r.text;
  };

  const server = http.createServer((req, res) => {
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-cache, max-age=0' });
      res.end(body);
    };
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'use GET\n');
    if (path === '/healthz/ready') {
      const r = o.ready();
      return send(r.ready ? 200 : 503, r.ready ? '' : `${r.reason}\n`);
    }
    if (path === '/stats/prometheus' || path === '/metrics') {
      merged(req).then(
        (text) => send(200, text, 'text/plain; version=0.0.4; charset=utf-8'),
        (e: unknown) => {
          agent.failures.agent++;
          send(500, `merging metrics failed: ${e instanceof Error ? e.message : String(e)}\n`);
        },
      );
      return;
    }
    if (path.startsWith('/app-health/')) {
      const probe = o.probes.get(path);
      if (!probe) return send(404, `no probe configured for ${path} (configure it with --app-probe NAME:KIND=URL)\n`);
      let counts = agent.probes.get(path);
      if (!counts) agent.probes.set(path, (counts = { ok: 0, failed: 0 }));
      const c = counts;
      void runProbe(probe).then((r) => {
        if (r.status >= 200 && r.status < 400) c.ok++;
        else c.failed++;
        send(r.status, r.body);
      });
      return;
    }
    send(404, 'not found: /healthz/ready, /stats/prometheus, /app-health/<container>/livez|readyz|startupz\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: o.address, port: o.port }, () => {
      server.removeListener('error', reject);
      server.on('error', (e) => o.log('error', `status server: ${e.message}`));
      resolve({
        port: (server.address() as AddressInfo).port,
        server,
        close: () => {
          server.closeAllConnections();
          server.close();
        },
      });
    });
  });
}
