// Envoy's xDS v3 API, loaded from the real Envoy .proto files that @grpc/grpc-js-xds ships.
// Shared by the discovery server and the proxy's xDS client: type URLs, Any encoding, and the ADS service definition.
import { accessSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';
import * as protoLoader from '@grpc/proto-loader';
import * as grpc from '@grpc/grpc-js';

const require = createRequire(import.meta.url);
const depsDir = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');

/** Include directories for Envoy's protos and their dependencies. */
export const protoIncludeDirs = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(depsDir, d));

/** xDS v3 resource type URLs. */
export const TypeUrl = {
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;
export type XdsTypeUrl = (typeof TypeUrl)[keyof typeof TypeUrl];

/** Short names used in logs, metrics and `weft proxy-status` (as Istio: CDS, LDS, EDS, RDS, SDS). */
export const typeShortName: Record<XdsTypeUrl, 'LDS' | 'RDS' | 'CDS' | 'EDS' | 'SDS'> = {
  [TypeUrl.listener]: 'LDS',
  [TypeUrl.route]: 'RDS',
  [TypeUrl.cluster]: 'CDS',
  [TypeUrl.endpoint]: 'EDS',
  [TypeUrl.secret]: 'SDS',
};

/**
 * Protos whose messages appear inside xDS resources (typed_config Any values). Loading them into one Root
 * lets us encode and decode every Any that the discovery server emits and the proxy consumes.
 */
const resourceProtos = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto',
  'envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/network/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/cors/v3/cors.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/jwt_authn/v3/config.proto',
  'envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto',
  'envoy/extensions/filters/network/ext_authz/v3/ext_authz.proto',
  'envoy/extensions/path/match/uri_template/v3/uri_template_match.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto',
  'envoy/extensions/filters/listener/original_dst/v3/original_dst.proto',
  'envoy/extensions/clusters/aggregate/v3/cluster.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.proto',
  'envoy/extensions/load_balancing_policies/least_request/v3/least_request.proto',
  'envoy/extensions/load_balancing_policies/ring_hash/v3/ring_hash.proto',
  'envoy/extensions/load_balancing_policies/maglev/v3/maglev.proto',
  'envoy/extensions/load_balancing_policies/random/v3/random.proto',
  'envoy/extensions/load_balancing_policies/wrr_locality/v3/wrr_locality.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/service/status/v3/csds.proto',
  'google/protobuf/struct.proto',
  'google/protobuf/wrappers.proto',
];

let root: protobuf.Root | undefined;

/** The protobufjs Root holding every xDS message type Weft uses. Loaded once, lazily. */
export function xdsRoot(): protobuf.Root {
  if (root) return root;
  const r = new protobuf.Root();
  r.resolvePath = (_origin, target) => {
    for (const dir of protoIncludeDirs) {
      const candidate = join(dir, target);
      try {
        accessSync(candidate);
        return candidate;
      } catch {
        // try the next include dir
      }
    }
    return target;
  };
  r.loadSync(resourceProtos, { keepCase: true });
  r.resolveAll();
  root = r;
  return r;
}

/** Look up a message type by its full name (`envoy.config.cluster.v3.Cluster`) or type URL. */
export function messageType(nameOrUrl: string): protobuf.Type {
  const name = nameOrUrl.startsWith('type.googleapis.com/') ? nameOrUrl.slice('type.googleapis.com/'.length) : nameOrUrl;
  return xdsRoot().lookupType(name);
}

/** A google.protobuf.Any as carried on the wire by grpc-js with proto-loader: type_url and encoded bytes. */
export interface AnyMessage {
  type_url: string;
  value: Uint8Array;
}

/**
 * Encode a plain object (proto field names, snake_case; Any fields given as `{ '@type': url, ...fields }`) as an Any.
 * Throws if the object does not fit the message type.
 */
export function encodeAny(typeUrl: string, obj: Record<string, unknown>): AnyMessage {
  const t = messageType(typeUrl);
  const message = t.fromObject(obj);
  return { type_url: typeUrl, value: t.encode(message).finish() };
}

/** Decode an Any into a plain object with snake_case field names, enums as strings, nested Anys expanded with `@type`. */
export function decodeAny(any: AnyMessage): Record<string, unknown> {
  const t = messageType(any.type_url);
  const message = t.decode(any.value);
  return t.toObject(message, { enums: String, longs: Number, defaults: false, json: true }) as Record<string, unknown>;
}

let adsPackage: grpc.GrpcObject | undefined;

/** The gRPC package object for envoy.service.discovery.v3 (ADS) and envoy.service.status.v3 (CSDS). */
export function adsGrpcPackage(): grpc.GrpcObject {
  if (adsPackage) return adsPackage;
  const def = protoLoader.loadSync(['envoy/service/discovery/v3/ads.proto', 'envoy/service/status/v3/csds.proto'], {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: protoIncludeDirs,
  });
  adsPackage = grpc.loadPackageDefinition(def);
  return adsPackage;
}

/** The AggregatedDiscoveryService definition (StreamAggregatedResources, DeltaAggregatedResources). */
export function adsServiceDefinition(): grpc.ServiceDefinition {
  const pkg = adsGrpcPackage() as unknown as {
    envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: grpc.ServiceClientConstructor } } } };
  };
  return pkg.envoy.service.discovery.v3.AggregatedDiscoveryService.service;
}
