// Loads stream.proto for the gRPC app and the tests' clients.
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

export interface Msg {
  text: string;
  n: number;
}

export interface StreamsDef {
  service: grpc.ServiceDefinition;
  Client: grpc.ServiceClientConstructor;
}

export function loadStreams(): StreamsDef {
  const def = loader.loadSync(fileURLToPath(new URL('./stream.proto', import.meta.url)), { defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { weft: { e2e: { Streams: grpc.ServiceClientConstructor } } };
  return { service: pkg.weft.e2e.Streams.service, Client: pkg.weft.e2e.Streams };
}
