// Heap bytes allocated per request by the hot-path pieces that run in JS: parsing a request head (a curl-like GET
// with six headers), matching it against an Istio-shaped route table, and parsing an nginx-like response head.
// Run: node_modules/.bin/node --expose-gc bench/proxy/alloc.ts
// Method: force a GC, run N iterations (small enough to stay inside the young generation, so no GC runs in between),
// read used_heap_size again; repeat and take the median.
import { getHeapStatistics } from 'node:v8';
import { Http1Parser } from '../../src/proxy/http1/parser.ts';
import { compileRouteConfiguration, matchRoute, selectVirtualHost } from '../../src/proxy/router/route-table.ts';
import type { RequestHead } from '../../src/proxy/http1/head.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

const request = Buffer.from('GET /reviews/1?x=1 HTTP/1.1\r\nHost: reviews:9080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nX-Request-Id: 5f8e0c4a-1111-2222-3333-444455556666\r\nX-B3-Sampled: 1\r\nCookie: session=abc\r\n\r\n');
const response = Buffer.from('HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 21 Nov 2026 22:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
const table = compileRouteConfiguration({
  name: '9080',
  virtual_hosts: [
    {
      name: 'reviews.default.svc.cluster.local:9080',
      domains: ['reviews.default.svc.cluster.local', 'reviews.default.svc.cluster.local:9080', 'reviews', 'reviews:9080', 'reviews.default', 'reviews.default:9080'],
      routes: [
        { match: { prefix: '/', headers: [{ name: 'end-user', string_match: { exact: 'jason' } }] }, route: { cluster: 'outbound|9080|v2|reviews.default.svc.cluster.local' } },
        { match: { prefix: '/' }, route: { cluster: 'outbound|9080|v1|reviews.default.svc.cluster.local' } },
      ],
    },
  ],
});
if (!table.ok) throw new Error(JSON.stringify(table.error));

let head: RequestHead | undefined;
const reqParser = new Http1Parser('request', { onHead: (h) => void (h.kind === 'request' && (head = h)), onBody: () => undefined, onEnd: () => undefined, onError: (e) => { throw new Error(e.detail); } });
const respParser = new Http1Parser('response', { onHead: () => undefined, onBody: () => undefined, onEnd: () => undefined, onError: (e) => { throw new Error(e.detail); } });

function one(): void {
  reqParser.execute(request);
  reqParser.resume();
  const h = head!;
  const q = h.target.indexOf('?');
  const vh = selectVirtualHost(table.ok ? table.value : (undefined as never), h.host)!;
  matchRoute(vh, { authority: h.host, path: q < 0 ? h.target : h.target.slice(0, q), query: q < 0 ? '' : h.target.slice(q + 1), method: h.method, scheme: 'http', headers: h.headers });
  respParser.execute(response);
  respParser.resume();
}

for (let i = 0; i < 50_000; i++) one(); // warm up: optimised code
const N = 2000;
const samples: number[] = [];
for (let r = 0; r < 9; r++) {
  gc();
  const before = getHeapStatistics().used_heap_size;
  for (let i = 0; i < N; i++) one();
  samples.push((getHeapStatistics().used_heap_size - before) / N);
}
samples.sort((a, b) => a - b);
process.stdout.write(`parse request head + route match + parse response head: ${Math.round(samples[4]!)} bytes allocated per request (median of 9 × ${N})\n`);
