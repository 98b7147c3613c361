// The floor of any Node proxy: a TCP pipe (net sockets piped both ways, no HTTP). Usage: node tcp-pipe.ts LISTEN UPSTREAM
import * as net from 'node:net';

const [listen, upstream] = process.argv.slice(2).map(Number);
net
  .createServer({ noDelay: true }, (down) => {
    const up = net.connect({ port: upstream!, host: '127.0.0.1', noDelay: true });
    down.pipe(up).pipe(down);
    const close = (): void => void (down.destroy(), up.destroy());
    down.on('error', close).on('close', close);
    up.on('error', close).on('close', close);
  })
  .listen(listen, '127.0.0.1', () => console.log('ready'));
