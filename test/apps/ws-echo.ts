// A WebSocket echo app for `weft run` (the `ws` package): greets each client, answers every message with
// `echo: <message>`, and appends `close <code> <reason>` to LOG when a client closes (the test checks the close
// handshake reached the server). Usage: node test/apps/ws-echo.ts PORT LOG
import { appendFileSync } from 'node:fs';
import { WebSocketServer } from 'ws';

const [port, log] = process.argv.slice(2);
if (!port || !log) {
  process.stderr.write('usage: ws-echo PORT LOG\n');
  process.exit(2);
}
const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(port) });
wss.on('connection', (ws, req) => {
  appendFileSync(log, `open ${req.headers.host ?? ''} ${req.url ?? ''}\n`);
  ws.send('hello from ws-echo');
  ws.on('message', (data, isBinary) => ws.send(isBinary ? data : `echo: ${String(data)}`, { binary: isBinary }));
  ws.on('close', (code, reason) => appendFileSync(log, `close ${code} ${reason.toString()}\n`));
});
const stop = (): void => {
  wss.close();
  for (const c of wss.clients) c.terminate();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
