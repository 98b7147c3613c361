// Istio's own sample and test YAML against the structural layer: every document of an Istio kind passes, except
// the ones istio-samples/INDEX.md lists under "Schema findings", and each of those findings is reproduced at the
// path INDEX.md names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { parseAllDocuments } from 'yaml';
import { dropNulls, validateStructure } from './structural.ts';
import { istioSamples } from '../../../../test/samples.ts';

const SAMPLES = istioSamples.slice(0, -1);
const MUST_PASS = [
  'bookinfo', 'curl', 'extauthz', 'external', 'grpc-echo', 'helloworld', 'httpbin', 'jwt-server', 'multicluster',
  'open-telemetry', 'ratelimit', 'sleep', 'tcp-echo', 'websockets', 'pilot-testdata-config', 'authz-policies',
];

interface Doc {
  file: string;
  index: number;
  obj: Record<string, unknown>;
  gvk: { group: string; version: string; kind: string };
  id: string;
}

function yamlFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(f) ? [p] : [];
  });
}

const parsed = new Map<string, Doc[]>();

/** Every document of a *.istio.io kind under the given sample folders (the CRD bundle itself excluded). */
function istioDocs(folders: string[]): Doc[] {
  return folders.flatMap((folder) => {
    const hit = parsed.get(folder);
    if (hit !== undefined) return hit;
    const docs = folderDocs(folder);
    parsed.set(folder, docs);
    return docs;
  });
}

function folderDocs(folder: string): Doc[] {
  const docs: Doc[] = [];
  {
    for (const file of yamlFiles(join(SAMPLES, folder)).filter((f) => !f.startsWith(join(SAMPLES, 'crds')))) {
      parseAllDocuments(readFileSync(file, 'utf8')).forEach((d, index) => {
        const obj: unknown = d.toJS();
        if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return;
        const rec = obj as Record<string, unknown>;
        const apiVersion = typeof rec['apiVersion'] === 'string' ? rec['apiVersion'] : '';
        const [group = '', version = ''] = apiVersion.split('/');
        if (!group.endsWith('.istio.io')) return;
        const kind = String(rec['kind']);
        const meta = rec['metadata'] as { name?: string } | undefined;
        docs.push({ file: relative(SAMPLES, file), index, obj: rec, gvk: { group, version, kind }, id: `${kind}/${meta?.name ?? ''}` });
      });
    }
  }
  return docs;
}

interface Finding {
  file: string;
  id: string;
  path: string;
  message: string;
}

/** The "Schema findings" INDEX.md lists: `Kind/name: .path: message; .path: message; Kind/name: …`. */
function indexFindings(): Finding[] {
  const findings: Finding[] = [];
  for (const line of readFileSync(join(SAMPLES, 'INDEX.md'), 'utf8').split('\n')) {
    const at = line.indexOf('**Schema findings:**');
    if (at < 0 || !line.startsWith('| `')) continue;
    const file = line.slice(3, line.indexOf('`', 3));
    let text = line.slice(at + '**Schema findings:**'.length).replace(/\|\s*$/, '').trim();
    text = text.replace(/\s\(`[^)]*\)\s*$/, ''); // a trailing explanation in parentheses
    let id = '';
    for (const part of text.split('; ')) {
      const m = /^(?:(\w+\/[\w.-]+): )?(\.[^:]+): (.*)$/.exec(part.trim());
      assert.ok(m, `cannot read finding ${JSON.stringify(part)} of ${file}`);
      id = m[1] ?? id;
      findings.push({ file, id, path: (m[2] ?? '').slice(1), message: (m[3] ?? '').replace(/^in body /, '') });
    }
  }
  return findings;
}

const findings = indexFindings();

test('INDEX.md lists the schema findings we expect to reproduce', () => {
  assert.ok(findings.length >= 13, `only ${findings.length} findings read from INDEX.md`);
  assert.ok(findings.some((f) => f.file === 'pilot-testdata-config/rule-websocket-route.yaml' && f.path === 'spec.http[0].websocketUpgrade'));
});

test('every Istio document in the sample folders passes, except the INDEX.md schema findings', () => {
  const docs = istioDocs(MUST_PASS);
  assert.ok(docs.length > 150, `only ${docs.length} Istio documents found under ${SAMPLES}`);
  const listed = new Set(findings.map((f) => `${f.file} ${f.id}`));
  const failures: string[] = [];
  for (const d of docs) {
    const { errors } = validateStructure(d.obj, d.gvk);
    if (listed.has(`${d.file} ${d.id}`)) continue;
    if (errors.length > 0) failures.push(`${d.file} ${d.id}: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
  }
  assert.deepEqual(failures, []);
});

/**
 * INDEX.md's check reports `field: null` on a non-nullable field as a type error. The API server drops such nulls
 * when it decodes the request (apiextensions-apiserver, unstructuredSchemaCoercer.apply ->
 * PruneNonNullableNullsWithoutDefaults) before validating, so `kubectl apply` accepts them; Weft does the same and
 * reports the finding as a warning at the same path.
 */
const isDroppedNull = (f: Finding): boolean => /must be of type \w+: "null"/.test(f.message);

test('each INDEX.md schema finding is reproduced at the path it names', () => {
  const docs = istioDocs(['analyzer-testdata', 'integration-tests', ...MUST_PASS]);
  for (const f of findings) {
    const doc = docs.find((d) => d.file === f.file && d.id === f.id);
    assert.ok(doc, `${f.file}: no document ${f.id}`);
    const { errors, warnings } = validateStructure(doc.obj, doc.gvk);
    if (isDroppedNull(f)) {
      const w = warnings.find((e) => e.path === f.path);
      assert.ok(w, `${f.file} ${f.id}: expected a warning at ${f.path}, got ${JSON.stringify(warnings)}`);
      assert.match(w.message, /the API server drops it/);
      continue;
    }
    const hit = errors.find((e) => e.path === f.path);
    assert.ok(hit, `${f.file} ${f.id}: expected an error at ${f.path}, got ${JSON.stringify(errors)}`);
    assert.ok(hit.message.includes(f.message), `${f.file} ${f.id} ${f.path}: ${JSON.stringify(hit.message)} does not say ${JSON.stringify(f.message)}`);
  }
});

test('the removed websocketUpgrade field is rejected with the message kubectl prints', () => {
  const [doc] = istioDocs(['pilot-testdata-config']).filter((d) => d.file.endsWith('rule-websocket-route.yaml') && d.gvk.kind === 'VirtualService');
  assert.ok(doc);
  const { errors } = validateStructure(doc.obj, doc.gvk);
  assert.deepEqual(errors, [{ path: 'spec.http[0].websocketUpgrade', message: 'unknown field "websocketUpgrade"' }]);
});

test('documents of the other sample folders pass unless listed, or fail only on metadata names Kubernetes refuses', () => {
  // analyzer-testdata and integration-tests are not in the must-pass list; INDEX.md checked only the CRD schema,
  // so documents there with upper-case names (valid for istioctl analyze, refused by the API server) are expected.
  const listed = new Set(findings.map((f) => `${f.file} ${f.id}`));
  const unexpected: string[] = [];
  for (const d of istioDocs(['analyzer-testdata', 'integration-tests'])) {
    if (listed.has(`${d.file} ${d.id}`)) continue;
    const { errors } = validateStructure(d.obj, d.gvk);
    const other = errors.filter((e) => e.path !== 'metadata.name' && !(e.path === 'kind' && e.message.startsWith('no matches for kind')));
    if (other.length > 0) unexpected.push(`${d.file} ${d.id}: ${JSON.stringify(other)}`);
  }
  assert.deepEqual(unexpected, []);
});

/** Every path (as a key list) inside a JSON value. */
function paths(v: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
  return out;
}

function replaceAt(v: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  if (Array.isArray(v)) return v.map((x, i) => (i === head ? replaceAt(x, rest, value) : x));
  const rec = v as Record<string, unknown>;
  return { ...rec, [head]: replaceAt(rec[String(head)], rest, value) };
}

test('sample documents with any subtree replaced by arbitrary JSON: no throw, and dropNulls agrees with validation', () => {
  const docs = istioDocs(['pilot-testdata-config', 'bookinfo', 'authz-policies', 'external', 'extauthz']);
  const all = docs.map((d) => ({ d, paths: paths(d.obj) }));
  fc.assert(
    fc.property(fc.nat(), fc.nat(), fc.jsonValue({ maxDepth: 3 }), (i, j, value) => {
      const { d, paths: ps } = all[i % all.length] as (typeof all)[number];
      const mutated = replaceAt(d.obj, ps[j % ps.length] ?? [], value);
      const r = validateStructure(mutated, d.gvk);
      // The API server validates the object with non-nullable nulls dropped: validating that view gives the same
      // errors, and nothing left to warn about.
      const pruned = validateStructure(dropNulls(mutated, d.gvk), d.gvk);
      assert.deepEqual(pruned.errors, r.errors);
      assert.deepEqual(pruned.warnings, []);
    }),
    { numRuns: 1500, seed: 7 },
  );
});
