// Table-driven check of Weft's analyzers against the messages Istio's own test expects for the same input files.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadText } from '../api/load.ts';
import { analyze, friendlyName, itemsFromLoaded, messageLine, parseMeshConfig } from './analyze.ts';
import { analyzerByName } from './analyzers/index.ts';
import { formatTemplate, messageTypeByCode, messageTypes } from './catalogue.ts';
import type { Message } from './context.ts';
import { istioCases } from './istio-cases.gen.ts';
import { istioSamples, samplePath } from '../../../test/samples.ts';

const TESTDATA = samplePath('analyzer-testdata');

function run(files: string[], analyzer: string, meshConfig?: string): Message[] {
  const loaded = files.flatMap((f) => loadText(readFileSync(join(TESTDATA, f), 'utf8'), f));
  const a = analyzerByName(analyzer);
  assert.ok(a, `analyzer ${analyzer}`);
  const mesh = meshConfig === undefined ? undefined : parseMeshConfig(readFileSync(join(TESTDATA, meshConfig), 'utf8'));
  return analyze(itemsFromLoaded(loaded), { allNamespaces: true, analyzers: [a], ...(mesh ? { mesh } : {}) });
}

/** Istio omits the namespace where the input does; Weft always defaults it, so compare on what Istio shows. */
function origin(m: Message, expectedForm: string): string {
  if (!m.item) return '';
  const full = friendlyName(m.item);
  if (expectedForm.includes('/')) return full;
  return `${m.item.kind} ${m.item.name}`;
}

describe("analyzers match Istio's expectations", () => {
  for (const c of istioCases) {
    it(`${c.analyzer}: ${c.name}`, () => {
      const got = run(c.files, c.analyzer, c.meshConfig);
      const want = c.expected.map(([name, o]) => `${name} | ${o}`).sort();
      const actual = got.map((m) => {
        const form = c.expected.find(([n, o]) => n === m.type.name && o.endsWith(m.item?.name ?? ''))?.[1] ?? '';
        return `${m.type.name} | ${origin(m, form)}`;
      });
      assert.deepEqual(actual.sort(), want, got.map(messageLine).join('\n'));
    });
  }
});

describe('catalogue', () => {
  it('holds Istio codes, levels and templates', () => {
    assert.equal(Object.keys(messageTypes).length, 68);
    const m = messageTypeByCode('IST0101');
    assert.equal(m?.name, 'ReferencedResourceNotFound');
    assert.equal(m?.level, 'Error');
    assert.equal(formatTemplate(m?.template ?? '', ['host', 'reviews2']), 'Referenced host not found: "reviews2"');
    assert.equal(formatTemplate(messageTypes.VirtualServiceDestinationPortSelectorRequired.template, ['a.b', [80, 443]]).includes('[80 443]'), true);
  });
});

describe('analyze', () => {
  const text = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews2}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: other, namespace: team}
spec:
  hosts: [other]
  http:
  - route:
    - destination: {host: nowhere}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  ports: [{name: http, port: 9080}]
`;
  it('prints istioctl lines, keeps the selected namespace, and sorts Error before Warning before Info', () => {
    const items = itemsFromLoaded(loadText(text, 'x.yaml'));
    const ms = analyze(items);
    assert.deepEqual(ms.map(messageLine), ['Error [IST0101] (VirtualService default/reviews) Referenced host not found: "reviews2"']);
    const all = analyze(items, { allNamespaces: true });
    assert.deepEqual(all.map((m) => `${m.type.code} ${m.item?.name}`), ['IST0101 other', 'IST0101 reviews']);
  });

  it('honours the suppression annotation', () => {
    const items = itemsFromLoaded(loadText(text.replace('metadata: {name: reviews, namespace: default}', 'metadata: {name: reviews, namespace: default, annotations: {galley.istio.io/analyze-suppress: IST0101}}'), 'x.yaml'));
    assert.deepEqual(analyze(items).map(messageLine), []);
  });

  it('wraps validation errors as IST0106', () => {
    const bad = 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d}\nspec: {host: reviews, bogus: 1}\n';
    const ms = analyze(itemsFromLoaded(loadText(bad, 'b.yaml')));
    assert.ok(ms.some((m) => m.type.code === 'IST0106' && m.item?.name === 'd'), ms.map(messageLine).join('\n'));
  });
});

describe('schema warnings', () => {
  it('reports unreachable rules once, as IST0130/IST0131, not again as IST0133', () => {
    const files = ['virtualservice_dupmatches.yaml', 'virtualservice_overlappingmatches.yaml'];
    const loaded = files.flatMap((f) => loadText(readFileSync(join(TESTDATA, f), 'utf8'), f));
    const ms = analyze(itemsFromLoaded(loaded), { allNamespaces: true });
    assert.ok(ms.some((m) => m.type.code === 'IST0130'));
    assert.deepEqual(ms.filter((m) => m.type.code === 'IST0133').map(messageLine), []);
  });
});

describe('workloads: auto', () => {
  const SAMPLES = istioSamples.slice(0, -1);
  const load = (...files: string[]) => itemsFromLoaded(files.flatMap((f) => loadText(readFileSync(join(SAMPLES, f), 'utf8'), f)));
  it('treats Deployment pod templates as pods when the input has no Pod', () => {
    const ms = analyze(load('bookinfo/platform/kube/bookinfo.yaml', 'bookinfo/networking/destination-rule-all.yaml'), { workloads: 'auto' });
    assert.deepEqual(ms.map((m) => `${m.type.code} ${m.item?.name} ${String(m.args[0])}`), ['IST0173 ratings v2-mysql', 'IST0173 ratings v2-mysql-vm']);
  });
  it('skips workload checks when the input has no workload at all, but not with as-given', () => {
    const text = 'apiVersion: v1\nkind: Service\nmetadata: {name: reviews}\nspec:\n  ports: [{name: http, port: 9080}]\n  selector: {app: reviews}\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec:\n  host: reviews\n  subsets: [{name: v1, labels: {version: v1}}]\n';
    const items = itemsFromLoaded(loadText(text, 'x.yaml'));
    assert.ok(!analyze(items, { workloads: 'auto' }).some((m) => m.type.code === 'IST0173'));
    assert.ok(analyze(items, { workloads: 'as-given' }).some((m) => m.type.code === 'IST0173'));
  });
});
