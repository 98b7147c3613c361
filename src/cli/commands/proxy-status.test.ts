// Golden tests of `weft proxy-status` and `weft proxy-config` rendering, from a /debug/syncz and a
// /debug/config_dump captured from a real `weft up` (one SotW sidecar in sync, one delta sidecar that NACKed LDS).
// Regenerate the golden files with WEFT_UPDATE_GOLDEN=1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { readEnv } from '../../core/env.ts';
import { memoryIo } from '../io.ts';
import { main } from '../main.ts';
import { renderProxyStatus } from './proxy-status.ts';
import { renderSection } from './proxy-config.ts';

const dir = fileURLToPath(new URL('./testdata/proxy-status/', import.meta.url));
const syncz = JSON.parse(readFileSync(`${dir}syncz.json`, 'utf8')) as Parameters<typeof renderProxyStatus>[0];
const dump = JSON.parse(readFileSync(`${dir}config_dump.json`, 'utf8')) as Record<string, unknown>;

function golden(name: string, actual: string): void {
  const file = `${dir}${name}.golden`;
  if (readEnv().updateGolden) writeFileSync(file, actual);
  assert.equal(actual, readFileSync(file, 'utf8'), `${name} differs from ${file} (WEFT_UPDATE_GOLDEN=1 regenerates it)`);
}

test('proxy-status table: SYNCED, NOT SENT and NACKED with the error listed', () => {
  const out = renderProxyStatus(syncz);
  golden('proxy-status.txt', out);
  assert.match(out, /reviews-v2-5b667\.default rejected LDS: .*unknown filter/);
});

test('proxy-status with no proxies says so', () => {
  assert.equal(renderProxyStatus([]), 'No proxies are connected to the control plane.\n');
});

for (const section of ['cluster', 'listener', 'route', 'endpoint'] as const) {
  test(`proxy-config ${section} table`, () => golden(`proxy-config-${section}.txt`, renderSection(section, dump)));
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

test('usage errors and an unreachable control plane exit 2 with what to do', async () => {
  const io1 = memoryIo();
  assert.equal(await main(['proxy-config', 'bogus', 'x'], io1), 2);
  assert.match(io1.stderr(), /unknown config type "bogus": use cluster, listener, route, endpoint or secret/);
  const io2 = memoryIo();
  assert.equal(await main(['proxy-config', 'cluster'], io2), 2);
  assert.match(io2.stderr(), /name the proxy/);
  const io3 = memoryIo();
  assert.equal(await main(['proxy-status', '-o', 'yaml'], io3), 2);
  assert.match(io3.stderr(), /unsupported output format "yaml"/);
  const io4 = memoryIo();
  const port = await freePort();
  assert.equal(await main(['proxy-status', '--monitoring-address', `127.0.0.1:${port}`], io4), 2);
  assert.match(io4.stderr(), /cannot reach the control plane at 127\.0\.0\.1:\d+: .*is 'weft up' running\?/);
});
