// crds.gen.json is derived data: it must equal what scripts/gen-crd-schema.ts produces from Istio's CRD bundle,
// carry its provenance, and contain no prose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { generate } from '../../../../scripts/gen-crd-schema.ts';
import { SCHEMA_KEYS } from './types.ts';
import type { CrdData, SchemaNode } from './types.ts';
import { samplePath } from '../../../../test/samples.ts';

const BUNDLE = samplePath('crds/crd-all.gen.yaml');
const committed = JSON.parse(readFileSync(new URL('./crds.gen.json', import.meta.url), 'utf8')) as CrdData;

test('crds.gen.json is up to date with the CRD bundle (run: npm run gen:schema)', () => {
  const { data, dropped } = generate(readFileSync(BUNDLE, 'utf8'));
  assert.deepEqual(data, committed);
  assert.deepEqual(dropped, ['description']);
});

test('crds.gen.json names its source and keeps only validating keywords', () => {
  assert.match(committed.generatedFrom, /^Derived data.*istio\/istio@86c9f01fd735fb01d8192f5bcaf0d424afb7f14c/);
  const walk = (s: SchemaNode): void => {
    for (const k of Object.keys(s)) assert.ok(SCHEMA_KEYS.has(k), `unexpected keyword ${k}`);
    Object.values(s.properties ?? {}).forEach(walk);
    if (s.items) walk(s.items);
    if (typeof s.additionalProperties === 'object') walk(s.additionalProperties);
    [...(s.oneOf ?? []), ...(s.anyOf ?? []), ...(s.allOf ?? [])].forEach(walk);
    if (s.not) walk(s.not);
  };
  committed.schemas.forEach(walk);
  assert.equal(JSON.stringify(committed).includes('"description"'), false);
});
