// A test HTTP app for `weft run`: answers every request with `STATUS` and `NAME <path>` after `DELAY_MS`, and appends
// `<host> <method> <path> <body length>` to LOG for each request it receives (the test reads what reached it).
// Usage: node test/apps/http-recorder.ts PORT NAME LOG [STATUS=200] [DELAY_MS=0]
import { appendFileSync } from 'node:fs';
import * as http from 'node:http';

const [port, name, log, status = '200', delay = '0'] = process.argv.slice(2);
if (!port || !name || !log) {
  process.stderr.write('usage: http-recorder PORT NAME LOG [STATUS] [DELAY_MS]\n');
  process.exit(2);
}
const server = http.createServer((req, res) => {
  let bytes = 0;
  req.on('data', (d: Buffer) => (bytes += d.length));
  req.on('end', () => {
    appendFileSync(log, `${req.headers.host ?? ''} ${req.method ?? ''} ${req.url ?? ''} ${bytes}\n`);
    setTimeout(() => {
      res.writeHead(Number(status), { 'content-type': 'text/plain' });
      res.end(`${name} ${req.url ?? ''}\n`);
    }, Number(delay));
  });
});
server.listen(Number(port), '127.0.0.1');
const stop = (): void => {
  server.close();
  server.closeAllConnections();
  // Replies still waiting on DELAY_MS are dropped: exit now.
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
