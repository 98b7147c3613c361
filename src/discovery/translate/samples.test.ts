// Golden tests over more Istio samples: tcp-echo (a TCP gateway splitting 80/20 between subsets) and the external
// ServiceEntries (HTTPS by SNI, HTTP by Host, TCP by destination IP ranges).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { DeploymentSpec } from '../../config/api/kube/types.ts';
import type { Resource } from '../../config/api/resource.ts';
import { TypeUrl, type XdsTypeUrl } from '../../xds/protos.ts';
import type { Proxy } from '../proxy.ts';
import type { MeshSnapshot } from '../snapshot/snapshot.ts';
import { generateResources } from './index.ts';
import { simulate } from './simulate.ts';
import { assertEncodes, assertGolden, loadYamlFile, samples, sidecarProxy, snapshotOf } from './fixtures.test.ts';

type J = Record<string, unknown>;

function gen(proxy: Proxy, snap: MeshSnapshot, t: XdsTypeUrl): J[] {
  const res = generateResources(proxy, snap, t);
  for (const r of res) assertEncodes(t, r.resource);
  return res.map((r) => r.resource);
}

function podsFor(resources: readonly Resource[], subnet: string): Resource[] {
  return resources
    .filter((r) => r.kind === 'Deployment')
    .map((d, i) => {
      const spec = d.spec as DeploymentSpec;
      return {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `${d.metadata.name}-0`, namespace: d.metadata.namespace ?? 'default', labels: { ...(spec.template.metadata?.labels ?? {}), 'security.istio.io/tlsMode': 'istio' } },
        spec: spec.template.spec,
        status: { podIP: `${subnet}.${i + 1}`, phase: 'Running' },
      };
    });
}

const gateway = () => sidecarProxy({ ip: '10.9.0.1', name: 'ingress-0', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, type: 'router' });
const client = () => sidecarProxy({ ip: '10.9.0.2', name: 'sleep-0', labels: { app: 'sleep' } });

test('tcp-echo: a TCP gateway server forwards 80/20 to the v1/v2 subsets', () => {
  const services = loadYamlFile(join(samples, 'tcp-echo/tcp-echo-services.yaml'));
  const snap = snapshotOf([
    ...services,
    ...podsFor(services, '10.3.0'),
    ...loadYamlFile(join(samples, 'tcp-echo/tcp-echo-all-v1.yaml')).filter((r) => r.kind !== 'VirtualService'),
    ...loadYamlFile(join(samples, 'tcp-echo/tcp-echo-20-v2.yaml')),
  ]);
  const lds = gen(gateway(), snap, TypeUrl.listener);
  const cds = gen(gateway(), snap, TypeUrl.cluster);
  assertGolden('samples/tcp-echo-20-v2.json', { LDS: lds, CDS: cds.filter((c) => String(c['name']).includes('tcp-echo')) });
  const l = lds.find((x) => x['name'] === '0.0.0.0_31400')!;
  const tcp = ((l['filter_chains'] as J[])[0]!['filters'] as J[])[0]!['typed_config'] as J;
  assert.deepEqual(tcp['weighted_clusters'], {
    clusters: [
      { name: 'outbound|9000|v1|tcp-echo.default.svc.cluster.local', weight: 80 },
      { name: 'outbound|9000|v2|tcp-echo.default.svc.cluster.local', weight: 20 },
    ],
  });
});

test('external ServiceEntries: HTTPS by SNI, HTTP by Host, TCP by destination ranges', () => {
  const snap = snapshotOf(['aptget.yaml', 'github.yaml', 'pypi.yaml'].flatMap((f) => loadYamlFile(join(samples, 'external', f))));
  const lds = gen(client(), snap, TypeUrl.listener);
  const rds = gen(client(), snap, TypeUrl.route);
  const cds = gen(client(), snap, TypeUrl.cluster);
  assertGolden('samples/external.json', { LDS: lds, RDS: rds, CDS: cds });
  const l443 = lds.find((l) => l['name'] === '0.0.0.0_443')!;
  const sni = (l443['filter_chains'] as J[]).map((c) => ((c['filter_chain_match'] as J)['server_names'] as string[])[0]);
  assert.ok(sni.includes('github.com') && sni.includes('pypi.org'));
  const l22 = lds.find((l) => l['name'] === '0.0.0.0_22')!;
  const ranges = ((l22['filter_chains'] as J[])[0]!['filter_chain_match'] as J)['prefix_ranges'] as J[];
  assert.ok(ranges.some((r) => r['address_prefix'] === '140.82.112.0' && (r['prefix_len'] as J)['value'] === 20));
  assert.ok(l22['default_filter_chain'], 'other destinations on port 22 pass through');
  const apt = simulate(lds, rds, { port: 80, host: 'security.debian.org', path: '/debian-security/' });
  assert.deepEqual(apt.clusters, [{ name: 'outbound|80||security.debian.org', weight: 100 }]);
  assert.equal(cds.find((c) => c['name'] === 'outbound|443||github.com')!['type'], 'ORIGINAL_DST');
});
