// A small app for the tracing end-to-end test: `node trace-app.ts PORT NAME [NEXT_URL]`. Every request is answered
// with NAME, after a call to NEXT_URL (through the sidecar, HTTP_PROXY) when given, forwarding the trace headers the
// way Istio's Bookinfo apps do (src/samples/bookinfo/shared/trace-headers.ts). `/headers` echoes the request headers.
import * as http from 'node:http';
import { readEnv } from '../../../src/core/env.ts';
import { BACKEND_FORWARDED, forwardHeaders } from '../../../src/samples/bookinfo/shared/trace-headers.ts';
import { OutboundClient } from '../../../src/samples/bookinfo/shared/http-client.ts';
import { NoProxy, parseHttpProxy } from '../../../src/samples/bookinfo/shared/proxy-env.ts';

const [portArg, name = 'app', next] = process.argv.slice(2);
const env = readEnv();
const proxy = parseHttpProxy(env.httpProxy);
if (!proxy.ok) throw new Error(proxy.error);
const client = new OutboundClient({ proxy: proxy.value, noProxy: new NoProxy(env.noProxy ?? '') });

const server = http.createServer((req, res) => {
  req.resume();
  if (req.url === '/headers') return void res.end(JSON.stringify(req.headers));
  if (!next) return void res.end(name);
  void client.get(new URL(next), forwardHeaders(req.headers, BACKEND_FORWARDED), 5000).then((r) => {
    if (r.kind !== 'response') return void ((res.statusCode = 502), res.end(`${name} -> ${r.kind}`));
    res.statusCode = r.status;
    res.end(`${name} -> ${r.body}`);
  });
});
server.listen(Number(portArg), '127.0.0.1', () => console.log(`${name} listening on ${portArg}`));
