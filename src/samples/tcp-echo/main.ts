// A TCP echo server that prefixes each line with its version, as Istio's tcp-echo sample does
// (`registry.istio.io/release/tcp-echo-server`): `hello` to the "one" server comes back as `one hello`.
// Usage: node src/samples/tcp-echo/main.ts PORT[,PORT...] PREFIX   (listens on 127.0.0.1, for `weft run`)
import * as net from 'node:net';

/** Start the echo server on `port` (127.0.0.1); resolves with the bound port. */
export function startTcpEcho(port: number, prefix: string, host = '127.0.0.1'): Promise<net.Server> {
  const server = net.createServer((socket) => {
    let pending = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      pending += d;
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        socket.write(`${prefix} ${pending.slice(0, nl)}\n`);
        pending = pending.slice(nl + 1);
        nl = pending.indexOf('\n');
      }
    });
    // A last line without a newline (nc closing its side) is still answered.
    socket.on('end', () => (pending === '' ? socket.end() : socket.end(`${prefix} ${pending}\n`)));
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve(server));
  });
}

if (import.meta.main) {
  const [ports, prefix] = process.argv.slice(2);
  if (!ports || !prefix) {
    process.stderr.write('usage: tcp-echo PORT[,PORT...] PREFIX\n');
    process.exit(2);
  }
  const servers = await Promise.all(ports.split(',').map((p) => startTcpEcho(Number(p), prefix)));
  process.stdout.write(`tcp-echo ${prefix} listening on ${ports}\n`);
  const stop = (): void => {
    for (const s of servers) s.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
