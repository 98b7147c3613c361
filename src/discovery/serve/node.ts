// The xDS Node as the serving layer sees it: converted once, at the edge, from the wire form that
// @grpc/proto-loader produces (google.protobuf.Struct metadata) into plain JSON values.
// Whoever models proxies (src/discovery/proxy.ts) parses this plain form; nothing downstream sees wire types.

/** A JSON value, as carried in google.protobuf.Struct. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** envoy.config.core.v3.Node, reduced to the fields the control plane reads, metadata as plain JSON. */
export interface XdsNode {
  /** Node id, e.g. `sidecar~10.0.0.1~reviews-v1.default~default.svc.cluster.local`. */
  id: string;
  /** Envoy's `--service-cluster`; Istio puts `<app>.<namespace>` there. */
  cluster: string;
  /** Node metadata (NAMESPACE, LABELS, SERVICE_ACCOUNT, INSTANCE_IPS, GENERATOR, ISTIO_VERSION, CLUSTER_ID …). */
  metadata: Record<string, JsonValue>;
  locality: { region: string; zone: string; sub_zone: string };
  /** e.g. `envoy`, `grpc-node-js`. */
  userAgentName: string;
  userAgentVersion: string;
}

type WireValue = Record<string, unknown>;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// proto-loader takes google.protobuf.Struct/Value from protobufjs's bundled descriptors, whose field names are
// camelCase (`stringValue`) even with keepCase; accept the snake_case form too.
function field(v: Record<string, unknown>, snake: string, camel: string): unknown {
  return v[camel] ?? v[snake];
}

/** google.protobuf.Value (proto-loader form) → JSON. */
function valueToJson(v: unknown): JsonValue {
  if (!isRecord(v)) return null;
  const kinds = ['stringValue', 'numberValue', 'boolValue', 'structValue', 'listValue', 'string_value', 'number_value', 'bool_value', 'struct_value', 'list_value'];
  const kind = typeof v['kind'] === 'string' ? v['kind'] : kinds.find((k) => v[k] !== undefined && v[k] !== null);
  switch (kind) {
    case 'stringValue':
    case 'string_value':
      return String(field(v, 'string_value', 'stringValue') ?? '');
    case 'numberValue':
    case 'number_value':
      return Number(field(v, 'number_value', 'numberValue') ?? 0);
    case 'boolValue':
    case 'bool_value':
      return Boolean(field(v, 'bool_value', 'boolValue'));
    case 'structValue':
    case 'struct_value':
      return structToJson(field(v, 'struct_value', 'structValue'));
    case 'listValue':
    case 'list_value': {
      const list = field(v, 'list_value', 'listValue');
      const values = isRecord(list) && Array.isArray(list['values']) ? list['values'] : [];
      return values.map(valueToJson);
    }
    default:
      return null;
  }
}

/** google.protobuf.Struct (proto-loader form) → plain object. */
export function structToJson(s: unknown): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  if (!isRecord(s) || !isRecord(s['fields'])) return out;
  for (const [k, v] of Object.entries(s['fields'])) out[k] = valueToJson(v);
  return out;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** Convert the `node` field of a (Delta)DiscoveryRequest into an XdsNode; undefined when absent or without an id. */
export function nodeFromWire(raw: unknown): XdsNode | undefined {
  if (!isRecord(raw)) return undefined;
  const id = str(raw['id']);
  if (id === '') return undefined;
  const loc: WireValue = isRecord(raw['locality']) ? raw['locality'] : {};
  const buildVersion = raw['user_agent_version'];
  return {
    id,
    cluster: str(raw['cluster']),
    metadata: structToJson(raw['metadata']),
    locality: { region: str(loc['region']), zone: str(loc['zone']), sub_zone: str(loc['sub_zone']) },
    userAgentName: str(raw['user_agent_name']),
    userAgentVersion: str(buildVersion),
  };
}

function jsonToValue(v: JsonValue): Record<string, unknown> {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToValue) } };
  return { structValue: jsonToStruct(v) };
}

/** Plain object → google.protobuf.Struct in proto-loader's (camelCase) form, for clients that build a Node. */
export function jsonToStruct(o: Record<string, JsonValue>): { fields: Record<string, Record<string, unknown>> } {
  const fields: Record<string, Record<string, unknown>> = {};
  for (const [k, v] of Object.entries(o)) fields[k] = jsonToValue(v);
  return { fields };
}
