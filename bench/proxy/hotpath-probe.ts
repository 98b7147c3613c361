// The floor of a Node HTTP/1.1 proxy hop on this machine: a minimal raw-socket proxy (no routing, no metrics, no
// validation beyond finding the head end and Content-Length) that rebuilds both heads as strings, as Weft does.
// Used as a target of bench/proxy/hotpath-ab.ts to see how far Weft is from what Node itself costs.
//   node bench/proxy/hotpath-probe.ts LISTEN_PORT UPSTREAM_PORT [onread]
// With `onread`, upstream sockets read into one reused buffer (net.connect's onread option) instead of a new
// Buffer per read, and without the Readable stream's push path.
import * as net from 'node:net';

const listenPort = Number(process.argv[2]);
const upstreamPort = Number(process.argv[3]);
const useOnread = process.argv[4] === 'onread';
const readBuf = Buffer.allocUnsafe(65536);

interface Pair {
  down: net.Socket;
  up: net.Socket;
}

function onResponse(p: Pair, d: Buffer): void {
  const text = d.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return;
  const m = /\r\ncontent-length: *(\d+)/i.exec(text);
  const len = m ? Number(m[1]) : 0;
  const lines = text.slice(0, end).split('\r\n');
  let head = `HTTP/1.1 ${lines[0]!.slice(9)}\r\n`;
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    const c = l.indexOf(':');
    const name = l.slice(0, c).toLowerCase();
    if (name === 'connection') continue;
    head += `${name}: ${l.slice(c + 1).trim()}\r\n`;
  }
  p.down.write(head + '\r\n' + text.slice(end + 4, end + 4 + len), 'latin1');
}

net
  .createServer((down) => {
    down.setNoDelay(true);
    const p: Pair = { down, up: undefined as unknown as net.Socket };
    p.up = useOnread
      ? net.connect({ port: upstreamPort, host: '127.0.0.1', noDelay: true, onread: { buffer: readBuf, callback: (n, b) => (onResponse(p, Buffer.from(b.buffer, b.byteOffset, n)), true) } })
      : net.connect({ port: upstreamPort, host: '127.0.0.1', noDelay: true });
    if (!useOnread) p.up.on('data', (d: Buffer) => onResponse(p, d));
    p.up.on('error', () => down.destroy());
    down.on('error', () => p.up.destroy());
    down.on('close', () => p.up.destroy());
    down.on('data', (d: Buffer) => {
      const text = d.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const first = text.indexOf('\r\n');
      const [method, target] = text.slice(0, first).split(' ');
      let head = `${method} ${target} HTTP/1.1\r\n`;
      for (const l of text.slice(first + 2, end).split('\r\n')) {
        const c = l.indexOf(':');
        head += `${l.slice(0, c).toLowerCase()}: ${l.slice(c + 1).trim()}\r\n`;
      }
      p.up.write(head + 'x-forwarded-proto: http\r\n\r\n', 'latin1');
    });
  })
  .listen(listenPort, '127.0.0.1', () => process.stdout.write('ready\n'));
