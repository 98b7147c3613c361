// The node:http2 gRPC client against real servers: a @grpc/grpc-js server (unary, bidi streaming, metadata, status
// and trailers-only answers, deadlines, cancellation, TLS and mutual TLS with openssl-made certificates), raw
// node:http2 servers for what grpc-js never sends (HTTP errors, compressed or truncated messages), and a TCP relay
// that goes silent so that keepalive pings must notice the dead peer.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { GrpcChannel, GrpcError, GrpcStatus, type GrpcStatusInfo, type MethodDescriptor } from './index.ts';
import { decodeGrpcMessage, encodeGrpcMessage, formatGrpcTimeout } from './status.ts';
import { MessageDecoder, frameMessage } from './framing.ts';

const utf8: Omit<MethodDescriptor<string, string>, 'path'> = { encode: (s) => Buffer.from(s, 'utf8'), decode: (b) => b.toString('utf8') };
const method = (name: string): MethodDescriptor<string, string> => ({ path: `/weft.test.Echo/${name}`, ...utf8 });

const identity = (b: Buffer): Buffer => b;
const def = (name: string, stream: boolean): grpc.MethodDefinition<Buffer, Buffer> => ({
  path: `/weft.test.Echo/${name}`,
  requestStream: stream,
  responseStream: stream,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});
const service: grpc.ServiceDefinition = { Unary: def('Unary', false), Slow: def('Slow', false), Fail: def('Fail', false), Bidi: def('Bidi', true), Hold: def('Hold', true), Stop: def('Stop', true), Refuse: def('Refuse', true) };

/** What the grpc-js server saw, for assertions on the server side. */
const seen = { cancelled: [] as string[], metadata: [] as grpc.Metadata[], deadlines: [] as number[] };
const cancelledWaiters: (() => void)[] = [];

function handlers(): grpc.UntypedServiceImplementation {
  return {
    Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      seen.metadata.push(call.metadata);
      const auth = call.metadata.get('authorization')[0] ?? '';
      cb(null, Buffer.concat([call.request, Buffer.from(auth ? ` [${String(auth)}]` : '')]));
    },
    Slow: (call: grpc.ServerUnaryCall<Buffer, Buffer>) => {
      const d = call.getDeadline();
      seen.deadlines.push(d instanceof Date ? d.getTime() - Date.now() : Number(d) - Date.now());
      call.on('cancelled', () => {
        seen.cancelled.push('Slow');
        for (const w of cancelledWaiters.splice(0)) w();
      });
    },
    // Fails before sending anything: grpc-js answers trailers-only.
    Fail: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const md = new grpc.Metadata();
      md.set('x-reason', 'teapot');
      cb({ code: Number(call.request.toString()), details: 'bad thing: 100% ✓ done', metadata: md });
    },
    Bidi: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (b: Buffer) => call.write(Buffer.from(`echo:${b.toString()}`)));
      call.on('end', () => call.end());
    },
    // Refuses the stream at its first message, before any response (trailers-only), as the ADS server does.
    Refuse: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.once('data', () => call.emit('error', { code: GrpcStatus.INVALID_ARGUMENT, details: 'node: WorkloadGroup default/nope not found' }));
    },
    // Answers the first message and ends the call with OK while the client is still sending.
    Stop: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.once('data', () => {
        call.write(Buffer.from('bye'));
        call.end();
      });
    },
    // Streams a response, then ends with a status and trailing metadata.
    Hold: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.write(Buffer.from('first'));
      call.on('data', (b: Buffer) => {
        const md = new grpc.Metadata();
        md.set('x-trailer', 'yes');
        call.emit('error', { code: GrpcStatus.FAILED_PRECONDITION, details: `stopped at ${b.toString()}`, metadata: md });
      });
      call.on('cancelled', () => {
        seen.cancelled.push('Hold');
        for (const w of cancelledWaiters.splice(0)) w();
      });
    },
  };
}

function waitCancelled(): Promise<void> {
  return new Promise((r) => cancelledWaiters.push(r));
}

async function startGrpc(creds: grpc.ServerCredentials): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(service, handlers());
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (e, p) => (e ? reject(e) : resolve(p))));
  return { server, port };
}

const dir = mkdtempSync(join(tmpdir(), 'weft-grpc-'));
const pem = (f: string): string => readFileSync(join(dir, f), 'utf8');
/** A root, a server certificate for cp.weft.test and 127.0.0.1, and a client certificate, made with openssl. */
function makeCerts(): void {
  const o = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  o(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=weft test root']);
  for (const [n, san] of [
    ['server', 'DNS:cp.weft.test,IP:127.0.0.1'],
    ['client', 'URI:spiffe://cluster.local/ns/default/sa/test'],
  ] as const) {
    o(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${n}.key`, '-out', `${n}.csr`, '-subj', `/CN=${n}`]);
    writeFileSync(join(dir, `${n}.ext`), `subjectAltName=${san}\n`);
    o(['x509', '-req', '-in', `${n}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${n}.pem`, '-days', '2', '-extfile', `${n}.ext`]);
  }
}

let plain: { server: grpc.Server; port: number };
before(async () => {
  makeCerts();
  plain = await startGrpc(grpc.ServerCredentials.createInsecure());
});
after(() => {
  plain.server.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

function channel(port: number, o: ConstructorParameters<typeof GrpcChannel>[1] = {}): GrpcChannel {
  const ch = new GrpcChannel(`127.0.0.1:${port}`, o);
  after(() => ch.close());
  return ch;
}

async function rejects(p: Promise<unknown>): Promise<GrpcError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof GrpcError, String(e));
    return e;
  }
  assert.fail('expected the call to fail');
}

test('unary over h2c with request metadata; calls share one connection', async () => {
  const ch = channel(plain.port);
  assert.equal(await ch.unary(method('Unary'), 'hello', { metadata: { authorization: 'Bearer t0k', ClusterID: 'Kubernetes' } }), 'hello [Bearer t0k]');
  assert.equal(seen.metadata.at(-1)!.get('clusterid')[0], 'Kubernetes');
  const many = await Promise.all(Array.from({ length: 20 }, (_, i) => ch.unary(method('Unary'), `m${i}`)));
  assert.deepEqual(many, Array.from({ length: 20 }, (_, i) => `m${i}`));
  assert.equal(ch.connections, 1);
});

test('status, percent-decoded grpc-message and metadata from a trailers-only answer', async () => {
  const ch = channel(plain.port);
  const e = await rejects(ch.unary(method('Fail'), String(GrpcStatus.PERMISSION_DENIED)));
  assert.equal(e.code, GrpcStatus.PERMISSION_DENIED);
  assert.equal(e.details, 'bad thing: 100% ✓ done');
  assert.equal(e.metadata['x-reason'], 'teapot');
  assert.match(e.message, /\/weft\.test\.Echo\/Fail: PERMISSION_DENIED: bad thing/);
});

test('bidirectional stream: messages both ways, half-close, OK status', async () => {
  const ch = channel(plain.port);
  const call = ch.call(method('Bidi'));
  const got: string[] = [];
  call.on('message', (m) => {
    got.push(m);
    if (got.length < 3) call.write(`n${got.length}`);
    else call.end();
  });
  call.write('n0');
  const [status] = (await once(call, 'status')) as [GrpcStatusInfo];
  assert.equal(status.code, GrpcStatus.OK);
  assert.deepEqual(got, ['echo:n0', 'echo:n1', 'echo:n2']);
});

test('a streaming call ends with the status and trailers the server sends after messages', async () => {
  const ch = channel(plain.port);
  const call = ch.call(method('Hold'));
  const [first] = (await once(call, 'message')) as [string];
  assert.equal(first, 'first');
  call.write('here');
  // grpc-js sends a duplex call's error status once the client has half-closed.
  call.end();
  const [status] = (await once(call, 'status')) as [GrpcStatusInfo];
  assert.equal(status.code, GrpcStatus.FAILED_PRECONDITION);
  assert.equal(status.details, 'stopped at here');
  assert.equal(status.metadata['x-trailer'], 'yes');
});

test('the server ending a stream the client has not half-closed ends the call (trailers-only and after messages)', async () => {
  const ch = channel(plain.port);
  const refused = ch.call(method('Refuse'));
  refused.write('hello?');
  const [early] = (await once(refused, 'status')) as [GrpcStatusInfo];
  assert.equal(early.code, GrpcStatus.INVALID_ARGUMENT);
  assert.equal(early.details, 'node: WorkloadGroup default/nope not found');
  const call = ch.call(method('Stop'));
  const got: string[] = [];
  call.on('message', (m) => got.push(m));
  call.write('go');
  const [late] = (await once(call, 'status')) as [GrpcStatusInfo];
  assert.deepEqual(got, ['bye']);
  assert.equal(late.code, GrpcStatus.OK);
  assert.equal(await ch.unary(method('Unary'), 'still fine'), 'still fine');
});

test('deadline: grpc-timeout reaches the server, the client ends with DEADLINE_EXCEEDED and resets the stream', async () => {
  const ch = channel(plain.port);
  const cancelled = waitCancelled();
  const e = await rejects(ch.unary(method('Slow'), 'x', { timeoutMs: 300 }));
  assert.equal(e.code, GrpcStatus.DEADLINE_EXCEEDED);
  const d = seen.deadlines.at(-1)!;
  assert.ok(d > 0 && d <= 300, `server deadline ${d} ms`);
  await cancelled;
});

test('cancellation (cancel() and AbortSignal) reaches the server as RST_STREAM', async () => {
  const ch = channel(plain.port);
  const call = ch.call(method('Hold'));
  await once(call, 'message');
  const cancelled = waitCancelled();
  call.cancel();
  assert.equal(call.status?.code, GrpcStatus.CANCELLED);
  await cancelled;
  const ac = new AbortController();
  const p = ch.unary(method('Slow'), 'x', { signal: ac.signal });
  const cancelled2 = waitCancelled();
  setImmediate(() => ac.abort());
  assert.equal((await rejects(p)).code, GrpcStatus.CANCELLED);
  await cancelled2;
  // The connection is still good for the next call.
  assert.equal(await ch.unary(method('Unary'), 'after'), 'after');
});

test('a connection refused is UNAVAILABLE naming the cause; the channel reconnects when the server is there', async () => {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const ch = channel(port);
  const e = await rejects(ch.unary(method('Unary'), 'x'));
  assert.equal(e.code, GrpcStatus.UNAVAILABLE);
  assert.match(e.details, /ECONNREFUSED/);
  const again = new grpc.Server();
  again.addService(service, handlers());
  await new Promise<number>((resolve, reject) => again.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  after(() => again.forceShutdown());
  assert.equal(await ch.unary(method('Unary'), 'back'), 'back');
});

test('TLS by IP: the certificate is checked against its IP SAN, no IP is sent as SNI (no DEP0123 warning)', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error & { code?: string }): number => warnings.push(`${w.code ?? ''} ${w.message}`);
  process.on('warning', onWarning);
  const s = await startGrpc(grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(pem('server.key')), cert_chain: Buffer.from(pem('server.pem')) }]));
  after(() => s.server.forceShutdown());
  try {
    assert.equal(await channel(s.port, { tls: { rootsPem: pem('ca.pem') } }).unary(method('Unary'), 'by-ip'), 'by-ip');
    assert.equal(await channel(s.port, { tls: { rootsPem: pem('ca.pem'), serverName: 'cp.weft.test' } }).unary(method('Unary'), 'by-name'), 'by-name');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(warnings.filter((w) => w.includes('DEP0123')), []);
  } finally {
    process.off('warning', onWarning);
  }
  const wrong = await rejects(channel(s.port, { tls: { rootsPem: pem('ca.pem'), serverName: 'istiod.istio-system.svc' } }).unary(method('Unary'), 'x'));
  assert.equal(wrong.code, GrpcStatus.UNAVAILABLE);
  assert.match(wrong.details, /istiod\.istio-system\.svc/);
  const untrusted = await rejects(channel(s.port, { tls: { rootsPem: pem('client.pem') } }).unary(method('Unary'), 'x'));
  assert.equal(untrusted.code, GrpcStatus.UNAVAILABLE);
});

test('mutual TLS: a server that requires a client certificate accepts ours and refuses a client without one', async () => {
  const s = await startGrpc(grpc.ServerCredentials.createSsl(Buffer.from(pem('ca.pem')), [{ private_key: Buffer.from(pem('server.key')), cert_chain: Buffer.from(pem('server.pem')) }], true));
  after(() => s.server.forceShutdown());
  const mtls = channel(s.port, { tls: { rootsPem: pem('ca.pem'), certChainPem: pem('client.pem'), keyPem: pem('client.key') } });
  assert.equal(await mtls.unary(method('Unary'), 'mutual'), 'mutual');
  const anon = await rejects(channel(s.port, { tls: { rootsPem: pem('ca.pem') } }).unary(method('Unary'), 'x'));
  assert.notEqual(anon.code, GrpcStatus.OK);
});

/** A raw HTTP/2 server answering every stream with `respond`. */
async function rawServer(respond: (stream: http2.ServerHttp2Stream) => void): Promise<number> {
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.on('error', () => undefined);
    respond(stream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  after(() => {
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

test('a server that is not gRPC: the HTTP status maps to a gRPC code', async () => {
  for (const [http, code] of [
    [404, GrpcStatus.UNIMPLEMENTED],
    [503, GrpcStatus.UNAVAILABLE],
    [401, GrpcStatus.UNAUTHENTICATED],
    [500, GrpcStatus.UNKNOWN],
  ] as const) {
    const port = await rawServer((s) => {
      s.respond({ ':status': http, 'content-type': 'text/html' });
      s.end('<html>nope</html>');
    });
    const e = await rejects(channel(port).unary(method('Unary'), 'x'));
    assert.equal(e.code, code, `HTTP ${http}`);
    assert.match(e.details, new RegExp(`HTTP ${http} with content-type text/html`));
  }
});

test('compressed response messages are refused with a clear error; a truncated message is INTERNAL', async () => {
  const gz = await rawServer((s) => {
    s.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-encoding': 'gzip' }, { waitForTrailers: true });
    s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
    const body = frameMessage(Buffer.from('zz'));
    body[0] = 1;
    s.end(body);
  });
  const e = await rejects(channel(gz).unary(method('Unary'), 'x'));
  assert.equal(e.code, GrpcStatus.INTERNAL);
  assert.match(e.details, /compressed message .*grpc-encoding gzip.*only uncompressed/);
  const cut = await rawServer((s) => {
    s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
    s.end(frameMessage(Buffer.from('whole message')).subarray(0, 9));
  });
  const t = await rejects(channel(cut).unary(method('Unary'), 'x'));
  assert.equal(t.code, GrpcStatus.INTERNAL);
  assert.match(t.details, /ended inside a message/);
  const missing = await rawServer((s) => {
    s.respond({ ':status': 200, 'content-type': 'application/grpc' });
    s.end(frameMessage(Buffer.from('no trailers')));
  });
  assert.match((await rejects(channel(missing).unary(method('Unary'), 'x'))).details, /without a grpc-status/);
  const big = await rawServer((s) => {
    s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
    s.end(frameMessage(Buffer.alloc(2048)));
  });
  assert.equal((await rejects(channel(big, { maxReceiveMessageBytes: 1024 }).unary(method('Unary'), 'x'))).code, GrpcStatus.RESOURCE_EXHAUSTED);
});

test('keepalive: a peer that stops answering (relay gone silent) fails open calls with UNAVAILABLE', async () => {
  let frozen = false;
  const sockets: net.Socket[] = [];
  const relay = net.createServer((down) => {
    const up = net.connect(plain.port, '127.0.0.1');
    sockets.push(down, up);
    down.on('data', (d) => void (frozen || up.write(d)));
    up.on('data', (d) => void (frozen || down.write(d)));
    down.on('error', () => undefined);
    up.on('error', () => undefined);
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  after(() => {
    for (const s of sockets) s.destroy();
    relay.close();
  });
  const ch = channel((relay.address() as net.AddressInfo).port, { keepaliveTimeMs: 100, keepaliveTimeoutMs: 300 });
  const call = ch.call(method('Bidi'));
  call.write('ping?');
  await once(call, 'message');
  frozen = true;
  const t0 = Date.now();
  const [status] = (await once(call, 'status')) as [GrpcStatusInfo];
  assert.equal(status.code, GrpcStatus.UNAVAILABLE);
  assert.match(status.details, /did not answer a keepalive ping within 300 ms/);
  assert.ok(Date.now() - t0 < 5000);
});

test('backpressure: write() returns false while HTTP/2 flow control holds data back, then drain', async () => {
  const ch = channel(plain.port);
  const call = ch.call(method('Bidi'));
  const chunk = 'x'.repeat(256 * 1024);
  let writes = 0;
  while (call.write(chunk) && writes < 1000) writes++;
  assert.ok(writes < 1000, 'flow control pushed back');
  await once(call, 'drain');
  call.end();
  const [status] = (await once(call, 'status')) as [GrpcStatusInfo];
  assert.equal(status.code, GrpcStatus.OK);
});

test('grpc-message, grpc-timeout and the message decoder', () => {
  assert.equal(decodeGrpcMessage(encodeGrpcMessage('50% ✓\nnext')), '50% ✓\nnext');
  assert.equal(decodeGrpcMessage('bad %zz escape %41'), 'bad %zz escape A');
  assert.equal(formatGrpcTimeout(1500), '1500m');
  assert.equal(formatGrpcTimeout(2e8), '200000S');
  const d = new MessageDecoder(100);
  const a = frameMessage(Buffer.from('one'));
  const b = frameMessage(Buffer.from(''));
  const c = frameMessage(Buffer.from('three'));
  const all = Buffer.concat([a, b, c]);
  const out: string[] = [];
  for (let i = 0; i < all.length; i += 2) for (const m of d.push(all.subarray(i, i + 2))) out.push(m.toString());
  assert.deepEqual(out, ['one', '', 'three']);
  assert.equal(d.pending, 0);
});
