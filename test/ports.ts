// Ports for multi-process tests that must tell a child process which port to listen on (so port 0 cannot be used).
// Ports from bind(0) come from the kernel's ephemeral range, the same range outgoing connections take their source
// ports from: with many tests running at once, such a port can be taken by a client socket before the child binds it
// (EADDRINUSE). So pick random ports below the ephemeral range, never hand one out twice in a process, and check that
// each one binds on every host asked for.
import net from 'node:net';

const given = new Set<number>();
const LOW = 20_000;
const HIGH = 32_000; // ip_local_port_range starts at 32768 by default

function bindable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A port that is free now on `host` (and on 127.0.0.1 and 0.0.0.0 when host is either), outside the ephemeral range. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (given.has(port)) continue;
    if (!(await bindable(host, port))) continue;
    if (host !== '0.0.0.0' && !(await bindable('0.0.0.0', port))) continue;
    given.add(port);
    return port;
  }
  throw new Error(`no free port found in ${LOW}-${HIGH} on ${host}`);
}
