// Every networking.istio.io resource in Istio's own samples and pilot test configs passes semantic validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { defaultValidationContext } from '../validation/report.ts';
import { networkingValidators, type NetworkingKind } from './index.ts';
import { loadNetworking } from './test-helpers.ts';
import { istioSamples } from '../../../../test/samples.ts';

const SAMPLES = istioSamples;
const DIRS = ['bookinfo/networking', 'curl', 'extauthz', 'external', 'helloworld', 'httpbin', 'multicluster', 'tcp-echo', 'websockets', 'pilot-testdata-config'];

function* yamlFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* yamlFiles(p);
    else if (/\.ya?ml$/.test(name)) yield p;
  }
}

test('Istio samples and pilot test configs pass networking semantic validation', () => {
  let count = 0;
  const failures: string[] = [];
  for (const dir of DIRS) {
    for (const file of yamlFiles(join(SAMPLES, dir))) {
      for (const r of loadNetworking(file)) {
        count++;
        const v = networkingValidators[r.kind as NetworkingKind](r, defaultValidationContext);
        for (const e of v.errors) failures.push(`${file.slice(SAMPLES.length)} ${r.kind}/${r.metadata.name}: ${e.path}: ${e.message}`);
      }
    }
  }
  assert.deepEqual(failures, []);
  assert.ok(count > 100, `expected many networking resources, found ${count}`);
});
