// The echo service definition and plain @grpc/grpc-js backends for the interop tests. A backend answers with its
// name; a flaky one fails every other call with UNAVAILABLE (so retries are observable).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

export const echoProto = fileURLToPath(new URL('./echo.proto', import.meta.url));

export type EchoClientCtor = new (address: string, creds: grpc.ChannelCredentials, options?: grpc.ClientOptions) => grpc.Client & {
  Call(req: { payload: string }, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: { backend: string }) => void): grpc.ClientUnaryCall;
};

export function echoPackage(): { Echo: EchoClientCtor & { service: grpc.ServiceDefinition } } {
  const def = protoLoader.loadSync(echoProto, { keepCase: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { weft: { test: { Echo: EchoClientCtor & { service: grpc.ServiceDefinition } } } };
  return pkg.weft.test;
}

export interface Backend {
  name: string;
  port: number;
  /** Calls received (attempts, including failed ones). */
  calls(): number;
  close(): Promise<void>;
}

/** Start an echo backend on 127.0.0.1:0. `flaky`: odd-numbered calls fail with UNAVAILABLE. */
export async function startBackend(name: string, opts: { flaky?: boolean } = {}): Promise<Backend> {
  const server = new grpc.Server();
  let n = 0;
  server.addService(echoPackage().Echo.service, {
    Call: (call: grpc.ServerUnaryCall<{ payload: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      n++;
      if (opts.flaky && n % 2 === 1) return cb({ code: grpc.status.UNAVAILABLE, details: `${name}: failing call ${n} on purpose` });
      cb(null, { backend: name, payload: call.request.payload });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return {
    name,
    port,
    calls: () => n,
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
}
