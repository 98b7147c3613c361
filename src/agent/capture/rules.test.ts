// Golden tests of the capture rules: each case is an istio-iptables invocation's equivalent; the golden files
// (testdata/*.golden, regenerated with WEFT_UPDATE_GOLDEN=1) read like Istio's own capture goldens.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { readEnv } from '../../core/env.ts';
import { captureOptions, captureRules } from './rules.ts';
import type { CaptureOptions, IpFamily } from './rules.ts';

function golden(name: string, lines: readonly string[]): void {
  const file = new URL(`./testdata/${name}.golden`, import.meta.url);
  const text = `${lines.join('\n')}\n`;
  if (readEnv().updateGolden || !existsSync(file)) {
    writeFileSync(file, text);
    if (!readEnv().updateGolden) assert.fail(`golden file ${name} did not exist; written now — review it and rerun`);
  }
  assert.equal(text, readFileSync(file, 'utf8'), `golden ${name} differs; rerun with WEFT_UPDATE_GOLDEN=1 and review the diff`);
}

const cases: Array<[string, Partial<CaptureOptions>, IpFamily]> = [
  ['default', {}, 'ipv4'],
  ['default-ipv6', {}, 'ipv6'],
  ['inbound-ports-include', { inboundPorts: [32000, 31000] }, 'ipv4'],
  ['inbound-none', { inboundPorts: [] }, 'ipv4'],
  ['inbound-wildcard-exclude', { inboundExcludePorts: [22, 80, 443] }, 'ipv4'],
  ['outbound-ports-exclude', { outboundExcludePorts: [22, 80, 443] }, 'ipv4'],
  ['outbound-ports-include', { outboundCidrs: [], outboundIncludePorts: [32000, 31000] }, 'ipv4'],
  ['outbound-cidrs', { outboundCidrs: ['10.0.0.0/8', 'fd00::/8'], outboundExcludeCidrs: ['10.1.0.0/16', '2001:db8::/32'] }, 'ipv4'],
  ['outbound-cidrs-ipv6', { outboundCidrs: ['10.0.0.0/8', 'fd00::/8'], outboundExcludeCidrs: ['10.1.0.0/16', '2001:db8::/32'] }, 'ipv6'],
  ['uid-gid', { proxyUids: [3, 4], proxyGids: [1, 2] }, 'ipv4'],
  ['dns-servers', { dns: { mode: 'servers', port: 15053, servers: ['10.96.0.10', '127.0.0.53'] } }, 'ipv4'],
  ['dns-all', { dns: { mode: 'all', port: 15053 } }, 'ipv4'],
  ['dns-uid-gid-ipv6', { proxyUids: [3, 4], proxyGids: [1, 2], dns: { mode: 'servers', port: 15053, servers: ['10.96.0.10', 'fd00::53'] } }, 'ipv6'],
  ['custom-ports', { proxyPort: 25001, inboundCapturePort: 25006 }, 'ipv4'],
  ['loopback-passthrough', { loopbackPassthroughCidrs: ['127.0.0.0/8', '::1/128'], dns: { mode: 'servers', port: 15053, servers: ['169.254.200.1'] } }, 'ipv4'],
];

for (const [name, overrides, family] of cases) {
  test(`capture rules: ${name}`, () => {
    golden(name, captureRules(captureOptions(overrides), family));
  });
}

test('capture rules: the proxy is excluded before anything is redirected, DNS before loopback returns', () => {
  const rules = captureRules(captureOptions({ dns: { mode: 'servers', port: 15053, servers: ['10.96.0.10'] } }));
  const at = (r: string): number => rules.indexOf(r);
  assert.ok(at('-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN') < at('-A ISTIO_OUTPUT -j ISTIO_REDIRECT'));
  assert.ok(at('-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN') < at('-A ISTIO_OUTPUT -j ISTIO_REDIRECT'));
  assert.ok(at('-A ISTIO_OUTPUT -j ISTIO_OUTPUT_DNS') < at('-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN'));
  assert.ok(at('-A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --gid-owner 1337 -j RETURN') < at('-A ISTIO_OUTPUT_DNS -p udp --dport 53 -d 10.96.0.10/32 -j REDIRECT --to-port 15053'));
  assert.equal(rules[0], '* nat');
  assert.equal(rules.filter((r) => r === 'COMMIT').length, 2); // nat and raw
});

test('capture rules: bad options are refused with the field that is wrong', () => {
  assert.throws(() => captureRules(captureOptions({ proxyPort: 0 })), /proxyPort must be a port/);
  assert.throws(() => captureRules(captureOptions({ outboundExcludeCidrs: ['10.0.0.0/33'] })), /outboundExcludeCidrs\[0\] is not an IP address or CIDR/);
  assert.throws(() => captureRules(captureOptions({ outboundCidrs: ['reviews'] })), /outboundCidrs\[0\]/);
  assert.throws(() => captureRules(captureOptions({ proxyGids: [-1] })), /proxyGids\[0\]/);
  assert.throws(() => captureRules(captureOptions({ inboundExcludePorts: Array.from({ length: 16 }, (_, i) => i + 1) })), /at most 15/);
  assert.throws(() => captureRules(captureOptions({ dns: { mode: 'servers', port: 15053, servers: ['resolver'] } })), /dns\.servers\[0\]/);
});
