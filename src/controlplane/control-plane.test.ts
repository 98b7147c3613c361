// The assembled control plane in-process, with the real store, registry, snapshot and translator: delta and SotW
// clients against it, the endpoint fast path, the monitoring endpoints, auto-registration through an xDS connect,
// and refusal of invalid config at start-up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WeftError } from '../core/errors.ts';
import { TypeUrl, decodeAny } from '../xds/protos.ts';
import { startControlPlane, type ControlPlane } from './control-plane.ts';
import { generateForServer, proxyCacheKey } from './generate.ts';
import { DeltaClient, SotwClient } from '../../test/xds-interop/ads-client.ts';
import type { XdsEvent } from '../discovery/serve/context.ts';

const host = 'reviews.shop.svc.cluster.local';
const cluster = `outbound|9080||${host}`;

function serviceEntry(addresses: string[]): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [${host}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  endpoints:
${addresses.map((a) => `  - address: ${a}\n    labels: {version: v1}`).join('\n')}
`;
}

const vmGroup = `apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: {name: vm, namespace: vms}
spec:
  metadata:
    labels: {app: vm}
  template:
    serviceAccount: vm-sa
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vm, namespace: vms}
spec:
  hosts: [vm.vms.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  workloadSelector:
    labels: {app: vm}
`;

async function withControlPlane(
  files: Record<string, string>,
  fn: (cp: ControlPlane, dir: string) => Promise<void>,
  extra: { graceMs?: number; log?: (level: 'debug' | 'info' | 'warn', message: string) => void } = {},
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-cp-'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  const cp = await startControlPlane({
    configDir: dir,
    xdsPort: 0,
    monitoringPort: 0,
    generate: generateForServer,
    cacheKey: proxyCacheKey,
    debounceQuietMs: 10,
    ...(extra.graceMs !== undefined ? { autoRegisterGraceMs: extra.graceMs } : {}),
    ...(extra.log !== undefined ? { log: extra.log } : {}),
  });
  try {
    await fn(cp, dir);
  } finally {
    await cp.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function waitEvent(cp: ControlPlane, pred: (e: XdsEvent) => boolean, timeoutMs = 5000): Promise<XdsEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (off(), reject(new Error('event not seen'))), timeoutMs);
    const off = cp.server.onEvent((e) => {
      if (pred(e)) {
        clearTimeout(timer);
        off();
        resolve(e);
      }
    });
  });
}

const sidecar = (ip: string, name: string, ns = 'shop') => ({ id: `sidecar~${ip}~${name}.${ns}~${ns}.svc.cluster.local`, metadata: { NAMESPACE: ns, ISTIO_VERSION: 'test' } });

test('delta sidecar: CDS wildcard and EDS; an endpoint edit goes out as EDS only (fast path), with the new address', async () => {
  await withControlPlane({ 'reviews.yaml': serviceEntry(['10.1.0.1', '10.1.0.2']) }, async (cp, dir) => {
    const c = new DeltaClient(`127.0.0.1:${cp.xdsPort}`, sidecar('10.0.0.5', 'productpage-1'));
    try {
      c.subscribe(TypeUrl.cluster, []);
      const cds = await c.next(TypeUrl.cluster);
      assert.ok(cds.resources.some((r) => r.name === cluster), cds.resources.map((r) => r.name).join(','));
      c.ack(cds);
      c.subscribe(TypeUrl.endpoint, [cluster]);
      const eds = await c.next(TypeUrl.endpoint);
      c.ack(eds);
      assert.match(JSON.stringify(decodeAny(eds.resources[0]!.resource)), /10\.1\.0\.2/);
      const acked = waitEvent(cp, (e) => e.kind === 'ack' && e.typeUrl === TypeUrl.endpoint && e.nonce !== eds.nonce);
      const versionBefore = cp.pipeline.version;
      await writeFile(join(dir, 'reviews.yaml.tmp'), serviceEntry(['10.1.0.1', '10.1.0.3']));
      await rename(join(dir, 'reviews.yaml.tmp'), join(dir, 'reviews.yaml'));
      const eds2 = await c.next(TypeUrl.endpoint);
      const body = JSON.stringify(decodeAny(eds2.resources[0]!.resource));
      assert.match(body, /10\.1\.0\.3/);
      assert.doesNotMatch(body, /10\.1\.0\.2/);
      c.ack(eds2);
      await acked;
      assert.notEqual(cp.pipeline.version, versionBefore);
      assert.equal(c.inbox.pending(TypeUrl.cluster), 0, 'an endpoint-only change sends no CDS');
      const m = await cp.server.metrics.registry.getSingleMetricAsString('weft_snapshot_build_seconds');
      assert.match(m, /kind="endpoints"/);
    } finally {
      c.close();
    }
  });
});

test('monitoring: /debug/syncz, /debug/config_dump, /debug/configz, /debug/registryz, /metrics, /ready', async () => {
  await withControlPlane({ 'reviews.yaml': serviceEntry(['10.1.0.1']) }, async (cp) => {
    const c = new SotwClient(`127.0.0.1:${cp.xdsPort}`, sidecar('10.0.0.6', 'ratings-1'));
    try {
      c.subscribe(TypeUrl.cluster);
      const cds = await c.next(TypeUrl.cluster);
      const acked = waitEvent(cp, (e) => e.kind === 'ack');
      c.ack(cds);
      await acked;
      const base = `http://127.0.0.1:${cp.monitoringPort}`;
      const syncz = (await (await fetch(`${base}/debug/syncz`)).json()) as Array<Record<string, { status: string }>>;
      assert.equal(syncz.length, 1);
      assert.equal(syncz[0]!['cds']!.status, 'SYNCED');
      assert.equal(syncz[0]!['lds']!.status, 'NOT SENT');
      const dump = (await (await fetch(`${base}/debug/config_dump?proxyID=ratings-1.shop`)).json()) as { configs: Array<Record<string, unknown>> };
      const clusters = dump.configs[0]!['dynamic_active_clusters'] as Array<{ cluster: { name: string } }>;
      assert.ok(clusters.some((x) => x.cluster.name === cluster));
      assert.equal((await fetch(`${base}/debug/config_dump?proxyID=nobody.nowhere`)).status, 404);
      assert.equal((await fetch(`${base}/debug/config_dump`)).status, 400);
      const configz = (await (await fetch(`${base}/debug/configz`)).json()) as { resources: Array<{ kind: string }> };
      assert.deepEqual(configz.resources.map((r) => r.kind), ['ServiceEntry']);
      const registryz = (await (await fetch(`${base}/debug/registryz`)).json()) as { services: Array<{ hostname: string }> };
      assert.deepEqual(registryz.services.map((s) => s.hostname), [host]);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      assert.match(metrics, /pilot_xds\{version="test"\} 1/);
      assert.match(metrics, /pilot_services 1/);
      assert.equal((await fetch(`${base}/ready`)).status, 200);
      assert.equal((await fetch(`${base}/nope`)).status, 404);
    } finally {
      c.close();
    }
  });
});

test('auto-registration: a proxy naming a WorkloadGroup becomes an endpoint, and is removed after the grace period', async () => {
  await withControlPlane(
    { 'vm.yaml': vmGroup },
    async (cp) => {
      const watcher = new DeltaClient(`127.0.0.1:${cp.xdsPort}`, sidecar('10.0.0.7', 'client-1', 'vms'));
      const vmCluster = 'outbound|80||vm.vms.svc.cluster.local';
      try {
        watcher.subscribe(TypeUrl.endpoint, [vmCluster]);
        const empty = await watcher.next(TypeUrl.endpoint);
        watcher.ack(empty);
        assert.doesNotMatch(JSON.stringify(empty.resources.map((r) => decodeAny(r.resource))), /10\.9\.0\.7/);
        const vm = new SotwClient(`127.0.0.1:${cp.xdsPort}`, {
          id: 'sidecar~10.9.0.7~vm-1.vms~vms.svc.cluster.local',
          metadata: { NAMESPACE: 'vms', AUTO_REGISTER_GROUP: 'vm', INSTANCE_IPS: '10.9.0.7', LABELS: { version: 'v1' } },
        });
        vm.subscribe(TypeUrl.cluster);
        await vm.next(TypeUrl.cluster);
        const added = await watcher.next(TypeUrl.endpoint);
        watcher.ack(added);
        assert.match(JSON.stringify(decodeAny(added.resources[0]!.resource)), /10\.9\.0\.7/);
        assert.deepEqual(cp.registry.autoRegistered().map((w) => w.name), ['vm-10-9-0-7']);
        vm.close();
        const removed = await watcher.next(TypeUrl.endpoint, 10_000);
        assert.doesNotMatch(JSON.stringify(removed.resources.map((r) => decodeAny(r.resource))), /10\.9\.0\.7/);
        assert.deepEqual(cp.registry.autoRegistered(), []);
      } finally {
        watcher.close();
      }
    },
    { graceMs: 50 },
  );
});

test('a proxy naming a WorkloadGroup that does not exist is refused with the reason', async () => {
  await withControlPlane({ 'reviews.yaml': serviceEntry(['10.1.0.1']) }, async (cp) => {
    const c = new SotwClient(`127.0.0.1:${cp.xdsPort}`, { id: 'sidecar~10.9.0.8~vm-2.vms~vms.svc.cluster.local', metadata: { NAMESPACE: 'vms', AUTO_REGISTER_GROUP: 'missing' } });
    c.subscribe(TypeUrl.cluster);
    const status = await c.ended;
    assert.match(status.details, /WorkloadGroup vms\/missing not found/);
    c.close();
  });
});

test('a file broken at run time is logged once (the store\'s line), and kept for /debug/configz', async () => {
  const logs: string[] = [];
  await withControlPlane(
    { 'reviews.yaml': serviceEntry(['10.1.0.1']) },
    async (cp, dir) => {
      const rejected = new Promise<void>((resolve) => {
        const off = cp.store.subscribe((e) => {
          if (e.type !== 'rejected') return;
          off();
          resolve();
        });
      });
      await writeFile(join(dir, 'reviews.yaml.tmp'), serviceEntry(['10.1.0.1']).replace('STATIC', 'STAIC'));
      await rename(join(dir, 'reviews.yaml.tmp'), join(dir, 'reviews.yaml'));
      await rejected;
      const about = logs.filter((l) => l.includes('reviews.yaml'));
      assert.equal(about.length, 1, about.join('\n'));
      assert.match(about[0] ?? '', /^warn config: rejected .*reviews\.yaml \(the last good version of its resources stays in force\): ServiceEntry shop\/reviews: spec\.resolution/);
      assert.equal(cp.pipeline.lastRejections.length, 1);
      assert.match(cp.pipeline.lastRejections[0]?.file ?? '', /reviews\.yaml$/);
    },
    { log: (level, m) => logs.push(`${level} ${m}`) },
  );
});

test('invalid config at start-up names the file, the 1-based document and the resource of each problem', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-cp-bad-'));
  try {
    const good = 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ok, namespace: y}\nspec:\n  host: a\n';
    const bad = 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x, namespace: y}\nspec:\n  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n      weight: -5\n';
    await writeFile(join(dir, 'two.yaml'), `${good}---\n${bad}---\nfoo: [\n`);
    const e = await startControlPlane({ configDir: dir, xdsPort: 0, monitoringPort: 0, generate: generateForServer, log: () => {} }).then(
      (cp) => { void cp.close(); assert.fail('started with invalid config'); },
      (x: unknown) => x,
    );
    assert.ok(e instanceof WeftError && e.code === 'WEFT_ERR_CONFIG_INVALID');
    const lines = e.message.split('\n').slice(1);
    assert.equal(lines[0], `  ${join(dir, 'two.yaml')} (document 2, VirtualService/y/x): spec.http[0].route[0].weight: weight -5 must be a whole number ≥ 0`);
    // A document too broken to have a kind and name is named by its number alone.
    assert.match(lines[1] ?? '', /two\.yaml \(document 3\): YAML syntax error/);
    assert.doesNotMatch(e.message, /document 0/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('invalid config at start-up is refused with the file and field', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'weft-cp-bad-'));
  try {
    await writeFile(join(dir, 'bad.yaml'), 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x, namespace: y}\nspec:\n  hosts: [a]\n  http:\n  - route:\n    - destination: {host: a}\n      weight: -5\n');
    await assert.rejects(
      startControlPlane({ configDir: dir, xdsPort: 0, monitoringPort: 0, generate: generateForServer }),
      (e: unknown) => e instanceof WeftError && e.code === 'WEFT_ERR_CONFIG_INVALID' && /bad\.yaml/.test(e.message) && /weight/.test(e.message),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('15012: xDS over TLS with the CA serving certificate; a client certificate is optional', async () => {
  const { startCaForControlPlane } = await import('../ca/server/index.ts');
  const grpc = await import('@grpc/grpc-js');
  const { formatSpiffeId } = await import('../core/names/spiffe.ts');
  const dir = await mkdtemp(join(tmpdir(), 'weft-cp-tls-'));
  await writeFile(join(dir, 'reviews.yaml'), serviceEntry(['10.1.0.1']));
  const stateDir = await mkdtemp(join(tmpdir(), 'weft-cp-state-'));
  const ca = await startCaForControlPlane({ stateDir });
  const cp = await startControlPlane({
    configDir: dir,
    xdsPort: 0,
    xdsTlsPort: 0,
    monitoringPort: 0,
    generate: generateForServer,
    ca: {
      register: (s) => ca.register(s),
      tlsServerCredentials: () => ca.tlsServerCredentials(),
      peerIdentity: (call) => {
        const id = ca.peerIdentity(call);
        return id === undefined ? undefined : formatSpiffeId(id);
      },
      close: () => ca.close(),
    },
  });
  try {
    assert.ok(cp.xdsTlsPort !== undefined && cp.xdsTlsPort > 0);
    const creds = grpc.credentials.createSsl(Buffer.from(ca.ca.trustBundlePem()));
    const c = new SotwClient(`localhost:${cp.xdsTlsPort}`, sidecar('10.0.0.9', 'tls-1'), creds);
    try {
      c.subscribe(TypeUrl.cluster);
      const cds = await c.next(TypeUrl.cluster);
      assert.ok(cds.resources.length > 0);
      const [conn] = cp.server.connections();
      assert.equal(conn?.info.peer.identity, undefined, 'no client certificate, no identity');
    } finally {
      c.close();
    }
    const plain = new SotwClient(`localhost:${cp.xdsTlsPort}`, sidecar('10.0.0.10', 'plain-1'));
    plain.subscribe(TypeUrl.cluster);
    const status = await plain.ended;
    assert.notEqual(status.code, grpc.status.OK, 'plaintext is refused on the TLS port');
    plain.close();
  } finally {
    await cp.close();
    await ca.close();
    await rm(dir, { recursive: true, force: true });
    await rm(stateDir, { recursive: true, force: true });
  }
});
