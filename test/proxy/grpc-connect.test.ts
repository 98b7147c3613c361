// gRPC through the sidecar in explicit mode: grpc-js honours grpc_proxy/http_proxy by opening an HTTP CONNECT
// tunnel, which the proxy routes by authority (service name and port) to the cluster, so unary and streaming calls
// reach the server by name without DNS. (HTTP/2-aware L7 routing of gRPC is not built yet.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { outboundListener, routeConfig, startProxy, staticCluster, vhost } from './helpers.ts';

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
