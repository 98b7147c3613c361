// gRPC client for envoy.service.auth.v3.Authorization/Check on the proxy's own gRPC client (src/core/grpc), with the
// request and response encoded by the wire codec from the few message definitions below (field numbers from Envoy's
// external_auth.proto, attribute_context.proto and their imports): a sidecar with a gRPC authorizer loads neither
// @grpc/grpc-js nor protobufjs. One channel per authorizer address, idle channels do not keep the process alive.
import { GrpcChannel, type MethodDescriptor } from '../../../core/grpc/index.ts';
import type { TypeJson } from '../../../xds/descriptor-index.ts';
import { WireCodec } from '../../../xds/wire-codec.ts';

export const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';

export interface CheckRequestMessage {
  attributes: {
    source: { address: { socket_address: { address: string; port_value: number } }; principal: string };
    destination: { address: { socket_address: { address: string; port_value: number } }; principal: string };
    request: { http: { id: string; method: string; headers: Record<string, string>; path: string; host: string; scheme: string; protocol: string; body?: string } };
  };
}

export interface HeaderOption {
  header?: { key?: string; value?: string; raw_value?: Uint8Array };
  append?: { value?: boolean };
}

export interface CheckResponseMessage {
  status?: { code?: number; message?: string };
  ok_response?: { headers?: HeaderOption[]; headers_to_remove?: string[] };
  /** `status.code` is Envoy's StatusCode enum, read as its number (403 …). */
  denied_response?: { status?: { code?: string | number }; headers?: HeaderOption[]; body?: string };
}

const A = '.envoy.service.auth.v3.AttributeContext';
const str = (id: number): { type: string; id: number } => ({ type: 'string', id });
const headerOptions = (id: number): { type: string; id: number; rule: 'repeated' } => ({ type: '.envoy.config.core.v3.HeaderValueOption', id, rule: 'repeated' });

/** The messages of Check, with the fields Weft sends or reads (the decoder skips the others). */
const TYPES: Record<string, TypeJson> = {
  'envoy.service.auth.v3.CheckRequest': { fields: { attributes: { type: A, id: 1 } } },
  'envoy.service.auth.v3.AttributeContext': {
    fields: { source: { type: `${A}.Peer`, id: 1 }, destination: { type: `${A}.Peer`, id: 2 }, request: { type: `${A}.Request`, id: 4 }, context_extensions: { type: 'string', keyType: 'string', id: 10 } },
  },
  'envoy.service.auth.v3.AttributeContext.Peer': { fields: { address: { type: '.envoy.config.core.v3.Address', id: 1 }, service: str(2), principal: str(4) } },
  'envoy.service.auth.v3.AttributeContext.Request': { fields: { http: { type: `${A}.HttpRequest`, id: 2 } } },
  'envoy.service.auth.v3.AttributeContext.HttpRequest': {
    fields: {
      id: str(1),
      method: str(2),
      headers: { type: 'string', keyType: 'string', id: 3 },
      path: str(4),
      host: str(5),
      scheme: str(6),
      query: str(7),
      fragment: str(8),
      size: { type: 'int64', id: 9 },
      protocol: str(10),
      body: str(11),
    },
  },
  'envoy.config.core.v3.Address': { fields: { socket_address: { type: '.envoy.config.core.v3.SocketAddress', id: 1 } } },
  'envoy.config.core.v3.SocketAddress': { fields: { address: str(2), port_value: { type: 'uint32', id: 3 } } },
  'envoy.service.auth.v3.CheckResponse': {
    fields: { status: { type: '.google.rpc.Status', id: 1 }, denied_response: { type: '.envoy.service.auth.v3.DeniedHttpResponse', id: 2 }, ok_response: { type: '.envoy.service.auth.v3.OkHttpResponse', id: 3 } },
    oneofs: { http_response: { oneof: ['denied_response', 'ok_response'] } },
  },
  'google.rpc.Status': { fields: { code: { type: 'int32', id: 1 }, message: str(2) } },
  'envoy.service.auth.v3.DeniedHttpResponse': { fields: { status: { type: '.envoy.type.v3.HttpStatus', id: 1 }, headers: headerOptions(2), body: str(3) } },
  // HttpStatus.code is the StatusCode enum: a varint on the wire, kept as its number.
  'envoy.type.v3.HttpStatus': { fields: { code: { type: 'int32', id: 1 } } },
  'envoy.service.auth.v3.OkHttpResponse': { fields: { headers: headerOptions(2), headers_to_remove: { type: 'string', id: 5, rule: 'repeated' } } },
  'envoy.config.core.v3.HeaderValueOption': { fields: { header: { type: '.envoy.config.core.v3.HeaderValue', id: 1 }, append: { type: '.google.protobuf.BoolValue', id: 2 } } },
  'envoy.config.core.v3.HeaderValue': { fields: { key: str(1), value: str(2), raw_value: { type: 'bytes', id: 3 } } },
  'google.protobuf.BoolValue': { fields: { value: { type: 'bool', id: 1 } } },
};

const codec = new WireCodec(TYPES);

export function encodeCheckRequest(req: CheckRequestMessage): Uint8Array {
  return codec.encode('envoy.service.auth.v3.CheckRequest', req as unknown as Record<string, unknown>);
}

export function decodeCheckResponse(bytes: Buffer): CheckResponseMessage {
  return codec.decode('envoy.service.auth.v3.CheckResponse', bytes) as CheckResponseMessage;
}

/** For test authorizers: the request as the server sees it, and a response to send. */
export function decodeCheckRequest(bytes: Buffer): CheckRequestMessage {
  return codec.decode('envoy.service.auth.v3.CheckRequest', bytes, { defaults: true }) as unknown as CheckRequestMessage;
}

export function encodeCheckResponse(res: CheckResponseMessage): Uint8Array {
  return codec.encode('envoy.service.auth.v3.CheckResponse', res as Record<string, unknown>);
}

const check: MethodDescriptor<CheckRequestMessage, CheckResponseMessage> = { path: CHECK_PATH, encode: encodeCheckRequest, decode: decodeCheckResponse };

const channels = new Map<string, GrpcChannel>();

/**
 * Call Check on `address` (`host:port`) within `timeoutMs`, with `authority` as :authority (the authorizer's service
 * name, as Envoy sends its envoy_grpc authority). Rejects with a GrpcError when the call fails.
 */
export function grpcCheck(address: string, authority: string, req: CheckRequestMessage, timeoutMs: number): Promise<CheckResponseMessage> {
  let channel = channels.get(address);
  if (!channel) {
    channel = new GrpcChannel(address, { authority, connectTimeoutMs: timeoutMs, userAgent: 'weft-ext-authz' });
    channels.set(address, channel);
  }
  return channel.unary(check, req, { timeoutMs });
}

/** Close every cached channel (tests, shutdown). */
export function closeGrpcClients(): void {
  for (const c of channels.values()) c.close();
  channels.clear();
}
