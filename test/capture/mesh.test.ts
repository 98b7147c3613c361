// The full path with Weft's real pieces: `weft up` (control plane and CA), a server workload `echo` started
// with `weft run` on its own host loopback address (relayed into the namespace), and a captured client workload whose sidecar (`weft proxy
// sidecar`, GID 1337) runs inside a network namespace with Istio's rules. An unmodified curl in that namespace
// calls http://echo:9080/: the DNS proxy answers with echo's auto-allocated address, the rules send the
// connection to the sidecar's 15001, the sidecar routes it over mutual TLS to echo's sidecar, which reports the
// call as mutual_tls from the client's SPIFFE identity. prepareCapturedWorkload() sets the namespace up: the DNS
// proxy (in this process, sockets inside owned by GID 1337), the control plane on the host's loopback relayed
// into the namespace (127.0.0.1 is never captured), and the rules.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { prepareCapturedWorkload } from '../../src/agent/capture/workload.ts';
import { parseAdminClusters } from '../../src/agent/dns/from-clusters.ts';
import type { CapturedWorkload } from '../../src/agent/capture/workload.ts';
import { identityArgs, localIdentity } from '../../src/runner/identity.ts';
import { freePort } from '../../src/runner/ports.ts';
import { captureSkipReason, stop } from './support.ts';

const skip = await captureSkipReason();
const weft = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));

/** A child process whose stdout+stderr can be waited on. */
function watch(child: ChildProcess): { waitFor: (re: RegExp, ms?: number) => Promise<RegExpExecArray>; text: () => string } {
  let text = '';
  const waiters = new Set<() => void>();
  const feed = (d: Buffer): void => {
    text += d.toString();
    for (const w of waiters) w();
  };
  child.stdout?.on('data', feed);
  child.stderr?.on('data', feed);
  child.on('exit', () => {
    for (const w of waiters) w();
  });
  const waitFor = (re: RegExp, ms = 30_000): Promise<RegExpExecArray> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`timed out waiting for ${re}:\n${text}`)), ms);
      const done = (err?: Error, m?: RegExpExecArray): void => {
        clearTimeout(timer);
        waiters.delete(check);
        if (err) reject(err);
        else if (m) resolve(m);
      };
      const check = (): void => {
        const m = re.exec(text);
        if (m) done(undefined, m);
        else if (child.exitCode !== null || child.signalCode !== null) done(new Error(`exited (${child.exitCode ?? child.signalCode}) before ${re}:\n${text}`));
      };
      waiters.add(check);
      check();
    });
  return { waitFor, text: () => text };
}

test('mesh: unmodified curl in a captured workload reaches echo by name, over mutual TLS', { skip, timeout: 90_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'weft-capture-mesh-'));
  const configDir = join(root, 'config');
  const stateDir = join(root, 'state');
  mkdirSync(configDir);
  writeFileSync(join(configDir, 'echo.yaml'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: echo\n  namespace: default\nspec:\n  ports:\n  - port: 9080\n    name: http\n  selector:\n    app: echo\n');
  const echoApp = join(root, 'echo.mjs');
  writeFileSync(echoApp, "import http from 'node:http';\nconst port = Number(process.argv[2]);\nhttp.createServer((req, res) => res.end('echo ' + req.url + ' from ' + req.headers['x-forwarded-client-cert'] + '\\n')).listen(port, '127.0.0.1');\nprocess.on('SIGTERM', () => process.exit(0));\n");

  const children: ChildProcess[] = [];
  let captured: CapturedWorkload | undefined;
  try {
    const up = spawn(process.execPath, [weft, 'up', '--config-dir', configDir, '--state-dir', stateDir, '--xds-port', '0', '--xds-tls-port', '0', '--monitoring-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(up);
    const upOut = watch(up);
    await upOut.waitFor(/weft control plane ready/);
    const xds = (await upOut.waitFor(/xDS \(plaintext\) listening on 127\.0\.0\.1:(\d+)/))[1] ?? '';
    const caPort = (await upOut.waitFor(/xDS \+ CA \(TLS\) listening on 127\.0\.0\.1:(\d+)/))[1] ?? '';

    // The captured client's namespace: DNS proxy (here, sockets inside with GID 1337), control plane relayed, rules.
    captured = await prepareCapturedWorkload({
      name: 'productpage',
      namespace: 'default',
      services: [{ host: 'echo.default.svc.cluster.local', addresses: [] }],
      relayPorts: [Number(xds), Number(caPort)],
      upstreams: [],
    });
    const ns = captured.ns;

    // echo: a plain `weft run` workload on its own host loopback address (127.0.10.x), as in `weft demo`.
    const echoPort = await freePort();
    const echo = spawn(process.execPath, [weft, 'run', '--name', 'echo-v1', '--labels', 'app=echo,version=v1', '--port', `http=${echoPort}`, '--config-dir', configDir, '--discovery-address', `127.0.0.1:${xds}`, '--ca-address', `127.0.0.1:${caPort}`, '--control-plane-state-dir', stateDir, '--', process.execPath, echoApp, String(echoPort)], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(echo);
    const echoOut = watch(echo);
    await echoOut.waitFor(/echo-v1 is serving on/);
    const echoStats = Number((await echoOut.waitFor(/stats :(\d+)/))[1]);

    // The client's sidecar inside the namespace, with GID 1337.
    const identity = await localIdentity({ controlPlaneStateDir: stateDir, caAddress: `127.0.0.1:${caPort}`, namespace: 'default', serviceAccount: 'productpage', outDir: join(root, 'identity'), name: 'productpage-v1' });
    const sidecar = captured.startSidecar(process.execPath, [weft, 'proxy', 'sidecar', '--discovery-address', `127.0.0.1:${xds}`, '--name', 'productpage-v1', '--namespace', 'default', '--service-account', 'productpage', '--labels', 'app=productpage,version=v1', '--ip', ns.podIp, '--admin-port', '0', '--stats-port', '0', '--readiness-port', '0', '--outbound-port', '15001', '--inbound-port', '-1', ...identityArgs(identity)], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(sidecar);
    const sidecarOut = watch(sidecar);
    await sidecarOut.waitFor(/^weft proxy ready$/m);
    const admin = (await sidecarOut.waitFor(/admin port (\d+)/))[1] ?? '';

    // echo's endpoint reaches the client sidecar after its auto-registration: wait for it in the admin /clusters,
    // then relay it into the namespace (weft run --capture does this as endpoints come and go).
    const echoAddress = (await echoOut.waitFor(/sidecar ready \(address (127\.\d+\.\d+\.\d+)/))[1] ?? '';
    let clusters = '';
    await waitUntil(async () => {
      clusters = (await ns.run('curl', ['-sS', '--max-time', '2', `http://127.0.0.1:${admin}/clusters`])).stdout;
      return clusters.includes(`::${echoAddress}:${echoPort}::`);
    }, 20_000, 'echo endpoint in the client sidecar');
    assert.deepEqual(await captured.setHostEndpoints(parseAdminClusters(clusters).endpoints), []);
    const curl = await ns.run('curl', ['-sS', '-f', '--max-time', '10', 'http://echo:9080/hello']);
    assert.equal(curl.code, 0, `curl: ${curl.stderr}\nclient sidecar:\n${sidecarOut.text()}\necho:\n${echoOut.text()}`);
    // echo's sidecar terminated mutual TLS and passed the client's certificate identity on (XFCC).
    assert.match(curl.stdout, /^echo \/hello from By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/default;URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/productpage\n$/);

    const prom = await (await fetch(`http://127.0.0.1:${echoStats}/stats/prometheus`)).text();
    assert.match(prom, /istio_requests_total\{reporter="destination",[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/productpage"[^}]*destination_service="echo\.default\.svc\.cluster\.local"[^}]*connection_security_policy="mutual_tls"[^}]*\} 1/);
  } finally {
    for (const child of children.reverse()) await stop(child);
    await captured?.close();
    rmSync(root, { recursive: true, force: true });
  }
});

/** Poll a condition (an admin endpoint) until it holds; bounded in time. */
async function waitUntil(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
