// Istio's analyzer test inputs include resources that are wrong on purpose. Those that Istio's validating webhook
// would also reject must be rejected here, at the same field; every other networking resource there must pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { defaultValidationContext } from '../validation/report.ts';
import { networkingValidators, type NetworkingKind } from './index.ts';
import { loadNetworking } from './test-helpers.ts';
import { samplePath } from '../../../../test/samples.ts';

const DIR = samplePath('analyzer-testdata/');

/** file → `Kind/name` → expected error paths and a message fragment each. */
const EXPECTED: Record<string, Record<string, [string, RegExp][]>> = {
  'gateway-secrets.yaml': {
    'Gateway/defaultgateway-nocredential': [
      ['spec.servers[0].tls.serverCertificate', /SIMPLE TLS requires a server certificate/],
      ['spec.servers[0].tls.privateKey', /SIMPLE TLS requires a private key/],
    ],
  },
  'conflicting-gateways-multiple-ports.yaml': {
    'Gateway/alpha': [['spec.servers[1].port.name', /port names in servers must be unique: "http"/]],
    'Gateway/beta': [['spec.servers[1].port.name', /port names in servers must be unique: "tcp"/]],
  },
  'conflicting-gateways-invalid-port.yaml': {
    'Gateway/alpha': [['spec.servers[0].port', /port is required/]],
    'Gateway/beta': [['spec.servers[0].port', /port is required/]],
  },
  'virtualservice_host_not_found_gateway.yaml': { 'Gateway/testing-gateway-01-test-04': [['spec.servers[1].port.name', /must be unique/]] },
  'virtualservice_host_not_found_gateway_beta.yaml': { 'Gateway/testing-gateway-01-test-04': [['spec.servers[1].port.name', /must be unique/]] },
  'gateway-no-workload.yaml': { 'Gateway/httpbin-gateway': [['spec.servers', /at least one server/]] },
  'sidecar-default-selector.yaml': {
    'Sidecar/namespace-scoped': [['spec', /empty Sidecar/]],
    'Sidecar/pod-scoped': [['spec', /empty Sidecar/]],
    'Sidecar/namespace-not-ambient': [['spec', /empty Sidecar/]],
  },
  'virtualservice_gateways.yaml': {
    'Gateway/httpbin-gateway': [['spec.servers', /at least one server/]],
    'Gateway/crossnamespace-gw': [['spec.servers', /at least one server/]],
    'VirtualService/httpbin': [['spec', /at least one http, tcp or tls route/]],
    'VirtualService/httpbin-bogus': [['spec', /at least one http, tcp or tls route/]],
    'VirtualService/httpbin-mesh': [['spec.hosts[0]', /"\*" is not allowed when the VirtualService applies to the mesh/], ['spec', /at least one http/]],
    'VirtualService/cross-test': [['spec', /at least one http, tcp or tls route/]],
  },
  'virtualservice_destinationhosts.yaml': {
    'ServiceEntry/service-entry-ignore': [['spec.hosts[0]', /"\*" is not allowed in a ServiceEntry/]],
    'VirtualService/reviews-bogushost': [['spec.http[0].route[0].destination', /destination is required/], ['spec.http[0].route', /add up to 0/]],
  },
  'virtualservice_internal_gateway_ref.yaml': { 'VirtualService/httpbin': [['spec.gateways[0]', /invalid gateway name/]] },
  'authorizationpolicies.yaml': { 'ServiceEntry/istio': [['spec.hosts[1]', /must be FQDNs \(no wildcards\)/]] },
  'condition-analyzer.yaml': { 'ServiceEntry/negative-condition-svcEntry': [['spec.hosts', /at least one host/]] },
  'deprecation.yaml': { 'VirtualService/productpage': [['spec.http[0]', /needs one of route, redirect or directResponse/]] },
};

test('analyzer inputs: webhook-invalid resources are rejected at the right field, the rest pass', () => {
  const seen = new Set<string>();
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const r of loadNetworking(join(DIR, file))) {
      const key = `${r.kind}/${r.metadata.name}`;
      const v = networkingValidators[r.kind as NetworkingKind](r, defaultValidationContext);
      const want = EXPECTED[file]?.[key];
      if (want === undefined) {
        assert.deepEqual(v.errors, [], `${file} ${key} should be valid`);
        continue;
      }
      seen.add(`${file} ${key}`);
      for (const [path, msg] of want) {
        assert.ok(v.errors.some((e) => e.path === path && msg.test(e.message)), `${file} ${key}: expected ${path} ${msg}, got ${JSON.stringify(v.errors)}`);
      }
      assert.equal(v.errors.length, want.length, `${file} ${key}: ${JSON.stringify(v.errors)}`);
    }
  }
  const expectedCount = Object.values(EXPECTED).reduce((n, o) => n + Object.keys(o).length, 0);
  assert.equal(seen.size, expectedCount, 'every expected rejection was exercised');
});
