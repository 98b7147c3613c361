// Test support for translation tests (a `.test.ts` file so it may read files): YAML fixtures → Resources,
// snapshots from them, proxies, a strict encode check (every field we emit must survive encodeAny/decode),
// grpc-js-xds's own resource validators, and golden-file comparison regenerated with WEFT_UPDATE_GOLDEN=1.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Resource } from '../../config/api/resource.ts';
import { loadText } from '../../config/api/load.ts';
import { istioSamples } from '../../../test/samples.ts';
import { readEnv } from '../../core/env.ts';
import { formatNodeId } from '../../core/names/node-id.ts';
import { messageType, encodeAny, type XdsTypeUrl } from '../../xds/protos.ts';
import { buildRegistryState } from '../../registry/registry.ts';
import { type Proxy, parseProxy } from '../proxy.ts';
import { buildSnapshot, type MeshSnapshot } from '../snapshot/snapshot.ts';
import type { MeshSettings } from '../snapshot/mesh.ts';

export const here = dirname(fileURLToPath(import.meta.url));
export const samples = istioSamples.replace(/\/$/, '');

/** Parse and validate YAML with the config API's loader, as the store does; invalid input fails the test. */
export function parseYaml(text: string, file = 'test.yaml'): Resource[] {
  const out: Resource[] = [];
  for (const l of loadText(text, file)) {
    assert.ok(l.valid, `${file}: ${l.key.kind}/${l.key.name} is invalid: ${JSON.stringify(l.errors)}`);
    if (l.support === 'mesh') out.push(l.resource);
  }
  return out;
}

export function loadYamlFile(path: string): Resource[] {
  return parseYaml(readFileSync(path, 'utf8'), path);
}

export function snapshotOf(configs: Resource[], mesh: MeshSettings = {}): MeshSnapshot {
  const domainSuffix = 'cluster.local';
  return buildSnapshot({ configs, registry: buildRegistryState(configs, [], domainSuffix), mesh, domainSuffix });
}

export function sidecarProxy(opts: { ip: string; name: string; namespace?: string; labels?: Record<string, string>; type?: 'sidecar' | 'router'; generator?: string }): Proxy {
  const ns = opts.namespace ?? 'default';
  const metadata: Record<string, unknown> = { NAMESPACE: ns, LABELS: opts.labels ?? {}, INSTANCE_IPS: opts.ip };
  if (opts.generator) metadata['GENERATOR'] = opts.generator;
  const p = parseProxy({ id: formatNodeId({ type: opts.type ?? 'sidecar', ip: opts.ip, name: opts.name, namespace: ns, dnsDomain: `${ns}.svc.cluster.local` }), metadata });
  assert.ok(p.ok);
  return p.value;
}

/** Every key we set must be present with the same value after encode → decode: catches misspelled or misplaced fields. */
function assertSubset(expected: unknown, actual: unknown, path: string): void {
  if (expected === null || typeof expected !== 'object') {
    // Enum-valued and 64-bit fields decode as strings/numbers; compare as strings.
    assert.equal(String(actual), String(expected), `${path}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
    return;
  }
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: expected an array`);
    assert.equal((actual as unknown[]).length, expected.length, `${path}: length`);
    expected.forEach((e, i) => assertSubset(e, (actual as unknown[])[i], `${path}[${i}]`));
    return;
  }
  assert.ok(actual !== null && typeof actual === 'object', `${path}: expected an object, got ${JSON.stringify(actual)}`);
  for (const [k, v] of Object.entries(expected)) {
    assert.ok(k in (actual as object), `${path}.${k} was dropped by the encoder (unknown field?)`);
    assertSubset(v, (actual as Record<string, unknown>)[k], `${path}.${k}`);
  }
}

export function assertEncodes(typeUrl: string, resource: Record<string, unknown>): void {
  const any = encodeAny(typeUrl, resource);
  const t = messageType(typeUrl);
  const decoded = t.toObject(t.decode(any.value), { enums: String, longs: Number, defaults: true, json: true });
  assertSubset(resource, decoded, (resource['name'] as string | undefined) ?? typeUrl);
}

const require = createRequire(import.meta.url);
interface Decoder {
  decode(ctx: unknown, res: { type_url: string; value: Buffer }): { name: string; value?: object; error?: string };
}
const grpcTypes: Record<string, () => Decoder> = {
  'type.googleapis.com/envoy.config.listener.v3.Listener': () =>
    (require('@grpc/grpc-js-xds/build/src/xds-resource-type/listener-resource-type.js') as { ListenerResourceType: { get(): Decoder } }).ListenerResourceType.get(),
  'type.googleapis.com/envoy.config.route.v3.RouteConfiguration': () =>
    (require('@grpc/grpc-js-xds/build/src/xds-resource-type/route-config-resource-type.js') as { RouteConfigurationResourceType: { get(): Decoder } }).RouteConfigurationResourceType.get(),
  'type.googleapis.com/envoy.config.cluster.v3.Cluster': () =>
    (require('@grpc/grpc-js-xds/build/src/xds-resource-type/cluster-resource-type.js') as { ClusterResourceType: { get(): Decoder } }).ClusterResourceType.get(),
  'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment': () =>
    (require('@grpc/grpc-js-xds/build/src/xds-resource-type/endpoint-resource-type.js') as { EndpointResourceType: { get(): Decoder } }).EndpointResourceType.get(),
};

/** Run grpc-js-xds's own decoder and validator on a resource: it must accept it. */
export function assertGrpcAccepts(typeUrl: XdsTypeUrl, resource: Record<string, unknown>): void {
  // grpc-js-xds fills its filter and LB registries in register(); its validators consult them.
  (require('@grpc/grpc-js-xds') as { register(): void }).register();
  const get = grpcTypes[typeUrl];
  assert.ok(get, `no grpc decoder for ${typeUrl}`);
  const any = encodeAny(typeUrl, resource);
  const ctx = { server: { serverUri: 'localhost:0', channelCredentials: {}, serverFeatures: [] }, bootstrap: { certificateProviders: {}, node: { id: 'x' } } };
  const res = get().decode(ctx, { type_url: typeUrl, value: Buffer.from(any.value) });
  assert.equal(res.error, undefined, `grpc-js-xds rejects ${res.name}: ${res.error}`);
}

/** Compare `value` with the golden file `name` under testdata/ (JSON, stable key order); WEFT_UPDATE_GOLDEN=1 rewrites it. */
export function assertGolden(name: string, value: unknown): void {
  const file = join(here, 'testdata', name);
  const text = JSON.stringify(value, null, 2) + '\n';
  if (readEnv().updateGolden || !existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    if (!readEnv().updateGolden) assert.fail(`golden file ${name} did not exist; written now — review it and rerun`);
    return;
  }
  assert.equal(text, readFileSync(file, 'utf8'), `golden ${name} differs; rerun with WEFT_UPDATE_GOLDEN=1 and review the diff`);
}
