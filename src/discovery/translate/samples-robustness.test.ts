// Robustness over real Istio YAML: every valid networking/security document in istio-samples, all at once, with
// the Bookinfo platform as registry input; translation for sidecars, gateways and a proxyless client must not throw and
// every resource must encode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Resource } from '../../config/api/resource.ts';
import { loadText } from '../../config/api/load.ts';
import { TypeUrl } from '../../xds/protos.ts';
import { parseProxy } from '../proxy.ts';
import { generateResources } from './index.ts';
import { assertEncodes, samples, sidecarProxy, snapshotOf } from './fixtures.test.ts';

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return f === 'crds' ? [] : yamlFiles(p);
    return f.endsWith('.yaml') || f.endsWith('.yml') ? [p] : [];
  });
}

test('every valid istio-samples document together: translation never throws and always encodes', () => {
  const byKey = new Map<string, Resource>();
  let files = 0;
  for (const f of yamlFiles(samples)) {
    if (f.endsWith('analyzer-messages.yaml')) continue;
    files++;
    for (const l of loadText(readFileSync(f, 'utf8'), f)) {
      if (l.valid && l.support === 'mesh') byKey.set(`${l.key.kind}/${l.key.namespace}/${l.key.name}`, l.resource);
    }
  }
  assert.ok(files > 100 && byKey.size > 200, `loaded ${byKey.size} resources from ${files} files`);
  const snap = snapshotOf([...byKey.values()]);
  const grpc = parseProxy({ id: 'robust', metadata: { GENERATOR: 'grpc' } });
  assert.ok(grpc.ok);
  const proxies = [
    sidecarProxy({ ip: '10.1.0.1', name: 'productpage-v1-0', labels: { app: 'productpage', version: 'v1' } }),
    sidecarProxy({ ip: '10.1.0.2', name: 'sleep-0', namespace: 'istio-system', labels: { app: 'sleep' } }),
    sidecarProxy({ ip: '10.1.0.3', name: 'ingress-0', namespace: 'istio-system', labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' }, type: 'router' }),
    sidecarProxy({ ip: '10.1.0.4', name: 'egress-0', namespace: 'istio-system', labels: { istio: 'egressgateway', app: 'istio-egressgateway' }, type: 'router' }),
    grpc.value,
  ];
  let count = 0;
  for (const p of proxies) {
    for (const t of [TypeUrl.listener, TypeUrl.route, TypeUrl.cluster, TypeUrl.endpoint]) {
      for (const r of generateResources(p, snap, t)) {
        assertEncodes(t, r.resource);
        count++;
      }
    }
  }
  assert.ok(count > 100, `generated ${count} resources`);
  assert.ok(snap.gateways.length > 5 && snap.virtualServices.length > 20 && snap.services.length > 20, "the samples reach every index");
});
