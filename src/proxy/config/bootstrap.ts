// Static resources from an Envoy-style bootstrap file (`static_resources: {listeners, clusters}` plus Weft's
// `routes` and `endpoints` lists), YAML or JSON. Each resource is passed through the real proto types so it reaches
// the compilers in exactly the shape an xDS response would have.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { WeftError } from '../../core/errors.ts';
import type protobuf from 'protobufjs';
import { TypeUrl, decodeAny, encodeAny, messageType } from '../../xds/protos.ts';
import { arr, obj, type Raw } from './raw.ts';

export interface StaticResources {
  listeners: Raw[];
  routes: Raw[];
  clusters: Raw[];
  endpoints: Raw[];
}

export function loadBootstrap(path: string): StaticResources {
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new WeftError('WEFT_ERR_IO', `cannot read bootstrap file ${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const sr = obj(obj(doc)?.['static_resources']);
  if (!sr) throw new WeftError('WEFT_ERR_CONFIG_INVALID', `${path}: expected a top-level static_resources object with listeners and clusters`);
  const norm = (typeUrl: string, list: unknown, field: string): Raw[] =>
    arr(list).map((r, i) => {
      const o = obj(r);
      if (!o) throw new WeftError('WEFT_ERR_CONFIG_INVALID', `${path}: static_resources.${field}[${i}] must be an object`);
      try {
        return decodeAny(encodeAny(typeUrl, fromProtoJson(messageType(typeUrl), o) as Raw));
      } catch (e) {
        throw new WeftError('WEFT_ERR_CONFIG_INVALID', `${path}: static_resources.${field}[${i}]: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
    });
  return {
    listeners: norm(TypeUrl.listener, sr['listeners'], 'listeners'),
    routes: norm(TypeUrl.route, sr['routes'], 'routes'),
    clusters: norm(TypeUrl.cluster, sr['clusters'], 'clusters'),
    endpoints: norm(TypeUrl.endpoint, sr['endpoints'], 'endpoints'),
  };
}

const WRAPPERS = new Set(['BoolValue', 'UInt32Value', 'Int32Value', 'UInt64Value', 'Int64Value', 'DoubleValue', 'FloatValue', 'StringValue']);

/**
 * Accept the proto3 JSON mapping that Envoy's YAML uses — durations as "1.5s", wrapper types as bare values — and
 * turn it into the object form protobufjs fromObject() expects. Nested Anys are converted by their @type.
 */
export function fromProtoJson(type: protobuf.Type, value: unknown): unknown {
  const o = obj(value);
  if (!o) return value;
  const out: Raw = {};
  for (const [k, v] of Object.entries(o)) {
    const field = type.fields[k];
    if (!field) {
      out[k] = v;
      continue;
    }
    field.resolve();
    const convert = (x: unknown): unknown => {
      const rt = field.resolvedType;
      if (!rt || !('fields' in rt)) return x;
      const t = rt as protobuf.Type;
      if (t.fullName === '.google.protobuf.Duration' && typeof x === 'string') {
        const m = /^(-?\d+)(?:\.(\d{1,9}))?s$/.exec(x);
        if (!m) return x;
        return { seconds: Number(m[1]), nanos: m[2] ? Number(m[2].padEnd(9, '0')) : 0 };
      }
      if (t.parent?.fullName === '.google.protobuf' && WRAPPERS.has(t.name) && (typeof x !== 'object' || x === null)) return { value: x };
      if (t.fullName === '.google.protobuf.Any') {
        const xo = obj(x);
        const url = typeof xo?.['@type'] === 'string' ? xo['@type'] : undefined;
        if (!xo || !url) return x;
        try {
          return { ...(fromProtoJson(messageType(url), xo) as Raw), '@type': url };
        } catch {
          return x;
        }
      }
      if (t.fullName === '.google.protobuf.Struct' || t.fullName === '.google.protobuf.Value') return x;
      return fromProtoJson(t, x);
    };
    out[k] = field.repeated && Array.isArray(v) ? v.map(convert) : field.map && obj(v) ? Object.fromEntries(Object.entries(obj(v)!).map(([mk, mv]) => [mk, convert(mv)])) : convert(v);
  }
  return out;
}
