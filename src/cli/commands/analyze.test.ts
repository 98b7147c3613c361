// Golden tests of `weft analyze` over Istio's analyzer test data: istioctl-style lines, JSON, the success line,
// namespaces, and exit codes (79 errors, 0 clean, 1 unparseable, 2 usage/I-O). Regenerate with WEFT_UPDATE_GOLDEN=1.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { readEnv } from '../../core/env.ts';
import { memoryIo } from '../io.ts';
import { main } from '../main.ts';
import { samplePath } from '../../../test/samples.ts';

const GOLDEN_DIR = fileURLToPath(new URL('../../../test/golden/analyze/', import.meta.url));
const BIN = fileURLToPath(new URL('../../../bin/weft.js', import.meta.url));
const TESTDATA = samplePath('analyzer-testdata');
const update = readEnv().updateGolden;

function golden(name: string, actual: string): void {
  const file = `${GOLDEN_DIR}${name}`;
  if (update) writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, 'utf8'), `output differs from ${name}; rerun with WEFT_UPDATE_GOLDEN=1 and review the diff`);
}

async function weft(args: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo(stdin, TESTDATA);
  const code = await main(['analyze', ...args], io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('weft analyze', () => {
  it('prints istioctl lines sorted by level and code, and exits 79 on errors', async () => {
    const r = await weft(['virtualservice_destinationhosts.yaml', 'virtualservice_gateways.yaml', 'destinationrule-simple-destination.yaml', 'service-no-port-name.yaml', '-A']);
    golden('text.golden', r.out);
    assert.equal(r.code, 79);
    assert.match(r.out, /^Error \[IST0101\] \(VirtualService default\/reviews-bogushost\) Referenced host not found: "reviews-bogus"$/m);
    const levels = r.out.trim().split('\n').map((l) => l.split(' ')[0]);
    assert.deepEqual(levels, [...levels].sort((a, b) => ['Error', 'Warning', 'Info'].indexOf(a ?? '') - ['Error', 'Warning', 'Info'].indexOf(b ?? '')));
  });

  it('keeps only the selected namespace unless -A', async () => {
    const r = await weft(['service-no-port-name.yaml', '-n', 'my-namespace2']);
    assert.equal(r.out, 'Info [IST0118] (Service my-namespace2/my-service2) Port name foo (port: 8080, targetPort: 8080) doesn\'t follow the naming convention of Istio port.\n');
    assert.equal(r.code, 0, 'Info only: exit 0');
  });

  it('puts resources that name no namespace into the -n namespace, as istioctl does', async () => {
    const doc = 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\nspec:\n  hosts: [r]\n  http:\n  - route:\n    - destination: {host: nowhere}\n';
    const r = await weft(['-n', 'team', '-'], doc);
    assert.equal(r.out, 'Error [IST0101] (VirtualService team/r) Referenced host not found: "nowhere"\n');
    const explicit = await weft(['-n', 'team', '-'], doc.replace('{name: r}', '{name: r, namespace: default}'));
    assert.equal(explicit.out, '');
  });

  it('gives JSON with code, name, level, resource and message', async () => {
    const r = await weft(['-o', 'json', 'virtualservice_gateways.yaml', '--all-namespaces']);
    golden('json.golden', r.out);
    const parsed = JSON.parse(r.out) as { code: string; name: string; level: string; resource: { kind: string; namespace: string; name: string }; message: string }[];
    assert.ok(parsed.length > 0);
    for (const m of parsed) for (const k of ['code', 'name', 'level', 'resource', 'message'] as const) assert.ok(m[k] !== undefined, k);
    assert.equal(r.code, 79);
  });

  it('prints the success line when nothing is found', async () => {
    const r = await weft(['gateway-correct-port.yaml']);
    assert.equal(r.out, '');
    assert.equal(r.err, '\u2714 No validation issues found when analyzing gateway-correct-port.yaml.\n');
    assert.equal(r.code, 0);
  });

  it('exits 2 on I/O and usage errors, 1 on unparseable documents', async () => {
    assert.equal((await weft(['no-such-file.yaml'])).code, 2);
    assert.equal((await weft(['-o', 'xml', 'gateway-correct-port.yaml'])).code, 2);
    const r = await weft(['-'], 'apiVersion: v1\nkind: Service\nmetadata: {name: [\n');
    assert.equal(r.code, 1);
    assert.match(r.err, /^Error\(s\) adding files: <stdin>:1: YAML syntax error/m);
  });

  it('names the line, kind and name of a document it cannot analyze, and says it was not analyzed', async () => {
    const good = 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw}\nspec: {selector: {istio: ingressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]}\n';
    const r = await weft(['-'], `${good}---\napiVersion: networking.istio.io/v1\nkind: VirtualServce\nmetadata: {name: reviews}\nspec: {hosts: [reviews]}\n`);
    assert.equal(r.code, 1);
    assert.equal(
      r.err,
      'Error(s) adding files: <stdin>:6 (VirtualServce reviews): networking.istio.io has no kind "VirtualServce"; known kinds in this group: VirtualService, DestinationRule, Gateway, ServiceEntry, WorkloadEntry, WorkloadGroup, Sidecar, EnvoyFilter, ProxyConfig\n' +
        'No validation issues found when analyzing namespace: default (but 1 document was not analyzed: see above).\n',
    );
  });

  it('runs as a real process with exit code 79', async () => {
    const res = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(process.execPath, [BIN, 'analyze', 'virtualservice_destinationrules.yaml'], { cwd: TESTDATA, timeout: 30_000 }, (e, out) => resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, out }));
    });
    assert.equal(res.code, 79);
    assert.match(res.out, /^Error \[IST0101\] \(VirtualService default\/reviews-bogussubset\) Referenced host\+subset in destinationrule not found: "reviews\+bogus"$/m);
  });
});
