// Transparent capture for real, in a network namespace this test creates: Istio's rules installed with
// iptables-restore, a stand-in sidecar (DNS proxy on 15053, listeners on 15001/15006) running with the proxy's
// GID 1337, and an unmodified `curl http://reviews:9080/` inside the namespace. Checks that the name resolves
// through the DNS proxy to its auto-allocated address, that the connection lands on 15001 with that address
// and port as original destination, that inbound calls land on 15006, and that the proxy's own traffic and
// excluded ports are left alone. Skips only when not root or without `ip netns`.

import assert from 'node:assert/strict';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createWorkloadNamespace } from '../../src/agent/capture/namespace.ts';
import { workloadResolvConf } from '../../src/agent/dns/resolv-conf.ts';
import { captureSkipReason, fixture, jsonLines, stop } from './support.ts';

const skip = await captureSkipReason();

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

test('transparent capture: curl http://reviews:9080/ in a workload namespace reaches 15001 with the original destination', { skip }, async () => {
  const ns = await createWorkloadNamespace({ name: 'productpage' });
  const hostServer = createServer((_req, res) => res.end('host-side'));
  let standin: ReturnType<typeof ns.exec> | undefined;
  try {
    ns.writeEtcFile('resolv.conf', workloadResolvConf({ nameserver: ns.hostIp, namespace: 'default' }));
    await new Promise<void>((r) => hostServer.listen(0, ns.hostIp, r));
    const hostPort = (hostServer.address() as AddressInfo).port;
    await ns.applyCapture({ dns: { mode: 'servers', port: 15053, servers: [ns.hostIp] } });

    standin = ns.exec(
      process.execPath,
      [
        fixture('sidecar-standin.ts'),
        JSON.stringify({
          namespace: 'default',
          services: [
            { host: 'reviews.default.svc.cluster.local', addresses: [] },
            { host: 'ratings.default.svc.cluster.local', addresses: ['10.96.0.20'] },
          ],
          probe: `${ns.hostIp}:${hostPort}`,
        }),
      ],
      { gid: 1337, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const out = jsonLines(standin);
    const ready = await out.next((v) => v['ready'] === true);
    assert.equal(ready['gid'], 1337);
    const reviewsIp = (ready['allocated'] as Record<string, string>)['reviews.default.svc.cluster.local'];
    assert.match(reviewsIp ?? '', /^240\.240\.\d+\.\d+$/);

    // The proxy's own outbound call (GID 1337) is not captured: it reaches the host-side server.
    assert.equal((await out.next((v) => 'probe' in v))['probe'], 'host-side');

    // An unmodified curl: name → DNS proxy (port 53 redirected to 15053) → allocated VIP → redirected to 15001.
    const curl = await ns.run('curl', ['-sS', '--max-time', '10', 'http://reviews:9080/productpage']);
    assert.equal(curl.code, 0, `curl failed: ${curl.stderr}\nstand-in: ${out.stderr()}`);
    assert.deepEqual(JSON.parse(curl.stdout), {
      listener: 'outbound',
      originalDestination: { address: reviewsIp, port: 9080, family: 4 },
      host: 'reviews:9080',
      peer: `::ffff:${ns.podIp}`,
    });

    // A service with a VIP resolves to it; FQDN works as well.
    const ratings = await ns.run('curl', ['-sS', '--max-time', '10', 'http://ratings.default.svc.cluster.local:9080/']);
    assert.equal(ratings.code, 0, ratings.stderr);
    assert.deepEqual((JSON.parse(ratings.stdout) as { originalDestination: unknown }).originalDestination, { address: '10.96.0.20', port: 9080, family: 4 });

    // The app's own call to the host is captured (it is not the proxy).
    const direct = await ns.run('curl', ['-sS', '--max-time', '10', `http://${ns.hostIp}:${hostPort}/`]);
    assert.deepEqual((JSON.parse(direct.stdout) as { originalDestination: unknown }).originalDestination, { address: ns.hostIp, port: hostPort, family: 4 });

    // Inbound: a call to the pod IP lands on 15006; an excluded port (15021) is delivered as it is.
    const inbound = JSON.parse(await httpGet(`http://${ns.podIp}:9080/reviews/0`)) as Record<string, unknown>;
    assert.equal(inbound['listener'], 'inbound');
    assert.deepEqual(inbound['originalDestination'], { address: ns.podIp, port: 9080, family: 4 });
    const readiness = JSON.parse(await httpGet(`http://${ns.podIp}:15021/healthz/ready`)) as Record<string, unknown>;
    assert.equal(readiness['listener'], 'readiness');
    assert.equal(readiness['originalDestination'], null);

    // What an operator sees: Istio's chains.
    const saved = await ns.savedRules();
    for (const chain of ['ISTIO_INBOUND', 'ISTIO_IN_REDIRECT', 'ISTIO_OUTPUT', 'ISTIO_REDIRECT', 'ISTIO_OUTPUT_DNS']) assert.match(saved, new RegExp(`:${chain} `));
  } finally {
    if (standin) await stop(standin);
    await new Promise<void>((r) => hostServer.close(() => r()));
    await ns.destroy();
  }
});
