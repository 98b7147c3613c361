// `weft analyze` prints the tracing findings (settings that yield no spans) as plain warnings without an IST code.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { memoryIo } from '../io.ts';
import { main } from '../main.ts';

const dir = mkdtempSync(join(tmpdir(), 'weft-analyze-tracing-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const meshFile = join(dir, 'mesh.yaml');
writeFileSync(meshFile, `
extensionProviders:
- name: dd
  datadog: { service: datadog-agent.monitoring.svc.cluster.local, port: 8126 }
- name: otel
  opentelemetry: { service: otel-collector.observability.svc.cluster.local, port: 4317 }
`);

const telemetry = (ns: string, name: string, provider: string): string => `---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: ${name}, namespace: ${ns} }
spec:
  tracing:
  - providers: [{ name: ${provider} }]
`;

async function weft(args: string[], stdin: string): Promise<{ code: number; out: string; err: string }> {
  const io = memoryIo(stdin, dir);
  const code = await main(['analyze', '-', ...args], io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('weft analyze: tracing findings', () => {
  it('warns about an undefined provider, an unsupported kind and a collector missing from the registry', async () => {
    const r = await weft(['--meshConfigFile', meshFile], telemetry('default', 'missing', 'nope') + telemetry('default', 'datadog', 'dd') + telemetry('default', 'otel', 'otel'));
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n');
    assert.equal(lines.length, 3, r.out);
    assert.match(r.out, /^Warning \(Telemetry default\/missing\) spec\.tracing\[0\]\.providers\[0\]\.name: names extension provider "nope", which MeshConfig extensionProviders does not define/m);
    assert.match(r.out, /^Warning \(Telemetry default\/datadog\) spec\.tracing\[0\]\.providers\[0\]\.name: selects extension provider "dd" \(datadog\)/m);
    assert.match(r.out, /^Warning \(MeshConfig\) extensionProviders\[otel\]\.opentelemetry\.service: tracing provider "otel": service "otel-collector\.observability\.svc\.cluster\.local" port 4317 is not in the service registry/m);
    for (const l of lines) assert.doesNotMatch(l, /\[IST\d+\]/);
    assert.doesNotMatch(r.err, /No validation issues/);
  });

  it('says nothing when the collector is registered, and keeps other namespaces out unless -A', async () => {
    const collector = `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: otel, namespace: observability }
spec: { hosts: [otel-collector.observability.svc.cluster.local], ports: [{ number: 4317, name: grpc, protocol: GRPC }], resolution: DNS }
`;
    const ok = await weft(['--meshConfigFile', meshFile], collector + telemetry('default', 'otel', 'otel'));
    assert.equal(ok.out, '');
    assert.match(ok.err, /No validation issues found/);
    const other = telemetry('shop', 'missing', 'nope');
    assert.equal((await weft([], other)).out, '');
    assert.match((await weft(['-A'], other)).out, /^Warning \(Telemetry shop\/missing\) /m);
  });

  it('keeps JSON output istioctl-shaped and puts the warnings on stderr', async () => {
    const r = await weft(['-o', 'json'], telemetry('default', 'missing', 'nope'));
    assert.deepEqual(JSON.parse(r.out), []);
    assert.match(r.err, /^Warning \(Telemetry default\/missing\) /m);
  });
});
