// A minimal gRPC client over node:http2 (unary and streaming calls, h2c and TLS/mTLS, deadlines, keepalive), shared by
// the proxy's xDS client and the agent's CSR call so that a sidecar runs without @grpc/grpc-js. Messages are encoded
// by the callers. Depends on nothing in Weft but node: builtins (it must not import control-plane, proxy or CLI code).
export { GrpcChannel, parseAddress, type GrpcChannelOptions, type GrpcTlsOptions } from './channel.ts';
export { GrpcCall, type CallOptions, type MethodDescriptor } from './call.ts';
export { GrpcError, GrpcStatus, statusName, type GrpcMetadata, type GrpcStatusCode, type GrpcStatusInfo } from './status.ts';
