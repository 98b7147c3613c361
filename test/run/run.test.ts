// `weft run` as a real process beside a real `weft up`: a server workload auto-registered through a WorkloadGroup
// that `weft run` writes, reached by name from a client workload (curl through its sidecar, mTLS between the
// sidecars); signal forwarding and ordered stop; the app's exit status; clear errors for the usual mistakes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { freePort as freePortOn } from '../ports.ts';
const freePort = (): Promise<number> => freePortOn('127.0.0.1');

const weft = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'weft-run-test-'));
const configDir = join(root, 'config');
const stateDir = join(root, 'state');
const echoApp = join(root, 'echo.mjs');
let up: ChildProcess;
let xds = '';
let ca = '';


interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<number | null>;
  waitFor: (re: RegExp, ms?: number) => Promise<void>;
}

function start(args: string[]): Proc {
  const child = spawn(process.execPath, [weft, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters) w();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    for (const w of waiters) w();
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitFor = (re: RegExp, ms = 30_000): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (re.test(out) || re.test(err)) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${re}; stdout:\n${out}\nstderr:\n${err}`));
      }, ms);
      waiters.add(check);
      void exit.then((code) => {
        if (!waiters.has(check)) return;
        waiters.delete(check);
        clearTimeout(timer);
        reject(new Error(`exited ${code} before ${re}; stdout:\n${out}\nstderr:\n${err}`));
      });
      check();
    });
  return { child, out: () => out, err: () => err, exit, waitFor };
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

before(async () => {
  mkdirSync(configDir, { recursive: true });
  writeFileSync(
    join(configDir, 'echo-service.yaml'),
    'apiVersion: v1\nkind: Service\nmetadata:\n  name: echo\n  namespace: default\nspec:\n  ports:\n  - port: 9080\n    name: http\n  selector:\n    app: echo\n',
  );
  writeFileSync(
    echoApp,
    `import http from 'node:http';
const [port, version] = process.argv.slice(2);
const server = http.createServer((req, res) => res.end('echo ' + version + ' ' + req.url + '\\n')).listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => { console.log('app: SIGTERM, draining'); server.close(() => process.exit(0)); });
`,
  );
  up = start(['up', '--config-dir', configDir, '--state-dir', stateDir, '--xds-port', '0', '--xds-tls-port', '0', '--monitoring-port', '0']).child;
  const p = { out: '' };
  await new Promise<void>((resolve, reject) => {
    up.stdout!.on('data', (d: Buffer) => {
      p.out += d.toString();
      if (p.out.includes('weft control plane ready')) resolve();
    });
    up.once('exit', (c) => reject(new Error(`weft up exited ${c}`)));
  });
  xds = /xDS \(plaintext\) listening on (\S+)/.exec(p.out)![1]!;
  ca = /xDS \+ CA \(TLS\) listening on (\S+)/.exec(p.out)![1]!;
});

after(() => {
  up.kill('SIGTERM');
  rmSync(root, { recursive: true, force: true });
});

const mesh = (): string[] => ['--discovery-address', xds, '--ca-address', ca, '--control-plane-state-dir', stateDir];

test('weft run: auto-registered server reached by name from a client workload over mTLS; SIGTERM drains the app, then the sidecar', { timeout: 90_000 }, async () => {
  const port = await freePort();
  const server = start(['run', '--name', 'echo-v1', '--labels', 'app=echo,version=v1', '--port', `http=${port}`, '--config-dir', configDir, ...mesh(), '--', process.execPath, echoApp, String(port), 'v1']);
  try {
    await server.waitFor(/echo-v1 is serving on 127\.0\.0\.1:/);
    assert.match(server.err(), /WorkloadGroup default\/echo created in /);
    const group = readFileSync(join(configDir, 'default', 'workloadgroup-echo.yaml'), 'utf8');
    assert.match(group, /kind: WorkloadGroup/);
    assert.match(group, /app: echo/);
    const address = /sidecar ready \(address (127\.0\.\d+\.\d+)/.exec(server.err())![1]!;

    // curl honours http_proxy: the client's sidecar routes http://echo:9080 to echo-v1's sidecar, which forwards to the app.
    const client = start(['run', '--name', 'client-1', '--labels', 'app=client', ...mesh(), '--', 'curl', '-sS', '-f', '--max-time', '10', 'http://echo:9080/hello']);
    assert.equal(await client.exit, 0, client.err());
    assert.equal(client.out(), 'echo v1 /hello\n');
    assert.match(client.err(), /the app exited \(exit code 0\); sidecar stopped/);

    // The request arrived through echo-v1's inbound listener on its own address, over mutual TLS.
    const stats = Number(/stats :(\d+)/.exec(server.err())![1]);
    const prom = await (await fetch(`http://127.0.0.1:${stats}/stats/prometheus`)).text();
    assert.match(prom, /istio_requests_total\{reporter="destination",[^}]*destination_service="echo\.default\.svc\.cluster\.local"[^}]*connection_security_policy="mutual_tls"[^}]*\} 1/);
    assert.ok(address.startsWith('127.0.'));

    const kids = childrenOf(server.child.pid!);
    assert.equal(kids.length, 2, 'weft run has two children: the sidecar and the app');
    server.child.kill('SIGTERM');
    assert.equal(await server.exit, 0);
    assert.match(server.out() + server.err(), /app: SIGTERM, draining/);
    assert.deepEqual(kids.filter(alive), [], 'the app and the sidecar are gone');
  } finally {
    if (server.child.exitCode === null) {
      // An assertion failed half-way: kill weft run's children too (a SIGKILLed weft run cannot stop them).
      for (const pid of childrenOf(server.child.pid!)) process.kill(-pid, 'SIGKILL');
      server.child.kill('SIGKILL');
    }
  }
});

test("weft run: exits with the app's status and never restarts it", { timeout: 30_000 }, async () => {
  const r = start(['run', '--name', 'exit-7', ...mesh(), '--', 'sh', '-c', 'exit 7']);
  assert.equal(await r.exit, 7, r.err());
  assert.match(r.err(), /the app exited \(exit code 7\)/);
});

test('weft run: clear errors — control plane unreachable, port in use, unknown WorkloadGroup, no command', { timeout: 30_000 }, async () => {
  const dead = await freePort();
  const a = start(['run', '--name', 'a', '--discovery-address', `127.0.0.1:${dead}`, '--', 'true']);
  assert.equal(await a.exit, 2);
  assert.match(a.err(), new RegExp(`cannot reach the control plane at 127\\.0\\.0\\.1:${dead} \\(ECONNREFUSED\\)\\. Start it with 'weft up`));

  const busy = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => busy.once('listening', r));
  const port = (busy.address() as net.AddressInfo).port;
  const b = start(['run', '--name', 'b', '--port', `http=${port}`, ...mesh(), '--', 'true']);
  assert.equal(await b.exit, 2);
  assert.match(b.err(), new RegExp(`port ${port} on 127\\.0\\.0\\.1 \\(b's app port\\) is not available \\(EADDRINUSE\\)`));
  busy.close();

  const c = start(['run', '--name', 'c', '--port', `http=${await freePort()}`, '--workload-group', 'nope', ...mesh(), '--', 'true']);
  assert.equal(await c.exit, 2);
  assert.match(c.err(), /WorkloadGroup default\/nope not found/);
  assert.match(c.err(), /--config-dir/);

  const d = start(['run', '--name', 'd']);
  assert.equal(await d.exit, 2);
  assert.match(d.err(), /no command: put the app's command after --/);
  assert.ok(!existsSync(join(configDir, 'default', 'workloadgroup-nope.yaml')), 'nothing written without --config-dir');
});

test('weft run: Ctrl-C while the sidecar is starting stops the sidecar too (no orphan)', { timeout: 30_000 }, async () => {
  // Something that accepts TCP but never speaks xDS: the sidecar starts and waits for config forever.
  const mute = net.createServer(() => undefined).listen(0, '127.0.0.1');
  await new Promise((r) => mute.once('listening', r));
  try {
    const r = start(['run', '--name', 'impatient', '--discovery-address', `127.0.0.1:${(mute.address() as net.AddressInfo).port}`, '--', 'true']);
    // The sidecar is up (its ports printed to weft run, which keeps them to itself) once a child process exists.
    let kids: number[] = [];
    for (let i = 0; i < 200 && kids.length === 0; i++) {
      kids = childrenOf(r.child.pid!);
      if (kids.length === 0) await new Promise((res) => setTimeout(res, 25));
    }
    assert.equal(kids.length, 1, 'the sidecar is starting');
    r.child.kill('SIGINT');
    assert.equal(await r.exit, 130);
    assert.match(r.err(), /SIGINT: start-up of impatient interrupted; everything it started is stopped/);
    assert.deepEqual(kids.filter(alive), []);
  } finally {
    mute.close();
  }
});

test('weft run with two ports (http and grpc): both registered, both reached through the sidecars over mTLS; app metrics merged on the status port', { timeout: 90_000 }, async () => {
  writeFileSync(
    join(configDir, 'multi-service.yaml'),
    'apiVersion: v1\nkind: Service\nmetadata:\n  name: multi\n  namespace: default\nspec:\n  ports:\n  - port: 9080\n    name: http\n  - port: 9090\n    name: grpc\n  selector:\n    app: multi\n',
  );
  const grpcJs = createRequire(import.meta.url).resolve('@grpc/grpc-js');
  const raw = '{ path: "/test.Echo/Echo", requestStream: false, responseStream: false, requestSerialize: (b) => b, requestDeserialize: (b) => b, responseSerialize: (b) => b, responseDeserialize: (b) => b }';
  const app = join(root, 'multi.mjs');
  writeFileSync(
    app,
    `import http from 'node:http';
import grpc from ${JSON.stringify(grpcJs)};
const [httpPort, grpcPort] = process.argv.slice(2).map(Number);
let served = 0;
http.createServer((req, res) => {
  if (req.url === '/metrics') return res.end('# HELP multi_served_total Requests served.\\n# TYPE multi_served_total counter\\nmulti_served_total ' + served + '\\n');
  served++;
  res.end('http ' + req.url + ' xfcc=' + (req.headers['x-forwarded-client-cert'] ?? '-') + '\\n');
}).listen(httpPort, '127.0.0.1');
const server = new grpc.Server();
server.addService({ Echo: ${raw} }, { Echo: (call, cb) => cb(null, Buffer.concat([Buffer.from('grpc '), call.request])) });
server.bindAsync('127.0.0.1:' + grpcPort, grpc.ServerCredentials.createInsecure(), () => undefined);
process.on('SIGTERM', () => process.exit(0));
`,
  );
  const client = join(root, 'multi-client.mjs');
  writeFileSync(
    client,
    `import grpc from ${JSON.stringify(grpcJs)};
const r = await fetch('http://multi:9080/over-http');
console.log((await r.text()).trim());
// grpc-js honours http_proxy: a CONNECT tunnel through the client's sidecar, mTLS to the server's sidecar.
const c = new grpc.Client('multi:9090', grpc.credentials.createInsecure());
const def = ${raw};
c.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, Buffer.from('over-grpc'), { deadline: Date.now() + 10000 }, (e, v) => {
  console.log(e ? 'grpc error ' + e.message : v.toString());
  c.close();
});
`,
  );
  const [httpPort, grpcPort] = [await freePort(), await freePort()];
  const server = start(['run', '--name', 'multi-v1', '--labels', 'app=multi,version=v1', '--port', `http=${httpPort}`, '--port', `grpc=${grpcPort}`, '--app-metrics-port', String(httpPort), '--config-dir', configDir, ...mesh(), '--', process.execPath, app, String(httpPort), String(grpcPort)]);
  try {
    await server.waitFor(new RegExp(`multi-v1 is serving on 127\\.0\\.0\\.1:${httpPort}, 127\\.0\\.0\\.1:${grpcPort}`));
    const address = /sidecar ready \(address (127\.0\.\d+\.\d+)/.exec(server.err())![1]!;
    assert.match(server.err(), new RegExp(`inbound ${address.replace(/\./g, '\\.')}:${httpPort} → app 127\\.0\\.0\\.1:${httpPort}, ${address.replace(/\./g, '\\.')}:${grpcPort} → app`));
    const c = start(['run', '--name', 'multi-client', '--labels', 'app=multi-client', '--service-account', 'multi-client', ...mesh(), '--', process.execPath, client]);
    assert.equal(await c.exit, 0, c.err());
    const [httpLine, grpcLine] = c.out().trim().split('\n');
    assert.match(httpLine ?? '', /^http \/over-http xfcc=By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/default;.*URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/multi-client/);
    assert.equal(grpcLine, 'grpc over-grpc');

    // Both inbound ports saw mTLS traffic, and the app's own counter is merged into the status port's page.
    const status = Number(/status :(\d+)/.exec(server.err())![1]);
    const page = await (await fetch(`http://127.0.0.1:${status}/stats/prometheus`)).text();
    assert.match(page, /^multi_served_total 1$/m);
    // The HTTP request and the gRPC call (HTTP/2 inside the tunnel's mTLS) both reached the app through its sidecar.
    assert.match(page, /^istio_requests_total\{reporter="destination",[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/multi-client",[^}]*destination_service="multi\.default\.svc\.cluster\.local"[^}]*connection_security_policy="mutual_tls"[^}]*\} 2$/m);
    assert.equal(page.split('\n').filter((l) => l === '# TYPE istio_requests_total counter').length, 1);
    server.child.kill('SIGTERM');
    assert.equal(await server.exit, 0);
  } finally {
    if (server.child.exitCode === null) {
      for (const pid of childrenOf(server.child.pid!)) process.kill(-pid, 'SIGKILL');
      server.child.kill('SIGKILL');
    }
  }
});

test('weft run SIGKILLed: its sidecar notices (end of file on the stdin pipe weft run holds) and exits at once; the app gets SIGTERM', { timeout: 60_000 }, async () => {
  const port = await freePort();
  const server = start(['run', '--name', 'orphan-v1', '--labels', 'app=echo,version=orphan', '--port', `http=${port}`, '--config-dir', configDir, ...mesh(), '--', process.execPath, echoApp, String(port), 'orphan']);
  let kids: number[] = [];
  try {
    await server.waitFor(/orphan-v1 is serving on 127\.0\.0\.1:/);
    kids = childrenOf(server.child.pid!);
    const cmdline = (pid: number): string => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    const sidecar = kids.find((pid) => / proxy sidecar /.test(cmdline(pid)));
    assert.ok(sidecar !== undefined, `a sidecar among weft run's children: ${kids.map(cmdline).join(' | ')}`);
    server.child.kill('SIGKILL');
    await server.exit;
    // The exit is an event in another process tree (the sidecar is re-parented): poll, bounded.
    const deadline = Date.now() + 10_000;
    while (alive(sidecar) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(alive(sidecar), false, `sidecar ${sidecar} still running 10 s after weft run was SIGKILLed`);
    // The app (started through setpriv --pdeathsig SIGTERM where util-linux has it) drains and exits too.
    const app = kids.find((pid) => pid !== sidecar)!;
    const appDeadline = Date.now() + 10_000;
    while (alive(app) && Date.now() < appDeadline) await new Promise((r) => setTimeout(r, 50));
    if (existsSync('/usr/bin/setpriv') || existsSync('/bin/setpriv')) assert.equal(alive(app), false, `app ${app} still running 10 s after weft run was SIGKILLed`);
  } finally {
    for (const pid of kids) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
  }
});
