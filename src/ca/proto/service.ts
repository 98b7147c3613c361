// The CSR service contract shared by the CA (server) and the workload agent (client): the gRPC service definition
// of istio.v1.auth.IstioCertificateService, loaded from ./ca.proto, and the message shapes as TypeScript types.
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import * as grpc from '@grpc/grpc-js';

/** Full gRPC method path, as it appears in logs and metrics. */
export const createCertificatePath = '/istio.v1.auth.IstioCertificateService/CreateCertificate';

/** Audience that bootstrap tokens for the CA must carry (Istio's CA audience). */
export const caTokenAudience = 'istio-ca';

export interface IstioCertificateRequest {
  csr: string;
  /** Seconds; int64 on the wire, decoded as a number. */
  validity_duration: number;
  metadata?: { fields?: Record<string, unknown> } | null;
}

export interface IstioCertificateResponse {
  cert_chain: string[];
}

const packageDefinition = protoLoader.loadSync(fileURLToPath(new URL('./ca.proto', import.meta.url)), {
  keepCase: true,
  longs: Number,
  defaults: true,
  oneofs: true,
});

const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as {
  istio: { v1: { auth: { IstioCertificateService: grpc.ServiceClientConstructor } } };
};

/** The service constructor: `.service` is the definition to register on a server; `new` makes a client. */
export const IstioCertificateService = loaded.istio.v1.auth.IstioCertificateService;

export type IstioCertificateClient = grpc.Client & {
  CreateCertificate(
    req: Partial<IstioCertificateRequest>,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    cb: (e: grpc.ServiceError | null, res?: IstioCertificateResponse) => void,
  ): grpc.ClientUnaryCall;
};

export function newCertificateClient(address: string, creds: grpc.ChannelCredentials, options: grpc.ChannelOptions = {}): IstioCertificateClient {
  return new IstioCertificateService(address, creds, options) as unknown as IstioCertificateClient;
}
