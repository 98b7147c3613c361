// A real HTTP/1.1 app for the end-to-end suite: `node http-app.ts PORT NAME [HOST]`. Endpoints:
//   /hello               "hello from NAME"
//   /headers             the request's headers as JSON
//   /upload (POST)       streams the body in, answers {bytes, sha256, chunked}
//   /download?bytes=N    N bytes (byte i = i % 251), chunked, written with backpressure
//   /slow?ms=N           answers after N ms
//   /status/CODE         answers CODE
//   /partial             writes a head and 64 KiB of body, then hangs (for kill-mid-stream tests)
import * as http from 'node:http';
import { createHash } from 'node:crypto';

const [portArg, name = 'app', host = '127.0.0.1'] = process.argv.slice(2);

function pattern(offset: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (offset + i) % 251;
  return b;
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  res.setHeader('x-app', name);
  if (url.pathname === '/upload') {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (d: Buffer) => {
      bytes += d.length;
      hash.update(d);
    });
    req.on('end', () => res.end(JSON.stringify({ bytes, sha256: hash.digest('hex'), chunked: req.headers['transfer-encoding'] === 'chunked' })));
    return;
  }
  req.resume();
  if (url.pathname === '/headers') return void res.end(JSON.stringify(req.headers));
  if (url.pathname === '/download') {
    const total = Number(url.searchParams.get('bytes') ?? '0');
    let sent = 0;
    const write = (): void => {
      while (sent < total) {
        const n = Math.min(65536, total - sent);
        const ok = res.write(pattern(sent, n));
        sent += n;
        if (!ok) return void res.once('drain', write);
      }
      res.end();
    };
    return write();
  }
  if (url.pathname === '/slow') return void setTimeout(() => res.end(`slow ${name}`), Number(url.searchParams.get('ms') ?? '0'));
  if (url.pathname.startsWith('/status/')) {
    res.statusCode = Number(url.pathname.slice(8));
    return void res.end(`status ${res.statusCode} from ${name}`);
  }
  if (url.pathname === '/partial') {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.write(pattern(0, 65536));
    return;
  }
  res.end(`hello from ${name}`);
});
server.keepAliveTimeout = 30_000;
server.listen(Number(portArg), host, () => console.log(`${name} listening on ${host}:${(server.address() as { port: number }).port}`));
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
