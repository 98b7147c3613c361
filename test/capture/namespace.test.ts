// Workload namespaces for real: creation, connectivity to the host end, every golden rule set accepted by
// iptables-restore, cleanup on failure, on process exit, and by the sweeper after a SIGKILL.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { runTool } from '../../src/agent/capture/command.ts';
import { createWorkloadNamespace } from '../../src/agent/capture/namespace.ts';
import { connectInNamespace, listenInNamespace } from '../../src/agent/capture/netns-socket.ts';
import { originalDestination } from '../../src/agent/capture/original-dst.ts';
import { captureOptions, captureRules } from '../../src/agent/capture/rules.ts';
import type { CaptureOptions } from '../../src/agent/capture/rules.ts';
import { sweepStaleNamespaces } from '../../src/agent/capture/sweep.ts';
import { captureSkipReason, fixture, jsonLines } from './support.ts';

const skip = await captureSkipReason();

async function exists(netns: string, hostVeth: string): Promise<{ netns: boolean; veth: boolean; etc: boolean; owner: boolean }> {
  const list = await runTool('ip', ['netns', 'list']);
  const link = await runTool('ip', ['link', 'show', hostVeth]);
  return {
    netns: list.stdout.split('\n').some((l) => l.split(' ')[0] === netns),
    veth: link.code === 0,
    etc: existsSync(`/etc/netns/${netns}`),
    owner: existsSync(`/run/weft/netns/${netns}.json`),
  };
}
const gone = { netns: false, veth: false, etc: false, owner: false };

test('namespace: veth, addresses, default route, own /etc files; destroy removes everything', { skip }, async () => {
  const ns = await createWorkloadNamespace({ name: 'Reviews_V1', ipv6: true, resolvConf: 'nameserver 169.254.0.9' });
  const server = createServer((_req, res) => res.end('hello from the host end'));
  try {
    assert.match(ns.netns, /^weft-reviews-v1-[0-9a-f]{8}$/);
    assert.match(ns.hostVeth, /^weft-[0-9a-f]{8}$/);
    assert.deepEqual(await exists(ns.netns, ns.hostVeth), { netns: true, veth: true, etc: true, owner: true });
    assert.match(ns.podIp, /^169\.254\.(19[2-9]|2[0-5]\d)\.\d+$/);
    const addr = await ns.run('ip', ['-o', 'addr', 'show', 'dev', 'eth0']);
    assert.match(addr.stdout, new RegExp(`inet ${ns.podIp.replaceAll('.', '\\.')}/30`));
    assert.match(addr.stdout, new RegExp(`inet6 ${ns.podIp6 ?? 'missing'}/64`));
    assert.match((await ns.run('ip', ['route'])).stdout, new RegExp(`default via ${ns.hostIp.replaceAll('.', '\\.')} dev eth0`));
    assert.equal((await ns.run('cat', ['/etc/resolv.conf'])).stdout, 'nameserver 169.254.0.9\n');
    assert.ok((await ns.run('cat', ['/etc/hosts'])).stdout.includes(`${ns.podIp}\treviews-v1\n`));

    await new Promise<void>((r) => server.listen(0, ns.hostIp, r));
    const port = (server.address() as AddressInfo).port;
    const curl = await ns.run('curl', ['-sS', '--max-time', '5', `http://${ns.hostIp}:${port}/`]);
    assert.equal(curl.stdout, 'hello from the host end', curl.stderr);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
    await ns.destroy();
  }
  assert.deepEqual(await exists(ns.netns, ns.hostVeth), gone);
  await ns.destroy(); // idempotent
});

test('namespace: every golden rule set is accepted by iptables-restore and ip6tables-restore', { skip }, async () => {
  const ns = await createWorkloadNamespace({ name: 'rules', ipv6: true });
  try {
    const cases: Array<Partial<CaptureOptions>> = [
      {},
      { inboundPorts: [32000, 31000], outboundCidrs: [], outboundIncludePorts: [32000] },
      { inboundPorts: [] },
      { inboundExcludePorts: [22, 80, 443], outboundExcludePorts: [22, 80, 443] },
      { outboundCidrs: ['10.0.0.0/8', 'fd00::/8'], outboundExcludeCidrs: ['10.1.0.0/16', '2001:db8::/32'] },
      { proxyUids: [3, 4], proxyGids: [1, 2], dns: { mode: 'servers', port: 15053, servers: ['10.96.0.10', 'fd00::53'] } },
      { dns: { mode: 'all', port: 15053 } },
    ];
    for (const c of cases) {
      await ns.applyCapture(c); // throws with iptables-restore's stderr on a rejected line
      const saved = await ns.savedRules();
      const expectedRedirects = captureRules(captureOptions(c)).filter((l) => l.includes('REDIRECT --to-port')).length;
      assert.equal(saved.split('\n').filter((l) => l.includes('-j REDIRECT')).length, expectedRedirects, JSON.stringify(c));
    }
    // Applying again replaces, never duplicates.
    await ns.applyCapture({});
    await ns.applyCapture({});
    assert.equal((await ns.savedRules()).split('\n').filter((l) => l === '-A OUTPUT -j ISTIO_OUTPUT').length, 1);
    assert.match(await ns.savedRules('ipv6'), /-A ISTIO_OUTPUT -s ::6\/128 -o lo -j RETURN/);
  } finally {
    await ns.destroy();
  }
});

test('namespace: a failure half-way removes what was created', { skip }, async () => {
  const before = (await runTool('ip', ['netns', 'list'])).stdout;
  await assert.rejects(createWorkloadNamespace({ name: 'broken', prefixLength: 33 }), (e: Error) => /ip addr add .*failed/.test(e.message));
  const after = (await runTool('ip', ['netns', 'list'])).stdout;
  assert.equal(after.split('\n').filter((l) => l.startsWith('weft-broken-')).length, 0, after);
  assert.equal(before.split('\n').filter((l) => l.startsWith('weft-broken-')).length, 0);
  const leftovers = [...readdirSync('/run/weft/netns'), ...(existsSync('/etc/netns') ? readdirSync('/etc/netns') : [])];
  assert.deepEqual(leftovers.filter((f) => f.startsWith('weft-broken-')), []);
});

test('namespace: a process that exits without destroy() leaves nothing; a SIGKILLed one is swept', { skip }, async () => {
  const exiting = spawn(process.execPath, [fixture('create-namespace.ts'), 'exit'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const first = await jsonLines(exiting).next((v) => typeof v['netns'] === 'string');
  await new Promise<void>((r) => (exiting.exitCode !== null ? r() : exiting.once('exit', () => r())));
  assert.deepEqual(await exists(String(first['netns']), String(first['hostVeth'])), gone);

  const killed = spawn(process.execPath, [fixture('create-namespace.ts'), 'hang'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const second = await jsonLines(killed).next((v) => typeof v['netns'] === 'string');
  const netns = String(second['netns']);
  const hostVeth = String(second['hostVeth']);
  const mine = await createWorkloadNamespace({ name: 'alive' });
  try {
    const exited = new Promise<void>((r) => killed.once('exit', () => r()));
    killed.kill('SIGKILL');
    await exited;
    assert.deepEqual(await exists(netns, hostVeth), { netns: true, veth: true, etc: true, owner: true }, 'SIGKILL leaves it behind');
    const report = await sweepStaleNamespaces();
    assert.ok(report.removed.includes(netns), JSON.stringify(report));
    assert.ok(!report.removed.includes(mine.netns), 'a namespace whose owner is alive is kept');
    assert.deepEqual(await exists(netns, hostVeth), gone);
    assert.equal((await exists(mine.netns, mine.hostVeth)).netns, true);
  } finally {
    await mine.destroy();
  }
});

test('namespace: sockets made inside it from here are captured, unless owned by the proxy GID', { skip }, async () => {
  const ns = await createWorkloadNamespace({ name: 'owner' });
  const host = createServer((_req, res) => res.end('host'));
  const outbound = createServer((req, res) => res.end(`15001 for ${JSON.stringify(originalDestination(req.socket))}`));
  try {
    await ns.applyCapture({});
    await new Promise<void>((r) => host.listen(0, ns.hostIp, r));
    const port = (host.address() as AddressInfo).port;
    await listenInNamespace(outbound, ns.netns, { host: '::', port: 15001 });
    const call = (ownerGid?: number): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = connectInNamespace(ns.netns, { host: ns.hostIp, port }, ownerGid === undefined ? {} : { ownerGid });
        let raw = '';
        s.setEncoding('utf8').on('data', (d: string) => (raw += d));
        s.on('end', () => resolve(raw.slice(raw.indexOf('\r\n\r\n') + 4)));
        s.on('error', reject);
        s.end(`GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`);
      });
    assert.equal(await call(1337), 'host');
    assert.equal(await call(), `15001 for ${JSON.stringify({ address: ns.hostIp, port, family: 4 })}`);
  } finally {
    await new Promise<void>((r) => outbound.close(() => r()));
    await new Promise<void>((r) => host.close(() => r()));
    await ns.destroy();
  }
});
