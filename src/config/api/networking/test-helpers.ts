// Test helpers for the networking validators: build a resource around a spec, run its kind's validator, and assert
// that an error or warning with a given path and message was reported.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { Resource } from '../resource.ts';
import { defaultValidationContext, type Validation } from '../validation/report.ts';
import { networkingValidators, type NetworkingKind } from './index.ts';

export function run(kind: NetworkingKind, spec: unknown, meta: Partial<Resource['metadata']> = {}): Validation {
  const resource: Resource = { apiVersion: 'networking.istio.io/v1', kind, metadata: { name: 'test', namespace: 'default', ...meta }, spec };
  return networkingValidators[kind](resource, defaultValidationContext);
}

const show = (v: Validation): string => JSON.stringify(v, null, 1);

export function expectError(v: Validation, path: string, message: RegExp): void {
  assert.ok(v.errors.some((e) => e.path === path && message.test(e.message)), `expected error at ${path} matching ${message}, got ${show(v)}`);
}

export function expectWarning(v: Validation, path: string, message: RegExp): void {
  assert.ok(v.warnings.some((e) => e.path === path && message.test(e.message)), `expected warning at ${path} matching ${message}, got ${show(v)}`);
}

export function expectValid(v: Validation): void {
  assert.deepEqual(v.errors, [], show(v));
}

/** The networking.istio.io resources of a YAML file, as plain objects. */
export function loadNetworking(file: string): Resource[] {
  const out: Resource[] = [];
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const r = doc.toJS() as Resource | null;
    if (r !== null && typeof r === 'object' && typeof r.apiVersion === 'string' && r.apiVersion.startsWith('networking.istio.io/') && r.kind in networkingValidators) out.push(r);
  }
  return out;
}

