// originalDestination() through the native addon, for real: inside a namespace this test creates, a REDIRECT
// rule sends connections for 10.77.0.0/16 (IPv4) and fd77:77::/64 (IPv6) to a listener on 15001; the
// listener must see the address and port the client dialled.

import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import { test } from 'node:test';
import { addonPath, loadAddon } from '../../src/agent/capture/addon.ts';
import { applyRules, createWorkloadNamespace } from '../../src/agent/capture/namespace.ts';
import { originalDestination } from '../../src/agent/capture/original-dst.ts';
import { captureSkipReason, fixture, jsonLines, stop } from './support.ts';
import { WeftError } from '../../src/core/errors.ts';

const skip = await captureSkipReason();

test('originalDestination: IPv4 and IPv6 redirected connections report what the client dialled', { skip }, async () => {
  const ns = await createWorkloadNamespace({ name: 'origdst', ipv6: true });
  let listener: ReturnType<typeof ns.exec> | undefined;
  try {
    await applyRules(ns.netns, 'ipv4', ['*nat', '-A OUTPUT -p tcp -d 10.77.0.0/16 -j REDIRECT --to-ports 15001', 'COMMIT']);
    await applyRules(ns.netns, 'ipv6', ['*nat', '-A OUTPUT -p tcp -d fd77:77::/64 -j REDIRECT --to-ports 15001', 'COMMIT']);
    listener = ns.exec(process.execPath, [fixture('sidecar-standin.ts'), JSON.stringify({ namespace: 'default', services: [] })], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = jsonLines(listener);
    await out.next((v) => v['ready'] === true);

    const v4 = await ns.run('curl', ['-sS', '--max-time', '10', 'http://10.77.3.4:9080/']);
    assert.equal(v4.code, 0, v4.stderr);
    assert.deepEqual((JSON.parse(v4.stdout) as { originalDestination: unknown }).originalDestination, { address: '10.77.3.4', port: 9080, family: 4 });

    const v6 = await ns.run('curl', ['-sS', '-g', '--max-time', '10', 'http://[fd77:77::1234]:8443/']);
    assert.equal(v6.code, 0, v6.stderr);
    assert.deepEqual((JSON.parse(v6.stdout) as { originalDestination: unknown }).originalDestination, { address: 'fd77:77::1234', port: 8443, family: 6 });

    // Straight to the listener: not redirected, so no original destination.
    const direct = await ns.run('curl', ['-sS', '--max-time', '10', 'http://127.0.0.1:15001/']);
    assert.equal((JSON.parse(direct.stdout) as { originalDestination: unknown }).originalDestination, null);
  } finally {
    if (listener) await stop(listener);
    await ns.destroy();
  }
});

test('originalDestination: a connection on loopback without NAT has none (no root needed)', async () => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    const accepted = new Promise<ReturnType<typeof originalDestination>>((resolve) => server.once('connection', (s) => resolve(originalDestination(s))));
    const client = connect({ host: '127.0.0.1', port });
    assert.equal(await accepted, undefined);
    client.destroy();
  } finally {
    server.close();
  }
});

test('originalDestination: a missing addon is one clear error naming the build command', () => {
  assert.ok(!(loadAddon() instanceof WeftError), `the addon should be built at ${addonPath}: run npm run build:native`);
  const missing = loadAddon('/nonexistent/weft_native.node');
  assert.ok(missing instanceof WeftError);
  assert.equal(missing.code, 'WEFT_ERR_UNAVAILABLE');
  assert.match(missing.message, /npm run build:native/);
  assert.match(missing.message, /C compiler/);
});
