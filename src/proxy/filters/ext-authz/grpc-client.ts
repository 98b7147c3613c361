// gRPC client for envoy.service.auth.v3.Authorization/Check, with the service loaded from the Envoy protos that
// @grpc/grpc-js-xds ships (the same include dirs as src/xds/protos.ts). One channel per authorizer address.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoIncludeDirs } from '../../../xds/protos.ts';

export interface CheckRequestMessage {
  attributes: {
    source: { address: { socket_address: { address: string; port_value: number } }; principal: string };
    destination: { address: { socket_address: { address: string; port_value: number } }; principal: string };
    request: { http: { id: string; method: string; headers: Record<string, string>; path: string; host: string; scheme: string; protocol: string; body?: string } };
  };
}

export interface CheckResponseMessage {
  status?: { code?: number; message?: string };
  ok_response?: { headers?: Array<{ header?: { key?: string; value?: string } }>; headers_to_remove?: string[] };
  denied_response?: { status?: { code?: string | number }; headers?: Array<{ header?: { key?: string; value?: string } }>; body?: string };
}

type CheckFn = (req: CheckRequestMessage, meta: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: CheckResponseMessage) => void) => void;
type AuthorizationClient = grpc.Client & { Check: CheckFn };

let ctor: grpc.ServiceClientConstructor | undefined;

/** The Authorization service package (envoy.service.auth.v3), loaded once. */
export function authorizationService(): grpc.ServiceClientConstructor {
  if (ctor) return ctor;
  const def = protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', { keepCase: true, longs: Number, enums: String, defaults: false, oneofs: true, includeDirs: protoIncludeDirs });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } } };
  ctor = pkg.envoy.service.auth.v3.Authorization;
  return ctor;
}

const clients = new Map<string, AuthorizationClient>();

/** Call Check on `address` (`host:port`) within `timeoutMs`. */
export function grpcCheck(address: string, authority: string, req: CheckRequestMessage, timeoutMs: number): Promise<CheckResponseMessage> {
  let client = clients.get(address);
  if (!client) {
    const C = authorizationService();
    client = new C(address, grpc.credentials.createInsecure(), { 'grpc.default_authority': authority }) as unknown as AuthorizationClient;
    clients.set(address, client);
  }
  const c = client;
  return new Promise((resolve, reject) => {
    c.Check(req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res ?? {})));
  });
}

/** Close every cached channel (tests, shutdown). */
export function closeGrpcClients(): void {
  for (const c of clients.values()) c.close();
  clients.clear();
}
