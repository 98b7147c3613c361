// Cost of opening an upstream mTLS connection as a sidecar does (tlsConnectOptions with the workload identity, the
// mesh roots and the SPIFFE check): client CPU per connection, for the tree under test and a baseline tree, in
// interleaved rounds. The server (Node TLS, requesting the client certificate) runs in a child process on core 1.
//   node_modules/.bin/node bench/proxy/tls-connect.ts [--connections 300] [--rounds 3] [--base DIR]
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { makeCa, makeLeaf } from '../../test/gateway-tls/certs.ts';
import { median } from './lib.ts';

type Module = typeof import('../../src/proxy/tls/upstream-tls.ts');
type Secrets = typeof import('../../src/proxy/tls/secrets.ts');
type Raw = typeof import('../../src/proxy/config/raw.ts');

const flag = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? (process.argv[i + 1] ?? def) : def;
};

if (process.argv[2] === 'serve') {
  const [, , , dir] = process.argv;
  const read = (f: string): string => readFileSync(join(dir!, f), 'utf8');
  const server = tls.createServer({ cert: read('server.crt'), key: read('server.key'), ca: read('ca.crt'), requestCert: true, rejectUnauthorized: true }, (s) => s.end('ok'));
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as { port: number }).port));
} else {
  const N = Number(flag('connections', '300'));
  const ROUNDS = Number(flag('rounds', '3'));
  const here = fileURLToPath(new URL('../../', import.meta.url));
  const trees = { 'this tree': here, base: flag('base', '') };
  const dir = mkdtempSync(join(tmpdir(), 'weft-tls-connect-'));
  makeCa(dir);
  makeLeaf(dir, 'client', 'productpage', { san: 'URI:spiffe://cluster.local/ns/default/sa/productpage' });
  makeLeaf(dir, 'server', 'reviews', { san: 'URI:spiffe://cluster.local/ns/default/sa/reviews' });
  const child = fork(fileURLToPath(import.meta.url), ['serve', dir], { execArgv: [] });
  const [port] = (await once(child, 'message')) as [number];
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  const variants: { name: string; connect: () => tls.TLSSocket }[] = [];
  for (const [name, tree] of Object.entries(trees)) {
    if (!tree) continue;
    const m = (await import(join(tree, 'src/proxy/tls/upstream-tls.ts'))) as Module;
    const { SecretStore } = (await import(join(tree, 'src/proxy/tls/secrets.ts'))) as Secrets;
    const { Errors } = (await import(join(tree, 'src/proxy/config/raw.ts'))) as Raw;
    const store = new SecretStore();
    store.update({ certChainPem: read('client.crt'), keyPem: read('client.key'), rootsPem: read('ca.crt'), spiffeId: 'spiffe://cluster.local/ns/default/sa/productpage' });
    const cfg = m.compileTransportSocket(
      { name: 'envoy.transport_sockets.tls', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', common_tls_context: { tls_certificate_sds_secret_configs: [{ name: 'default' }], combined_validation_context: { validation_context_sds_secret_config: { name: 'ROOTCA' } } } } },
      'transport_socket',
      new Errors(),
    )!;
    variants.push({
      name,
      connect: () => {
        const opts = m.tlsConnectOptions(cfg, store);
        if (typeof opts === 'string') throw new Error(opts);
        return tls.connect({ ...opts, host: '127.0.0.1', port });
      },
    });
    if (name !== 'this tree') continue;
    // What TLS session resumption between sidecars would save (not wired into the proxy): the last session
    // ticket the server sent is offered on the next connection.
    let session: Buffer | undefined;
    variants.push({
      name: 'this tree + session resumption',
      connect: () => {
        const opts = m.tlsConnectOptions(cfg, store);
        if (typeof opts === 'string') throw new Error(opts);
        const s = tls.connect({ ...opts, host: '127.0.0.1', port, ...(session ? { session } : {}) });
        s.once('session', (b: Buffer) => (session = b));
        return s;
      },
    });
  }
  const one = (v: (typeof variants)[number]): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = v.connect();
      s.on('data', () => undefined);
      s.once('end', () => resolve());
      s.once('error', reject);
    });
  const results = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  try {
    for (const v of variants) for (let i = 0; i < 30; i++) await one(v); // warm up
    for (let r = 0; r < ROUNDS; r++) {
      for (const v of variants) {
        const before = process.cpuUsage();
        const t0 = performance.now();
        for (let i = 0; i < N; i++) await one(v);
        const cpu = process.cpuUsage(before);
        const us = (cpu.user + cpu.system) / N;
        results.get(v.name)!.push(us);
        process.stderr.write(`round ${r + 1} ${v.name}: ${us.toFixed(0)} µs client CPU per connection, ${((performance.now() - t0) / N).toFixed(2)} ms wall\n`);
      }
    }
    for (const [name, xs] of results) console.log(`${name}: ${median(xs).toFixed(0)} µs client CPU per new mTLS connection (median of ${ROUNDS})`);
  } finally {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
