import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { directWriteAvailable, setDirectWrite, writeSocket } from './socket-write.ts';

/** A server that holds each connection's bytes unread until `release()`, then collects them to the end. */
async function holdingServer(): Promise<{ port: number; received: Promise<Buffer>; release: () => void; close: () => void }> {
  let release = (): void => undefined;
  let resolveReceived: (b: Buffer) => void = () => undefined;
  const received = new Promise<Buffer>((r) => (resolveReceived = r));
  const server = net.createServer((s) => {
    s.pause();
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => {
      resolveReceived(Buffer.concat(parts));
      s.end();
    });
    release = () => s.resume();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as net.AddressInfo).port, received, release: () => release(), close: () => server.close() };
}

for (const direct of [true, false]) {
  test(`writes that the kernel cannot take at once arrive whole and in order, with 'drain' (direct ${direct})`, { timeout: 30_000 }, async () => {
    setDirectWrite(direct);
    try {
      const srv = await holdingServer();
      const sock = net.connect(srv.port, '127.0.0.1');
      await once(sock, 'connect');
      const parts: Buffer[] = [];
      const send = (b: Buffer | string): boolean => {
        parts.push(typeof b === 'string' ? Buffer.from(b, 'latin1') : b);
        return writeSocket(sock, b);
      };
      assert.equal(send('head\r\n'), true);
      // 16 MiB while the peer reads nothing: far more than both socket buffers, so the write goes asynchronous.
      const big = randomBytes(16 * 1024 * 1024);
      const ok = send(big);
      assert.equal(ok, false);
      // Further writes while bytes are queued (through either path) keep their order.
      send('tail-1\r\n');
      sock.write('tail-2\r\n', 'latin1');
      parts.push(Buffer.from('tail-2\r\n'));
      send(Buffer.from('tail-3\r\n'));
      const drained = once(sock, 'drain');
      srv.release();
      await drained;
      sock.end();
      const got = await srv.received;
      assert.equal(got.length, Buffer.concat(parts).length);
      assert.ok(got.equals(Buffer.concat(parts)));
      sock.destroy();
      srv.close();
    } finally {
      setDirectWrite(true);
    }
  });
}

test('a write to a peer that reset the connection destroys the socket with the error', { timeout: 30_000 }, async () => {
  // The peer resets as soon as the first bytes arrive.
  const server = net.createServer((s) => s.once('data', () => s.resetAndDestroy()));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    // Not reading (a socket with `onread` stops reading when paused): the reset is found by a write.
    const sock = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', onread: { buffer: Buffer.alloc(1024), callback: () => true } });
    await once(sock, 'connect');
    sock.pause();
    const closed = new Promise((r) => sock.once('close', r));
    const errors: NodeJS.ErrnoException[] = [];
    sock.on('error', (e) => errors.push(e));
    // Keep writing until the reset is seen (bounded): the socket must end up destroyed with an error.
    for (let i = 0; i < 500 && !sock.destroyed; i++) {
      writeSocket(sock, Buffer.alloc(16 * 1024, 1));
      await new Promise((r) => setTimeout(r, 2));
    }
    await closed;
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.syscall, 'write');
  } finally {
    server.close();
  }
});

test('direct writes are available on this Node.js (else every write takes the Writable path)', () => {
  assert.equal(directWriteAvailable(), true);
});
