// Golden tests over every Bookinfo networking sample (with the Bookinfo Services and one Pod per Deployment as
// registry input), for a productpage sidecar, a reviews-v2 sidecar and the ingress gateway; plus simulated requests
// that check what the output means.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Resource } from '../../config/api/resource.ts';
import type { DeploymentSpec } from '../../config/api/kube/types.ts';
import { TypeUrl, type XdsTypeUrl } from '../../xds/protos.ts';
import type { Proxy } from '../proxy.ts';
import type { MeshSnapshot } from '../snapshot/snapshot.ts';
import { generateResources } from './index.ts';
import { simulate, type SimRequest } from './simulate.ts';
import { assertEncodes, assertGolden, loadYamlFile, samples, sidecarProxy, snapshotOf } from './fixtures.test.ts';

const platform = loadYamlFile(join(samples, 'bookinfo/platform/kube/bookinfo.yaml'));

/** One running Pod per Deployment, with a sidecar (tlsMode=istio), at 10.1.0.N. */
function podsFor(resources: readonly Resource[]): Resource[] {
  return resources
    .filter((r) => r.kind === 'Deployment')
    .map((d, i) => {
      const spec = d.spec as DeploymentSpec;
      return {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `${d.metadata.name}-0`, namespace: d.metadata.namespace ?? 'default', labels: { ...(spec.template.metadata?.labels ?? {}), 'security.istio.io/tlsMode': 'istio' } },
        spec: spec.template.spec,
        status: { podIP: `10.1.0.${i + 1}`, phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
      };
    });
}

const base = [...platform, ...podsFor(platform)];
const podIp = (name: string): string => (base.find((r) => r.kind === 'Pod' && r.metadata.name === `${name}-0`)!.status as { podIP: string }).podIP;

const proxies = {
  productpage: () => sidecarProxy({ ip: podIp('productpage-v1'), name: 'productpage-v1-0', labels: { app: 'productpage', version: 'v1' } }),
  reviewsV2: () => sidecarProxy({ ip: podIp('reviews-v2'), name: 'reviews-v2-0', labels: { app: 'reviews', version: 'v2' } }),
  gateway: () => sidecarProxy({ ip: '10.1.1.1', name: 'istio-ingressgateway-0', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, type: 'router' }),
};

type Short = 'LDS' | 'RDS' | 'CDS' | 'EDS';
const types: Record<Short, XdsTypeUrl> = { LDS: TypeUrl.listener, RDS: TypeUrl.route, CDS: TypeUrl.cluster, EDS: TypeUrl.endpoint };

function gen(proxy: Proxy, snap: MeshSnapshot, t: Short): Array<Record<string, unknown>> {
  const res = generateResources(proxy, snap, types[t]);
  for (const r of res) assertEncodes(types[t], r.resource);
  return res.map((r) => r.resource);
}

function sim(proxy: Proxy, snap: MeshSnapshot, req: SimRequest) {
  return simulate(gen(proxy, snap, 'LDS'), gen(proxy, snap, 'RDS'), req);
}

const reviews = 'reviews.default.svc.cluster.local';
const ratings = 'ratings.default.svc.cluster.local';

test('Bookinfo baseline (no networking config): every type for a sidecar and the gateway, all encodable', () => {
  const snap = snapshotOf(base);
  const out: Record<string, unknown> = {};
  for (const [name, p] of Object.entries(proxies)) {
    const proxy = p();
    out[name] = Object.fromEntries((Object.keys(types) as Short[]).map((t) => [t, gen(proxy, snap, t)]));
  }
  assertGolden('bookinfo/baseline.json', out);
  const r = sim(proxies.productpage(), snap, { port: 9080, host: 'reviews:9080', path: '/reviews/0' });
  assert.deepEqual(r.clusters, [{ name: `outbound|9080||${reviews}`, weight: 100 }]);
  const unknown = sim(proxies.productpage(), snap, { port: 9080, host: 'example.com', path: '/' });
  assert.deepEqual(unknown.clusters, [{ name: 'PassthroughCluster', weight: 100 }]);
});

const files = readdirSync(join(samples, 'bookinfo/networking')).filter((f) => f.endsWith('.yaml')).sort();

for (const file of files) {
  test(`Bookinfo networking/${file}: golden xDS`, () => {
    const snap = snapshotOf([...base, ...loadYamlFile(join(samples, 'bookinfo/networking', file))]);
    const out: Record<string, unknown> = {
      productpage: { RDS: gen(proxies.productpage(), snap, 'RDS'), CDS: gen(proxies.productpage(), snap, 'CDS'), EDS: gen(proxies.productpage(), snap, 'EDS') },
      reviewsV2: { RDS: gen(proxies.reviewsV2(), snap, 'RDS') },
    };
    if (snap.gateways.length > 0) out['gateway'] = { LDS: gen(proxies.gateway(), snap, 'LDS'), RDS: gen(proxies.gateway(), snap, 'RDS'), CDS: gen(proxies.gateway(), snap, 'CDS') };
    if (snap.services.some((s) => s.source === 'ServiceEntry')) out['productpageListeners'] = gen(proxies.productpage(), snap, 'LDS');
    assertGolden(`bookinfo/${file.replace(/\.yaml$/, '.json')}`, out);
  });
}

function scenario(file: string): MeshSnapshot {
  const extra = file === 'destination-rule-all.yaml' ? [] : loadYamlFile(join(samples, 'bookinfo/networking/destination-rule-all.yaml'));
  return snapshotOf([...base, ...extra, ...loadYamlFile(join(samples, 'bookinfo/networking', file))]);
}

test('reviews 80/20: the route splits between subsets v1 and v2', () => {
  const r = sim(proxies.productpage(), scenario('virtual-service-reviews-80-20.yaml'), { port: 9080, host: 'reviews:9080', path: '/reviews/0' });
  assert.deepEqual(r.clusters, [
    { name: `outbound|9080|v1|${reviews}`, weight: 80 },
    { name: `outbound|9080|v2|${reviews}`, weight: 20 },
  ]);
});

test('reviews jason → v2, everyone else → v3', () => {
  const snap = scenario('virtual-service-reviews-jason-v2-v3.yaml');
  const jason = sim(proxies.productpage(), snap, { port: 9080, host: `${reviews}:9080`, path: '/reviews/0', headers: { 'end-user': 'jason' } });
  assert.deepEqual(jason.clusters, [{ name: `outbound|9080|v2|${reviews}`, weight: 100 }]);
  const other = sim(proxies.productpage(), snap, { port: 9080, host: 'reviews', path: '/reviews/0', headers: { 'end-user': 'bob' } });
  assert.deepEqual(other.clusters, [{ name: `outbound|9080|v3|${reviews}`, weight: 100 }]);
});

test('ratings abort for jason: a 100% HTTP 500 fault on the matched route only', () => {
  const snap = scenario('virtual-service-ratings-test-abort.yaml');
  const jason = sim(proxies.reviewsV2(), snap, { port: 9080, host: 'ratings:9080', path: '/ratings/0', headers: { 'end-user': 'jason' } });
  assert.deepEqual(jason.fault?.['abort'], { http_status: 500, percentage: { numerator: 1_000_000, denominator: 'MILLION' } });
  const other = sim(proxies.reviewsV2(), snap, { port: 9080, host: 'ratings:9080', path: '/ratings/0' });
  assert.equal(other.fault, undefined);
  assert.deepEqual(other.clusters, [{ name: `outbound|9080|v1|${ratings}`, weight: 100 }]);
});

test('bookinfo gateway: /productpage goes to productpage, other paths find no route', () => {
  const snap = scenario('bookinfo-gateway.yaml');
  const ok = sim(proxies.gateway(), snap, { port: 8080, host: 'bookinfo.example.com', path: '/productpage' });
  assert.equal(ok.routeConfig, 'http.8080');
  assert.deepEqual(ok.clusters, [{ name: 'outbound|9080||productpage.default.svc.cluster.local', weight: 100 }]);
  const stat = sim(proxies.gateway(), snap, { port: 8080, host: 'x', path: '/static/css/app.css' });
  assert.equal(stat.clusters[0]?.name, 'outbound|9080||productpage.default.svc.cluster.local');
  const miss = sim(proxies.gateway(), snap, { port: 8080, host: 'x', path: '/admin' });
  assert.match(miss.error ?? '', /no route/);
});

test('googleapis egress: port 80 is rewritten to the 443 cluster, which originates TLS', () => {
  const snap = scenario('egress-rule-google-apis.yaml');
  const r = sim(proxies.productpage(), snap, { port: 80, host: 'www.googleapis.com', path: '/' });
  assert.deepEqual(r.clusters, [{ name: 'outbound|443||www.googleapis.com', weight: 100 }]);
  const cds = gen(proxies.productpage(), snap, 'CDS');
  const c443 = cds.find((c) => c['name'] === 'outbound|443||www.googleapis.com')!;
  assert.equal(c443['type'], 'STRICT_DNS');
  assert.equal((c443['transport_socket'] as { typed_config: { sni: string } }).typed_config.sni, 'www.googleapis.com');
  const c80 = cds.find((c) => c['name'] === 'outbound|80||www.googleapis.com')!;
  assert.equal(c80['transport_socket'], undefined);
  assert.equal(c80['lb_policy'], 'ROUND_ROBIN');
});

test('ISTIO_MUTUAL DestinationRules: subset clusters use SDS default/ROOTCA with Istio SNI; without a DR, auto-mTLS matches', () => {
  const mtls = gen(proxies.productpage(), scenario('destination-rule-all-mtls.yaml'), 'CDS');
  const v2 = mtls.find((c) => c['name'] === `outbound|9080|v2|${reviews}`)!;
  const ts = JSON.stringify(v2['transport_socket']);
  assert.ok(ts.includes('"name":"default"') && ts.includes('"name":"ROOTCA"') && ts.includes(`outbound_.9080_.v2_.${reviews}`));
  const plain = gen(proxies.productpage(), snapshotOf(base), 'CDS').find((c) => c['name'] === `outbound|9080||${reviews}`)!;
  assert.equal((plain['transport_socket_matches'] as unknown[]).length, 2);
});

test('reviews DR with RANDOM load balancing applies to the service and its subsets', () => {
  const cds = gen(proxies.productpage(), scenario('destination-rule-reviews.yaml'), 'CDS');
  for (const name of [`outbound|9080||${reviews}`, `outbound|9080|v3|${reviews}`]) assert.equal(cds.find((c) => c['name'] === name)!['lb_policy'], 'RANDOM');
});

test('EDS: subset clusters hold only the endpoints with the subset labels, with tlsMode metadata', () => {
  const eds = gen(proxies.productpage(), scenario('destination-rule-all.yaml'), 'EDS');
  const v3 = eds.find((e) => e['cluster_name'] === `outbound|9080|v3|${reviews}`)!;
  const text = JSON.stringify(v3);
  assert.ok(text.includes(podIp('reviews-v3')) && !text.includes(`"${podIp('reviews-v1')}"`));
  assert.ok(text.includes('"tlsMode":{"stringValue":"istio"}'));
});
