// tcp_proxy idle_timeout (DestinationRule connectionPool.tcp.idleTimeout in Istio): a proxied TCP connection with no
// bytes either way for that long is closed on both sides; any byte, either way, starts the wait again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { TypeUrl } from '../../src/xds/protos.ts';
import { staticCluster, startProxy, viaProto } from './helpers.ts';

const IDLE_MS = 400;

test('tcp_proxy idle_timeout closes an idle connection on both sides, counted from the last byte either way', async (t) => {
  const upstreamClosed: Promise<void>[] = [];
  // An echo server that also speaks first once ("hello"), so bytes flow upstream → downstream too.
  const echo = net.createServer((s) => {
    upstreamClosed.push(new Promise((r) => s.once('close', () => r())));
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const p = await startProxy({ clusters: [staticCluster('echo', [(echo.address() as net.AddressInfo).port])] });
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const n = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(n));
    });
  });
  p.engine.apply(
    TypeUrl.listener,
    [
      viaProto(TypeUrl.listener, {
        name: 'tcp',
        address: { socket_address: { address: '127.0.0.1', port_value: port } },
        filter_chains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 'echo', cluster: 'echo', idle_timeout: { nanos: IDLE_MS * 1_000_000 } } }] }],
      }),
    ],
    '1',
  );
  await p.engine.listeners.reconcile(p.engine.snapshot.listeners.values(), p.engine.reserved);
  t.after(() => {
    p.close();
    echo.close();
  });

  const client = net.connect(port, '127.0.0.1');
  client.on('error', () => undefined);
  const closed = new Promise<number>((r) => client.once('close', () => r(performance.now())));
  let received = '';
  let lastByte = 0;
  const got = (want: string): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (received.includes(want)) {
          client.off('data', onData);
          resolve();
        }
      };
      const onData = (d: Buffer): void => {
        received += d.toString();
        lastByte = performance.now();
        check();
      };
      client.on('data', onData);
    });
  client.write('one');
  await got('one');
  // Activity part-way through the idle period restarts it.
  await new Promise((r) => setTimeout(r, IDLE_MS * 0.6));
  client.write('two');
  await got('two');
  const closedAt = await Promise.race([closed, new Promise<number>((_, reject) => setTimeout(() => reject(new Error('not closed within 5 s')), 5000))]);
  assert.ok(closedAt - lastByte >= IDLE_MS * 0.9, `closed ${Math.round(closedAt - lastByte)} ms after the last byte, before the idle timeout`);
  await Promise.all(upstreamClosed);
  assert.equal(received, 'onetwo');
});
