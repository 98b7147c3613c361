// Envoy's xDS v3 API: the real Envoy messages (from the .proto files @grpc/grpc-js-xds ships, compiled at development
// time into a compact protobufjs descriptor, see descriptor-build.ts; built into protobufjs types on first use, see
// lazy-root.ts).
// Shared by the discovery server and the proxy's xDS client: type URLs, Any encoding, and the ADS service definition.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';
import type * as grpc from '@grpc/grpc-js';
import { LazyXdsRoot } from './lazy-root.ts';

const require = createRequire(import.meta.url);
const depsDir = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');

/** Include directories for Envoy's .proto files and their dependencies (for services loaded on demand, e.g. ext_authz). */
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

let lazy: LazyXdsRoot | undefined;

function lazyRoot(): LazyXdsRoot {
  lazy ??= new LazyXdsRoot(readFileSync(new URL('./xds-descriptor.gen.json', import.meta.url), 'utf8'));
  return lazy;
}

/**
 * The protobufjs Root of the xDS message types, filled on demand from the compact descriptor
 * src/xds/xds-descriptor.gen.json (generated from Envoy's .proto files by scripts/gen-xds-descriptor.ts): a type is
 * added, with every type it references, when messageType(), encodeAny(), decodeAny() or a nested Any first needs it.
 * Look types up through messageType() (or call ensureXdsType() first): a plain lookup on this root only finds types
 * already used.
 */
export function xdsRoot(): protobuf.Root {
  return lazyRoot().root;
}

/** Add a type, enum or service (full name or type URL) and what it references to xdsRoot(); false if Weft has no such type. */
export function ensureXdsType(nameOrUrl: string): boolean {
  return lazyRoot().ensure(nameOrUrl);
}

/** How many of the descriptor's types, enums and services this process has built so far, of how many. */
export function xdsTypeCounts(): { loaded: number; total: number } {
  const l = lazyRoot();
  return { loaded: l.loaded, total: l.size };
}

/** Look up a message type by its full name (`envoy.config.cluster.v3.Cluster`) or type URL. */
export function messageType(nameOrUrl: string): protobuf.Type {
  const name = nameOrUrl.startsWith('type.googleapis.com/') ? nameOrUrl.slice('type.googleapis.com/'.length) : nameOrUrl;
  lazyRoot().ensure(name);
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

/** How grpc-js objects are converted, as @grpc/proto-loader did with these options (the wire objects stay the same). */
const grpcObjectOptions: protobuf.IConversionOptions = { longs: String, enums: String, defaults: true, oneofs: true };

function serializer(t: protobuf.Type): (value: object) => Buffer {
  return (value) => {
    const bytes = t.encode(t.fromObject(value)).finish();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer(t: protobuf.Type): (bytes: Buffer) => object {
  return (bytes) => t.toObject(t.decode(bytes), grpcObjectOptions);
}

/** A grpc-js service definition built from a protobufjs Service (what @grpc/proto-loader produces, minus descriptors). */
function serviceDefinition(service: protobuf.Service): grpc.ServiceDefinition {
  const fullName = service.fullName.replace(/^\./, '');
  const def: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const m of service.methodsArray) {
    m.resolve();
    const req = m.resolvedRequestType!;
    const res = m.resolvedResponseType!;
    def[m.name] = {
      path: `/${fullName}/${m.name}`,
      requestStream: Boolean(m.requestStream),
      responseStream: Boolean(m.responseStream),
      requestSerialize: serializer(req),
      requestDeserialize: deserializer(req),
      responseSerialize: serializer(res),
      responseDeserialize: deserializer(res),
      originalName: m.name.charAt(0).toLowerCase() + m.name.slice(1),
    };
  }
  return def as grpc.ServiceDefinition;
}

let adsPackage: grpc.GrpcObject | undefined;

/**
 * The gRPC package object for envoy.service.discovery.v3 (ADS) and envoy.service.status.v3 (CSDS), shaped as
 * grpc.loadPackageDefinition would shape it (client constructors with a `service` definition), built from xdsRoot().
 */
export function adsGrpcPackage(): grpc.GrpcObject {
  if (adsPackage) return adsPackage;
  // Loaded here, not at the top: the proxy reads this module for the xDS types but speaks gRPC with src/core/grpc,
  // so a sidecar never loads grpc-js (~15 MB); the control plane and tests that build grpc-js services do.
  const { makeGenericClientConstructor } = require('@grpc/grpc-js') as typeof grpc;
  const ctor = (name: string): grpc.ServiceClientConstructor => {
    ensureXdsType(name);
    return makeGenericClientConstructor(serviceDefinition(xdsRoot().lookupService(name)), name.split('.').pop()!) as grpc.ServiceClientConstructor;
  };
  adsPackage = {
    envoy: {
      service: {
        discovery: { v3: { AggregatedDiscoveryService: ctor('envoy.service.discovery.v3.AggregatedDiscoveryService') } },
        status: { v3: { ClientStatusDiscoveryService: ctor('envoy.service.status.v3.ClientStatusDiscoveryService') } },
      },
    },
  };
  return adsPackage;
}

/** The AggregatedDiscoveryService definition (StreamAggregatedResources, DeltaAggregatedResources). */
export function adsServiceDefinition(): grpc.ServiceDefinition {
  const pkg = adsGrpcPackage() as unknown as {
    envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: grpc.ServiceClientConstructor } } } };
  };
  return pkg.envoy.service.discovery.v3.AggregatedDiscoveryService.service;
}
