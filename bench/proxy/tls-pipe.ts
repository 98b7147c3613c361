// The floor of any two-process Node.js mTLS path: one half of a pair of TCP pipes with mutual TLS between them (no
// HTTP, no routing, no metrics). `out` listens in plaintext and connects upstream over TLS with a client certificate;
// `in` terminates TLS (client certificate required and verified) and connects upstream in plaintext. Both pipe bytes
// both ways with stream.pipe, one upstream connection per downstream connection.
// Usage: node tls-pipe.ts out|in LISTEN UPSTREAM CERT_CHAIN_PEM KEY_PEM ROOT_PEM
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';

const [mode, listen, upstream, chain, key, root] = process.argv.slice(2);
// Key material as options (a tls.Server given a prebuilt `secureContext` fails the handshake here: "no suitable signature algorithm").
const material = { cert: readFileSync(chain!, 'utf8'), key: readFileSync(key!, 'utf8'), ca: readFileSync(root!, 'utf8') };
const pipe = (down: net.Socket, up: net.Socket): void => {
  down.pipe(up).pipe(down);
  const close = (): void => void (down.destroy(), up.destroy());
  down.on('error', close).on('close', close);
  up.on('error', close).on('close', close);
};
const connectUp = (): net.Socket =>
  mode === 'out'
    ? tls.connect({ port: Number(upstream), host: '127.0.0.1', ...material, checkServerIdentity: () => undefined }).setNoDelay(true)
    : net.connect({ port: Number(upstream), host: '127.0.0.1', noDelay: true });
const server =
  mode === 'in'
    ? tls.createServer({ ...material, requestCert: true, rejectUnauthorized: true, noDelay: true }, (down) => pipe(down, connectUp()))
    : net.createServer({ noDelay: true }, (down) => pipe(down, connectUp()));
server.listen(Number(listen), '127.0.0.1', () => console.log('ready'));
