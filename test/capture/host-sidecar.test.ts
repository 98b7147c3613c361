// The layout `weft run --capture` can use: the sidecar stays in the host's network namespace (control plane,
// peers and upstream resolvers stay reachable as they are) and owns sockets inside the workload's namespace:
// the outbound (15001) and inbound (15006) capture listeners and the DNS proxy (15053), made there by the
// addon. A child process in the host namespace with the proxy's GID plays the sidecar; the app and an
// unmodified curl run in the namespace; the upstream resolver is on the host's loopback.

import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { spawn } from 'node:child_process';
import { get } from 'node:http';
import { test } from 'node:test';
import { createWorkloadNamespace } from '../../src/agent/capture/namespace.ts';
import { encodeResponse, parseQuery, Rcode, RecordType } from '../../src/agent/dns/codec.ts';
import { workloadResolvConf } from '../../src/agent/dns/resolv-conf.ts';
import { captureSkipReason, fixture, jsonLines, stop } from './support.ts';

const skip = await captureSkipReason();

test('sidecar in the host namespace: DNS, outbound and inbound capture through sockets it owns in the workload namespace', { skip }, async () => {
  const ns = await createWorkloadNamespace({ name: 'ratings' });
  const closers: Array<() => Promise<void> | void> = [];
  try {
    ns.writeEtcFile('resolv.conf', workloadResolvConf({ nameserver: ns.hostIp, namespace: 'default' }));
    await ns.applyCapture({ dns: { mode: 'servers', port: 15053, servers: [ns.hostIp] } });

    // A fake upstream resolver on the host's loopback: reachable because the DNS proxy forwards from here.
    const upstream = createSocket('udp4');
    await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', r));
    closers.push(() => {
      upstream.close();
    });
    upstream.on('message', (msg, rinfo) => {
      const q = parseQuery(msg);
      if (!q?.question) return;
      const hit = q.question.name === 'api.upstream.test' && q.question.type === RecordType.A;
      upstream.send(encodeResponse(q, hit ? Rcode.NOERROR : Rcode.NXDOMAIN, hit ? [{ type: RecordType.A, ttl: 5, address: '10.20.30.40' }] : []), rinfo.port, rinfo.address);
    });

    const sidecar = spawn(process.execPath, [fixture('host-sidecar.ts'), JSON.stringify({ netns: ns.netns, podIp: ns.podIp, upstream: `127.0.0.1:${upstream.address().port}` })], {
      gid: 1337,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    closers.push(() => stop(sidecar));
    const sidecarOut = jsonLines(sidecar);
    const reviewsIp = (await sidecarOut.next((v) => v['ready'] === true))['reviews'];

    const app = ns.exec(process.execPath, ['-e', "require('http').createServer((q,s)=>s.end('app saw '+q.socket.remoteAddress)).listen(9080,'0.0.0.0',()=>console.log(JSON.stringify({ready:true})))"], { stdio: ['ignore', 'pipe', 'pipe'] });
    closers.push(() => stop(app));
    await jsonLines(app).next((v) => v['ready'] === true);

    const curl = await ns.run('curl', ['-sS', '--max-time', '10', 'http://reviews:9080/']);
    assert.equal(curl.code, 0, curl.stderr);
    assert.deepEqual(JSON.parse(curl.stdout), { listener: 'outbound', originalDestination: { address: reviewsIp, port: 9080, family: 4 }, host: 'reviews:9080' });

    const external = await ns.run('curl', ['-sS', '--max-time', '10', 'http://api.upstream.test:8080/']);
    assert.equal(external.code, 0, external.stderr);
    assert.deepEqual((JSON.parse(external.stdout) as { originalDestination: unknown }).originalDestination, { address: '10.20.30.40', port: 8080, family: 4 });
    await sidecarOut.next((v) => typeof v['forwarded'] === 'number' && v['forwarded'] >= 1);

    const body = await new Promise<string>((resolve, reject) => {
      get(`http://${ns.podIp}:9080/ratings/0`, (res) => {
        let b = '';
        res.setEncoding('utf8').on('data', (d: string) => (b += d));
        res.on('end', () => resolve(b));
      }).on('error', reject);
    });
    assert.equal(body, `via 15006 (${ns.podIp}:9080): app saw 127.0.0.6`);
  } finally {
    for (const close of closers.reverse()) await close();
    await ns.destroy();
  }
});
