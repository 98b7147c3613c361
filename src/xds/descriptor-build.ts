// Development-time builder of src/xds/xds-descriptor.gen.json: parses Envoy's .proto files (shipped by
// @grpc/grpc-js-xds) with protobufjs and keeps only the message types Weft encodes and decodes — every type defined in
// the files listed below, plus what their fields and the ADS/CSDS services reference — with options and comments
// dropped, one entry per type. At run time lazy-root.ts adds a type (and what its fields reference) to the process's
// protobufjs root when it is first used, instead of parsing ~300 .proto files or building all ~500 types.
// Used by scripts/gen-xds-descriptor.ts and by the test that fails when the committed JSON is stale.
import { accessSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);
const depsDir = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const includeDirs = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(depsDir, d));

/**
 * Files whose messages appear in xDS responses and requests (resources and the typed_config Any values the discovery
 * server emits and the proxy understands). Every type they define is kept, so any Any of these types decodes.
 */
export const descriptorProtoFiles = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/discovery/v3/discovery.proto',
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
  'envoy/config/trace/v3/zipkin.proto',
  'envoy/config/trace/v3/opentelemetry.proto',
  'envoy/extensions/request_id/uuid/v3/uuid.proto',
  'envoy/service/status/v3/csds.proto',
  'google/protobuf/struct.proto',
  'google/protobuf/wrappers.proto',
];

/** Well-known types kept whether referenced or not (a typed_config or metadata value may carry any of them). */
const wellKnownTypes = ['Any', 'Duration', 'Timestamp', 'Empty', 'Struct', 'Value', 'ListValue', 'NullValue', 'DoubleValue', 'FloatValue',
  'Int64Value', 'UInt64Value', 'Int32Value', 'UInt32Value', 'BoolValue', 'StringValue', 'BytesValue'].map((n) => `google.protobuf.${n}`);

/** Field options protobufjs reads at run time; every other option (validation rules, annotations) is dropped. */
const runtimeFieldOptions = new Set(['packed', 'proto3_optional']);

// Envoy's protos import descriptor.proto (for custom options); protobufjs ships it pre-parsed but does not bundle it.
let descriptorRegistered = false;
function registerDescriptorProto(): void {
  if (descriptorRegistered) return;
  const json = require('protobufjs/google/protobuf/descriptor.json') as { nested: { google: { nested: { protobuf: { nested: Record<string, unknown> } } } } };
  protobuf.common('descriptor', json.nested.google.nested.protobuf.nested as protobuf.INamespace['nested'] & object);
  descriptorRegistered = true;
}

/** The full parsed root (every file above and all they import). Slow and large: development time and tests only. */
export function loadFullXdsRoot(): protobuf.Root {
  registerDescriptorProto();
  const r = new protobuf.Root();
  r.resolvePath = (_origin, target) => {
    for (const dir of includeDirs) {
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
  r.loadSync(descriptorProtoFiles, { keepCase: true });
  r.resolveAll();
  return r;
}

type Kept = protobuf.Type | protobuf.Enum | protobuf.Service;

function definedIn(obj: protobuf.ReflectionObject, files: readonly string[]): boolean {
  const f = obj.filename;
  if (!f) return false;
  return files.some((name) => f === name || f.endsWith(`/${name}`));
}

/** Every Type, Enum and Service reachable from the types defined in `files`. */
function reachable(root: protobuf.Root, files: readonly string[]): Map<string, Kept> {
  const kept = new Map<string, Kept>();
  const queue: Kept[] = [];
  const visit = (o: protobuf.ReflectionObject | null): void => {
    if (!(o instanceof protobuf.Type || o instanceof protobuf.Enum || o instanceof protobuf.Service)) return;
    if (kept.has(o.fullName)) return;
    kept.set(o.fullName, o);
    queue.push(o);
  };
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const o of ns.nestedArray) {
      if (definedIn(o, files)) visit(o);
      if (o instanceof protobuf.Namespace || o instanceof protobuf.Type) walk(o);
    }
  };
  walk(root);
  for (const name of wellKnownTypes) visit(root.lookup(name));
  for (let o = queue.shift(); o; o = queue.shift()) {
    if (o instanceof protobuf.Type) {
      for (const f of o.fieldsArray) visit(f.resolvedType);
    } else if (o instanceof protobuf.Service) {
      for (const m of o.methodsArray) {
        visit(m.resolvedRequestType);
        visit(m.resolvedResponseType);
      }
    }
  }
  return kept;
}

type JsonObject = Record<string, unknown>;

/**
 * A kept object's JSON with options and comments dropped (except the field options protobufjs reads at run time),
 * without its nested objects (each kept type is an entry of its own), and with every type reference made absolute
 * (`.envoy.config.core.v3.Address`): the run-time loader reads a type's dependencies straight from its fields and adds
 * them before protobufjs resolves them, and an absolute name resolves the same whichever other types are present.
 */
function compactJson(o: Kept): JsonObject {
  const out = { ...(o.toJSON() as unknown as JsonObject) };
  delete out['options'];
  delete out['nested'];
  delete out['comment'];
  if (o instanceof protobuf.Type) {
    const kept: Record<string, JsonObject> = {};
    for (const [name, f] of Object.entries(out['fields'] as Record<string, JsonObject>)) {
      const field = { ...f };
      const opts = field['options'] as JsonObject | undefined;
      delete field['options'];
      delete field['comment'];
      if (opts) {
        const runtime = Object.fromEntries(Object.entries(opts).filter(([k]) => runtimeFieldOptions.has(k)));
        if (Object.keys(runtime).length > 0) field['options'] = runtime;
      }
      const resolved = o.fields[name]?.resolvedType;
      if (resolved) field['type'] = resolved.fullName;
      kept[name] = field;
    }
    out['fields'] = kept;
    const oneofs = out['oneofs'] as Record<string, JsonObject> | undefined;
    if (oneofs) out['oneofs'] = Object.fromEntries(Object.entries(oneofs).map(([n, { oneof }]) => [n, { oneof }]));
  }
  if (o instanceof protobuf.Service) {
    const methods: Record<string, JsonObject> = {};
    for (const m of o.methodsArray) {
      const { options: _o, comment: _c, parsedOptions: _p, ...rest } = m.toJSON() as unknown as JsonObject;
      methods[m.name] = { ...rest, requestType: m.resolvedRequestType!.fullName, responseType: m.resolvedResponseType!.fullName };
    }
    out['methods'] = methods;
  }
  return out;
}

/** The compact descriptor: full name (no leading dot) → compact JSON of that type, enum or service, sorted by name. */
export function buildXdsDescriptor(root: protobuf.Root = loadFullXdsRoot()): Map<string, JsonObject> {
  const kept = reachable(root, descriptorProtoFiles);
  const out = new Map<string, JsonObject>();
  for (const name of [...kept.keys()].sort()) out.set(name.replace(/^\./, ''), compactJson(kept.get(name)!));
  return out;
}

/**
 * The text of xds-descriptor.gen.json: `{"types":{` then one line per object, `"full.Name":{...}`, sorted. It is
 * plain JSON, and one object per line lets the run-time loader (lazy-root.ts) index the file by name and parse only the
 * entries a process uses.
 */
export function descriptorText(types: Map<string, JsonObject> = buildXdsDescriptor()): string {
  const lines = [...types].map(([name, json]) => `${JSON.stringify(name)}:${JSON.stringify(json)}`);
  return `{"types":{\n${lines.join(',\n')}\n}}\n`;
}
