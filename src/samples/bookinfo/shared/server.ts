// The HTTP server every Bookinfo app runs in: one access-log line per request on the app's log, errors turned into
// a 500 in one place, and a graceful stop (stop accepting, let in-flight requests finish, then close connections).
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One Bookinfo service: its request handler and the outbound resources to release on stop. */
export interface BookinfoApp {
  /** Service name as it appears in logs (details, reviews-v2 …). */
  readonly name: string;
  handle(req: IncomingMessage, res: ServerResponse, url: URL): void | Promise<void>;
  /** Release timers and outbound connections. */
  close(): void;
}

export type LogFn = (line: string) => void;

export interface ServeOptions {
  /** Listen port; 0 picks a free one. */
  port: number;
  /** Listen address (default 0.0.0.0, as the sample's containers). */
  host: string;
  /** Where access-log and error lines go (main passes stdout). */
  log: LogFn;
}

export interface RunningApp {
  readonly server: Server;
  readonly port: number;
  /** http://HOST:PORT of the listener, with a loopback host when bound to a wildcard address. */
  readonly url: string;
  /** Stop accepting, wait up to `graceMs` for in-flight requests, then close every connection. */
  stop(graceMs?: number): Promise<void>;
}

export function serveApp(app: BookinfoApp, options: ServeOptions): Promise<RunningApp> {
  let closing = false;
  const server = createServer((req, res) => {
    const started = performance.now();
    if (closing) res.setHeader('connection', 'close');
    res.on('close', () => {
      options.log(accessLine(app.name, req, res, performance.now() - started));
      if (closing) server.closeIdleConnections();
    });
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      sendJson(res, 400, { error: 'malformed request target' });
      return;
    }
    Promise.resolve()
      .then(() => app.handle(req, res, url))
      .catch((e: unknown) => {
        options.log(`${app.name}: error handling ${req.method ?? ''} ${req.url ?? ''}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        else res.destroy();
      });
  });
  // A request line or header section that does not arrive in time is not worth a worker: 400 and close.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      const host = options.host === '0.0.0.0' ? '127.0.0.1' : options.host === '::' ? '[::1]' : options.host.includes(':') ? `[${options.host}]` : options.host;
      let stopped: Promise<void> | undefined;
      resolve({
        server,
        port,
        url: `http://${host}:${port}`,
        stop(graceMs = 10_000) {
          stopped ??= new Promise<void>((done) => {
            closing = true;
            const force = setTimeout(() => server.closeAllConnections(), graceMs);
            server.close(() => {
              clearTimeout(force);
              app.close();
              done();
            });
            server.closeIdleConnections();
          });
          return stopped;
        },
      });
    });
  });
}

/** `2026-11-21T22:00:00.000Z reviews-v2 "GET /reviews/0 HTTP/1.1" 200 3.1ms x-request-id=…` */
function accessLine(name: string, req: IncomingMessage, res: ServerResponse, ms: number): string {
  const status = res.headersSent ? res.statusCode : 0; // 0: the client went away before a response
  const rid = req.headers['x-request-id'];
  const user = req.headers['end-user'];
  return `${new Date().toISOString()} ${name} "${req.method ?? '-'} ${req.url ?? '-'} HTTP/${req.httpVersion}" ${status} ${ms.toFixed(1)}ms` +
    `${typeof rid === 'string' ? ` x-request-id=${rid}` : ''}${typeof user === 'string' ? ` end-user=${user}` : ''}`;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json', JSON.stringify(body));
}

export function send(res: ServerResponse, status: number, contentType: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Read a request body up to `limit` bytes; undefined when it is larger (the caller answers 413). */
export async function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) return undefined;
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Answer 404 (unknown path) or 405 (known path, other method) the same way in every app. */
export function notFound(res: ServerResponse, url: URL): void {
  sendJson(res, 404, { error: `no route for ${url.pathname}` });
}

export function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('allow', allow);
  sendJson(res, 405, { error: `method not allowed; use ${allow}` });
}
