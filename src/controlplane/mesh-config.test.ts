import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMeshConfig } from './mesh-config.ts';
import { resolveMesh } from '../discovery/snapshot/mesh.ts';

test('MeshConfig security fields reach the resolved mesh: trust-domain aliases, extension providers, path normalisation', () => {
  const { mesh, warnings } = parseMeshConfig(
    [
      'trustDomain: example.org',
      'trustDomainAliases: [old.example.org]',
      'pathNormalization: {normalization: MERGE_SLASHES}',
      'extensionProviders:',
      '- name: authz-http',
      '  envoyExtAuthzHttp: {service: ext-authz.local, port: 8000}',
    ].join('\n'),
    'mesh.yaml',
  );
  assert.deepEqual(warnings, []);
  const r = resolveMesh(mesh);
  assert.deepEqual(r.trustDomainAliases, ['old.example.org']);
  assert.equal(r.pathNormalization, 'MERGE_SLASHES');
  assert.equal(r.extensionProviders[0]?.['name'], 'authz-http');
  assert.equal(resolveMesh({}).pathNormalization, 'BASE');
});

test('bad MeshConfig security fields name the field', () => {
  assert.throws(() => parseMeshConfig('pathNormalization: {normalization: SOMETIMES}', 'm.yaml'), /m\.yaml: pathNormalization\.normalization/);
  assert.throws(() => parseMeshConfig('extensionProviders: [{envoyExtAuthzHttp: {}}]', 'm.yaml'), /m\.yaml: extensionProviders\[0\]/);
  assert.throws(() => parseMeshConfig('trustDomainAliases: old.example.org', 'm.yaml'), /trustDomainAliases: must be a list/);
});
