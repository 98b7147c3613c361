// The full sidecar path, set up as users do: `weft up` on a config directory (a Kubernetes Service for nginx),
// nginx started by `weft run` (its sidecar auto-registers through a WorkloadGroup and gets its certificate from the
// CA), and a client sidecar (`weft proxy sidecar` with a bootstrap token) that the load generator uses as its HTTP
// proxy, as an app with HTTP_PROXY does. client → sidecar A (explicit outbound) → ISTIO_MUTUAL → sidecar B (inbound,
// TLS detected, PERMISSIVE) → nginx; Istio metrics on both, no access log. The peer: two HAProxy instances with
// TLS between them (`ssl crt` / `verify required ca-file`) using certificates from the same CA.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { childrenMatching, pin, start, until } from './lib.ts';

export interface MeshTarget {
  /** Where the load generator sends requests (the client sidecar's outbound port / HAProxy A). */
  url: string;
  /** Lua lines that make wrk send what an app behind HTTP_PROXY sends (absolute URI, Host). */
  lua: string;
  /** Processes whose CPU is the path's cost (both proxies). */
  pids: number[];
  /** Throws unless the last requests crossed the hop over mutual TLS. */
  verify(): Promise<void>;
}

export interface MeshSetup {
  root: string;
  node: string;
  /** bin/weft.js of the tree under test. */
  weft: string;
  dir: string;
  /** The app's port (nginx started by `weft run`, 127.0.0.1). */
  appPort: number;
  outboundPort: number;
  /** Environment of the Weft processes (e.g. NODE_OPTIONS for an A/B of V8 flags); default: this process's. */
  env?: NodeJS.ProcessEnv;
}

const get = (port: number, path: string, headers: Record<string, string> = {}, reqPath = path): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path: reqPath, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    r.setTimeout(5000, () => r.destroy(new Error('timeout')));
    r.on('error', reject);
    r.end();
  });

function nginxConf(dir: string, port: number): string {
  const p = join(dir, 'nginx-app.conf');
  writeFileSync(
    p,
    `worker_processes 1;\ndaemon off;\npid ${dir}/nginx-app.pid;\nerror_log ${dir}/nginx-app-error.log;\nevents { worker_connections 4096; }\n` +
      `http {\n  access_log off;\n  keepalive_requests 10000000;\n  keepalive_timeout 300s;\n  server { listen 127.0.0.1:${port}; location / { return 200 "ok"; } }\n}\n`,
  );
  return p;
}

/** Control plane, server workload (nginx + sidecar B) and client sidecar A. Returns the Weft path and the CA paths. */
export async function startWeftMesh(s: MeshSetup): Promise<{ weft: MeshTarget; state: string; caAddress: string; nginxAppPid: number }> {
  rmSync(s.dir, { recursive: true, force: true });
  const config = join(s.dir, 'config');
  const state = join(s.dir, 'state');
  mkdirSync(config, { recursive: true });
  writeFileSync(
    join(config, 'nginx-service.yaml'),
    `apiVersion: v1\nkind: Service\nmetadata: { name: nginx, namespace: default }\nspec:\n  ports: [{ port: 8080, name: http }]\n  selector: { app: nginx }\n`,
  );
  // The control plane and the supervisor share core 0 with the load generator; only the proxies run on core 1.
  const up = await start('taskset', ['-c', '0', s.node, s.weft, 'up', '--config-dir', config, '--state-dir', state, '--xds-port', '0', '--xds-tls-port', '0', '--monitoring-port', '0'], 'weft control plane ready', s.env);
  const xds = /xDS \(plaintext\) listening on (\S+)/.exec(up.out())![1]!;
  const caAddress = /xDS \+ CA \(TLS\) listening on (\S+)/.exec(up.out())![1]!;
  const conf = nginxConf(s.dir, s.appPort);
  const run = await start(
    'taskset',
    ['-c', '0', s.node, s.weft, 'run', '--name', 'nginx-v1', '--labels', 'app=nginx,version=v1', '--service-account', 'nginx', '--port', `http=${s.appPort}`,
      '--config-dir', config, '--discovery-address', xds, '--ca-address', caAddress, '--control-plane-state-dir', state, '--drain', '1s', '--', 'nginx', '-c', conf],
    /is serving on 127\.0\.0\.1/,
    s.env,
  );
  const address = /sidecar ready \(address (\S+?),/.exec(run.out())![1]!;
  const serverStats = Number(/stats :(\d+)/.exec(run.out())![1]);
  const sidecarB = childrenMatching(run.child.pid!, 'proxy sidecar')[0]!;
  pin(sidecarB, 1);
  const nginxMaster = childrenMatching(run.child.pid!, 'nginx: master')[0]!;
  const nginxAppPid = childrenMatching(nginxMaster, 'nginx: worker')[0]!;
  const root = join(state, 'ca/root-cert.pem');
  const token = join(s.dir, 'client.token');
  writeFileSync(token, execFileSync(s.node, [s.weft, 'ca', 'token', '--namespace', 'default', '--service-account', 'client', '--state-dir', state], { encoding: 'utf8' }));
  const a = await start(
    'taskset',
    ['-c', '1', s.node, s.weft, 'proxy', 'sidecar', '--discovery-address', caAddress, '--discovery-ca', root, '--ca-address', caAddress, '--ca-root-cert', root, '--token-file', token,
      '--name', 'client', '--service-account', 'client', '--labels', 'app=client,version=v1', '--admin-port', '0', '--outbound-port', String(s.outboundPort),
      '--inbound-port', '0', '--inbound-address', '127.0.0.1', '--stats-port', '0', '--readiness-port', '-1', '--status-port', '0'],
    'weft proxy ready',
    s.env,
  );
  const admin = Number(/admin port (\d+)/.exec(a.out())![1]);
  await until('the client sidecar to know the nginx endpoint', async () => (await get(admin, '/clusters')).body.includes(`outbound|8080||nginx.default.svc.cluster.local::${address}:`));
  await until('a request through both sidecars', async () => (await get(s.outboundPort, '/', { host: 'nginx:8080' }, 'http://nginx:8080/')).body === 'ok');
  return {
    state,
    caAddress,
    nginxAppPid,
    weft: {
      url: `http://127.0.0.1:${s.outboundPort}/`,
      lua: 'wrk.path = "http://nginx:8080/"\nwrk.headers["Host"] = "nginx:8080"\n',
      pids: [a.child.pid!, sidecarB],
      verify: async () => {
        const m = (await get(serverStats, '/stats/prometheus')).body;
        if (!/istio_requests_total\{reporter="destination"[^}]*connection_security_policy="mutual_tls"\}/.test(m)) throw new Error(`sidecar B recorded no mutual_tls requests:\n${m.slice(0, 2000)}`);
      },
    },
  };
}

/** Two HAProxy instances (nbthread 1 each, core 1) with TLS between them, certificates from the mesh CA. */
/** A certificate for service account `who` from the mesh CA (`weft ca token` + `weft ca request`): the directory holding it. */
function issue(s: MeshSetup, ca: { state: string; caAddress: string }, who: string): string {
  const root = join(ca.state, 'ca/root-cert.pem');
  const out = join(s.dir, who);
  mkdirSync(out, { recursive: true });
  const token = execFileSync(s.node, [s.weft, 'ca', 'token', '--namespace', 'default', '--service-account', who, '--state-dir', ca.state], { encoding: 'utf8' }).trim();
  execFileSync(s.node, [s.weft, 'ca', 'request', '--out-dir', out, '--ca-address', ca.caAddress, '--token', token, '--root-file', root], { stdio: 'ignore' });
  return out;
}

export async function startHaproxyPair(s: MeshSetup, ca: { state: string; caAddress: string }, ports: { a: number; b: number }): Promise<MeshTarget> {
  const root = join(ca.state, 'ca/root-cert.pem');
  const pems: Record<string, string> = {};
  for (const who of ['haproxy-a', 'haproxy-b']) {
    const out = issue(s, ca, who);
    pems[who] = join(out, 'crt-key.pem');
    writeFileSync(pems[who], readFileSync(join(out, 'cert-chain.pem'), 'utf8') + readFileSync(join(out, 'key.pem'), 'utf8'));
  }
  const defaults = `defaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n  http-reuse always\n`;
  const cfgB = join(s.dir, 'haproxy-b.cfg');
  writeFileSync(cfgB, `global\n  nbthread 1\n  maxconn 4000\n${defaults}frontend f\n  bind 127.0.0.1:${ports.b} ssl crt ${pems['haproxy-b']} ca-file ${root} verify required alpn http/1.1\n  default_backend b\nbackend b\n  server s1 127.0.0.1:${s.appPort}\n`);
  const cfgA = join(s.dir, 'haproxy-a.cfg');
  writeFileSync(cfgA, `global\n  nbthread 1\n  maxconn 4000\n${defaults}frontend f\n  bind 127.0.0.1:${ports.a}\n  default_backend b\nbackend b\n  server s1 127.0.0.1:${ports.b} ssl crt ${pems['haproxy-a']} ca-file ${root} verify required alpn http/1.1\n`);
  const b = await start('taskset', ['-c', '1', 'haproxy', '-f', cfgB]);
  const a = await start('taskset', ['-c', '1', 'haproxy', '-f', cfgA]);
  await until('a request through both HAProxy instances', async () => (await get(ports.a, '/')).body === 'ok');
  return {
    url: `http://127.0.0.1:${ports.a}/`,
    lua: '',
    pids: [a.child.pid!, b.child.pid!],
    verify: async () => {
      // HAProxy B only accepts TLS with a client certificate from the mesh CA: a plaintext request must fail.
      const plain = await get(ports.b, '/').catch(() => ({ status: 0, body: '' }));
      if (plain.status === 200) throw new Error('HAProxy B answered plaintext');
    },
  };
}

/**
 * The floor of any design with two Node.js processes per request (no HTTP, no routing, no metrics), both on core 1
 * and forwarding to the mesh's nginx: two TCP pipes in a row (bench/proxy/tcp-pipe.ts), and two pipes with mutual TLS
 * between them (bench/proxy/tls-pipe.ts, a certificate from the mesh CA, client certificate verified).
 */
export async function startNodePipePairs(
  s: MeshSetup,
  ca: { state: string; caAddress: string },
  ports: { tcpA: number; tcpB: number; tlsA: number; tlsB: number },
): Promise<{ tcp: MeshTarget; tls: MeshTarget }> {
  const here = (f: string): string => join(s.root, 'bench/proxy', f);
  const dir = issue(s, ca, 'node-pipe');
  const certs = [join(dir, 'cert-chain.pem'), join(dir, 'key.pem'), join(ca.state, 'ca/root-cert.pem')];
  const pipe = (file: string, args: string[]): ReturnType<typeof start> => start('taskset', ['-c', '1', s.node, here(file), ...args], 'ready');
  const tcpB = await pipe('tcp-pipe.ts', [String(ports.tcpB), String(s.appPort)]);
  const tcpA = await pipe('tcp-pipe.ts', [String(ports.tcpA), String(ports.tcpB)]);
  const tlsB = await pipe('tls-pipe.ts', ['in', String(ports.tlsB), String(s.appPort), ...certs]);
  const tlsA = await pipe('tls-pipe.ts', ['out', String(ports.tlsA), String(ports.tlsB), ...certs]);
  const target = (port: number, a: number, b: number): MeshTarget => ({ url: `http://127.0.0.1:${port}/`, lua: '', pids: [a, b], verify: async () => undefined });
  await until('a request through both TLS pipes', async () => (await get(ports.tlsA, '/')).body === 'ok');
  return { tcp: target(ports.tcpA, tcpA.child.pid!, tcpB.child.pid!), tls: target(ports.tlsA, tlsA.child.pid!, tlsB.child.pid!) };
}
