import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as tls from 'node:tls';
import fc from 'fast-check';
import { peekClientHello } from './client-hello.ts';

/** The first bytes a real Node TLS client sends for these options. */
function realHello(opts: tls.ConnectionOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((s) => {
      let buf = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (peekClientHello(buf).kind !== 'more') {
          s.destroy();
          server.close();
          resolve(buf);
        }
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const c = tls.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, ...opts });
      c.on('error', () => undefined);
    });
    server.on('error', reject);
  });
}

test('reads SNI (lower-cased) and ALPN from a real ClientHello, at every split point', async () => {
  const hello = await realHello({ servername: 'Api.Example.COM', ALPNProtocols: ['h2', 'http/1.1'] });
  assert.deepEqual(peekClientHello(hello), { kind: 'hello', sni: 'api.example.com', alpn: ['h2', 'http/1.1'] });
  for (let i = 1; i < hello.length; i++) assert.equal(peekClientHello(hello.subarray(0, i)).kind, 'more', `split at ${i}`);
  const bare = await realHello({});
  assert.deepEqual(peekClientHello(bare), { kind: 'hello', sni: undefined, alpn: [] });
});

test('plaintext and garbage are classified, never thrown on', () => {
  assert.equal(peekClientHello(Buffer.from('GET / HTTP/1.1\r\n')).kind, 'plaintext');
  assert.equal(peekClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00])).kind, 'invalid');
  assert.equal(peekClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0, 0, 0])).kind, 'invalid');
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const b = Buffer.from([0x16, 0x03, 0x01, ...bytes]);
      const r = peekClientHello(b);
      assert.ok(['more', 'invalid', 'hello'].includes(r.kind));
    }),
    { numRuns: 500 },
  );
});
