// gRPC through the sidecar in explicit mode: grpc-js honours grpc_proxy/http_proxy by opening an HTTP CONNECT
// tunnel, which the proxy routes by authority (service name and port) to the cluster, so unary and streaming calls
// reach the server by name without DNS. (HTTP/2-aware L7 routing of gRPC is not built yet.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { outboundListener, routeConfig, startProxy, startUpstream, staticCluster, vhost } from './helpers.ts';

const bytes = { serialize: (b: Buffer): Buffer => b, deserialize: (b: Buffer): Buffer => b };
const service: grpc.ServiceDefinition = {
  Echo: { path: '/test.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: bytes.serialize, requestDeserialize: bytes.deserialize, responseSerialize: bytes.serialize, responseDeserialize: bytes.deserialize },
  Count: { path: '/test.Echo/Count', requestStream: false, responseStream: true, requestSerialize: bytes.serialize, requestDeserialize: bytes.deserialize, responseSerialize: bytes.serialize, responseDeserialize: bytes.deserialize },
};

test('grpc-js through the explicit sidecar (CONNECT): unary and server-streaming calls by service name', async (t) => {
  const server = new grpc.Server();
  server.addService(service, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.concat([Buffer.from('echo:'), call.request])),
    Count: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      for (let i = 1; i <= 3; i++) call.write(Buffer.from(String(i)));
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const p = await startProxy({
    clusters: [staticCluster('outbound|9090||greeter.default.svc.cluster.local', [port])],
    listeners: [outboundListener(9090)],
    routes: [routeConfig('9090', [vhost('greeter', ['greeter:9090'], [{ match: { prefix: '/' }, route: { cluster: 'outbound|9090||greeter.default.svc.cluster.local' } }])])],
  });
  const saved = process.env['grpc_proxy'];
  process.env['grpc_proxy'] = `http://127.0.0.1:${p.port}`;
  const Client = grpc.makeGenericClientConstructor(service, 'Echo');
  const client = new Client('greeter:9090', grpc.credentials.createInsecure());
  if (saved === undefined) delete process.env['grpc_proxy'];
  else process.env['grpc_proxy'] = saved;
  t.after(() => {
    client.close();
    server.forceShutdown();
    p.close();
  });
  const unary = await new Promise<Buffer>((resolve, reject) =>
    (client as unknown as { Echo: (req: Buffer, cb: (e: grpc.ServiceError | null, r?: Buffer) => void) => void }).Echo(Buffer.from('hi'), (e, r) => (e ? reject(e) : resolve(r!))),
  );
  assert.equal(unary.toString(), 'echo:hi');
  const streamed = await new Promise<string[]>((resolve, reject) => {
    const got: string[] = [];
    const call = (client as unknown as { Count: (req: Buffer) => grpc.ClientReadableStream<Buffer> }).Count(Buffer.from(''));
    call.on('data', (d: Buffer) => got.push(d.toString()));
    call.on('end', () => resolve(got));
    call.on('error', reject);
  });
  assert.deepEqual(streamed, ['1', '2', '3']);
});

test('HTTP/2 (h2c prior knowledge): gRPC routed at L7 by :authority to an http2 cluster — unary, streaming, status trailers, UNAVAILABLE for no endpoints', async (t) => {
  const server = new grpc.Server();
  server.addService(service, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      if (call.request.toString() === 'fail') return cb({ code: grpc.status.PERMISSION_DENIED, details: 'nope' });
      cb(null, Buffer.concat([Buffer.from(`echo(${String(call.metadata.get('x-forwarded-proto')[0])}):`), call.request]));
    },
    Count: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      for (let i = 1; i <= 3; i++) call.write(Buffer.from(String(i)));
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const h2 = { typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicit_http_config: { http2_protocol_options: {} } } } };
  const p = await startProxy({
    clusters: [staticCluster('outbound|9090||greeter.default.svc.cluster.local', [port], h2), staticCluster('outbound|9090||empty.default.svc.cluster.local', [], h2)],
    listeners: [outboundListener(9090)],
    routes: [
      routeConfig('9090', [
        vhost('greeter', ['greeter:9090'], [{ match: { prefix: '/' }, route: { cluster: 'outbound|9090||greeter.default.svc.cluster.local' } }]),
        vhost('empty', ['empty:9090'], [{ match: { prefix: '/' }, route: { cluster: 'outbound|9090||empty.default.svc.cluster.local' } }]),
      ]),
    ],
  });
  const Client = grpc.makeGenericClientConstructor(service, 'Echo');
  // The app talks h2c to its sidecar; the :authority names the service.
  const client = new Client(`127.0.0.1:${p.port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'greeter:9090', 'grpc.enable_http_proxy': 0 });
  const empty = new Client(`127.0.0.1:${p.port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'empty:9090', 'grpc.enable_http_proxy': 0 });
  t.after(() => {
    client.close();
    empty.close();
    server.forceShutdown();
    p.close();
  });
  type Unary = { Echo: (req: Buffer, cb: (e: grpc.ServiceError | null, r?: Buffer) => void) => void };
  const echo = (c: unknown, msg: string): Promise<Buffer> => new Promise((resolve, reject) => (c as Unary).Echo(Buffer.from(msg), (e, r) => (e ? reject(e) : resolve(r!))));
  assert.equal((await echo(client, 'hi')).toString(), 'echo(http):hi');
  await assert.rejects(echo(client, 'fail'), (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED && e.details === 'nope');
  const streamed = await new Promise<string[]>((resolve, reject) => {
    const got: string[] = [];
    const call = (client as unknown as { Count: (req: Buffer) => grpc.ClientReadableStream<Buffer> }).Count(Buffer.from(''));
    call.on('data', (d: Buffer) => got.push(d.toString()));
    call.on('end', () => resolve(got));
    call.on('error', reject);
  });
  assert.deepEqual(streamed, ['1', '2', '3']);
  await assert.rejects(echo(empty, 'x'), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE && /no healthy upstream/.test(e.details));
  assert.match(p.engine.metrics.render(), /istio_requests_total\{[^}]*destination_service="greeter\.default\.svc\.cluster\.local"[^}]*response_code="200"[^}]*\} 3/);
});

test('HTTP/2 client to an HTTP/1.1 cluster: curl --http2-prior-knowledge, GET and POST, bridged to HTTP/1.1', async (t) => {
  const a = await startUpstream('h1-app');
  const p = await startProxy({ clusters: [staticCluster('app', [a.port])], listeners: [outboundListener(80)], routes: [routeConfig('80', [vhost('all', ['*'], [{ match: { prefix: '/' }, route: { cluster: 'app' } }])])] });
  t.after(async () => {
    p.close();
    await a.close();
  });
  const curl = async (args: string[]): Promise<string> => (await promisify(execFile)('curl', ['-sS', '--max-time', '5', '--http2-prior-knowledge', '-H', 'Host: svc', ...args, `http://127.0.0.1:${p.port}/h2?x=1`])).stdout;
  const get = await curl(['-D', '-']);
  assert.match(get, /^HTTP\/2 200/);
  assert.match(get, /x-seen-path: \/h2\?x=1/);
  assert.match(get, /h1-app$/);
  assert.equal(await curl(['-d', 'posted']), 'h1-app:posted');
});

test('HTTP/2: the route timeout ends a stuck gRPC call with DEADLINE_EXCEEDED (504 UT)', async (t) => {
  const server = new grpc.Server();
  server.addService(service, { Echo: () => undefined, Count: () => undefined }); // never answers
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const h2 = { typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicit_http_config: { http2_protocol_options: {} } } } };
  const p = await startProxy({
    clusters: [staticCluster('stuck', [port], h2)],
    listeners: [outboundListener(9090)],
    routes: [routeConfig('9090', [vhost('stuck', ['stuck:9090'], [{ match: { prefix: '/' }, route: { cluster: 'stuck', timeout: { nanos: 200_000_000 } } }])])],
  });
  const Client = grpc.makeGenericClientConstructor(service, 'Echo');
  const client = new Client(`127.0.0.1:${p.port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'stuck:9090', 'grpc.enable_http_proxy': 0 });
  t.after(() => {
    client.close();
    server.forceShutdown();
    p.close();
  });
  await assert.rejects(
    new Promise((resolve, reject) => (client as unknown as { Echo: (r: Buffer, cb: (e: Error | null, v?: Buffer) => void) => void }).Echo(Buffer.from('x'), (e, v) => (e ? reject(e) : resolve(v)))),
    (e: grpc.ServiceError) => e.code === grpc.status.DEADLINE_EXCEEDED && /upstream request timeout/.test(e.details),
  );
});
