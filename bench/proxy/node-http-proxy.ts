// Baseline for the ratio goal: a reverse proxy on node:http (server) + undici Pool.stream (client), the fastest
// node:http-based shape measured in PERF-BASELINE.md. Usage: node node-http-proxy.ts LISTEN_PORT UPSTREAM_PORT
import * as http from 'node:http';
import { Writable } from 'node:stream';
import { Pool } from 'undici';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number);
const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 64, pipelining: 1 });

http
  .createServer((req, res) => {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && k !== 'connection' && k !== 'keep-alive') headers[k] = v;
    pool
      .stream({ path: req.url ?? '/', method: (req.method ?? 'GET') as 'GET', headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req }, ({ statusCode, headers: h }) => {
        res.statusCode = statusCode;
        for (const [k, v] of Object.entries(h)) if (v !== undefined && k !== 'connection' && k !== 'keep-alive' && k !== 'transfer-encoding') res.setHeader(k, v);
        return new Writable({
          write(chunk, _enc, cb) {
            res.write(chunk, cb);
          },
          final(cb) {
            res.end(cb);
          },
        });
      })
      .catch(() => {
        if (!res.headersSent) res.statusCode = 502;
        res.end();
      });
  })
  .listen(listenPort, '127.0.0.1', () => process.stdout.write('ready\n'));
