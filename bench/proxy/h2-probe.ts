// Floors of an HTTP/2 proxy hop on node:http2, for bench/proxy/h2-ab.ts: what node:http2 itself costs per stream,
// without Weft's routing, stats or pools. Modes, built up one step at a time:
//   bare      answer every stream here (respond + end('ok')): node:http2's floor
//   h1        forward each stream to nginx over a pool of raw HTTP/1.1 keep-alive sockets (a minimal head parser),
//             answer with respond(headers) + end(body)
//   h1-trail  as h1, but respond({ waitForTrailers }) + write(body) + end() + sendTrailers({}) as Weft does
//   h2        forward each stream over one node:http2 client session to nginx (h2c), body piped by 'data' events
//   options: `arr` (bare: respond with, h2: request with a flat header array, Node >= 24), `win` (a 1 MiB initial window and connection window), `nomem` (maxSessionMemory 16, Weft's)
//   node bench/proxy/h2-probe.ts LISTEN_PORT UPSTREAM_H1_PORT UPSTREAM_H2_PORT MODE [OPTION …]
import * as http2 from 'node:http2';
import * as net from 'node:net';

const [listenPort, h1Port, h2Port] = process.argv.slice(2, 5).map(Number) as [number, number, number];
const mode = process.argv[5] ?? 'bare';
const opts = new Set(process.argv.slice(6));

interface Pending {
  stream: http2.ServerHttp2Stream;
}

/** One raw HTTP/1.1 keep-alive connection carrying one request at a time. */
class H1Conn {
  readonly sock: net.Socket;
  current: Pending | undefined;
  private buf = '';
  constructor() {
    this.sock = net.connect({ port: h1Port, host: '127.0.0.1', noDelay: true });
    this.sock.on('data', (d: Buffer) => this.onData(d));
    this.sock.on('error', () => undefined);
  }
  private onData(d: Buffer): void {
    this.buf += d.toString('latin1');
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const m = /\r\ncontent-length: *(\d+)/i.exec(this.buf);
    const len = m ? Number(m[1]) : 0;
    if (this.buf.length < end + 4 + len) return;
    const head = this.buf.slice(0, end);
    const body = this.buf.slice(end + 4, end + 4 + len);
    this.buf = this.buf.slice(end + 4 + len);
    const lines = head.split('\r\n');
    const h: http2.OutgoingHttpHeaders = { ':status': Number(lines[0]!.slice(9, 12)) };
    for (let i = 1; i < lines.length; i++) {
      const l = lines[i]!;
      const c = l.indexOf(':');
      const name = l.slice(0, c).toLowerCase();
      if (name === 'connection' || name === 'keep-alive') continue;
      h[name] = l.slice(c + 1).trim();
    }
    const p = this.current!;
    this.current = undefined;
    idle.push(this);
    const s = p.stream;
    if (s.destroyed) return;
    if (mode === 'h1-trail') {
      s.once('wantTrailers', () => s.sendTrailers({}));
      s.respond(h, { waitForTrailers: true });
      s.write(Buffer.from(body, 'latin1'));
      s.end();
    } else {
      s.respond(h);
      s.end(Buffer.from(body, 'latin1'));
    }
  }
}
const idle: H1Conn[] = [];

let upstream: http2.ClientHttp2Session | undefined;

function forwardH1(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  let head = `${String(headers[':method'])} ${String(headers[':path'])} HTTP/1.1\r\nhost: ${String(headers[':authority'])}\r\n`;
  for (const k of Object.keys(headers)) if (k.charCodeAt(0) !== 58) head += `${k}: ${String(headers[k])}\r\n`;
  const conn = idle.pop() ?? new H1Conn();
  conn.current = { stream };
  conn.sock.write(head + 'x-forwarded-proto: http\r\n\r\n', 'latin1');
}

function forwardH2(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  upstream ??= http2.connect(`http://127.0.0.1:${h2Port}`);
  let out: http2.OutgoingHttpHeaders | string[];
  if (opts.has('arr')) {
    const a: string[] = [];
    for (const k in headers) a.push(k, String(headers[k]));
    out = a;
  } else {
    const o: http2.OutgoingHttpHeaders = {};
    for (const k in headers) o[k] = headers[k];
    out = o;
  }
  const up = upstream.request(out as http2.OutgoingHttpHeaders, { endStream: stream.endAfterHeaders });
  up.on('response', (h) => {
    const rh: http2.OutgoingHttpHeaders = {};
    for (const k of Object.keys(h)) rh[k] = h[k];
    if (!stream.destroyed) stream.respond(rh);
  });
  up.on('data', (d: Buffer) => stream.write(d));
  up.on('end', () => stream.end());
  up.on('error', () => stream.destroy());
}

const server = http2.createServer({
  ...(opts.has('nomem') ? { maxSessionMemory: 16 } : {}),
  ...(opts.has('win') ? { settings: { initialWindowSize: 1 << 20 } } : {}),
});
server.on('stream', (stream, headers) => {
  if (mode === 'bare') {
    if (opts.has('arr')) stream.respond([':status', '200', 'content-type', 'text/plain', 'content-length', '2']);
    else stream.respond({ ':status': 200, 'content-type': 'text/plain', 'content-length': '2' });
    stream.end('ok');
  } else if (mode === 'h1' || mode === 'h1-trail') forwardH1(stream, headers);
  else forwardH2(stream, headers);
});
server.listen(listenPort, '127.0.0.1', () => process.stdout.write('ready\n'));
