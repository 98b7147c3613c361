// `weft run --capture` (root only; skipped otherwise): a server workload in its own network namespace with Istio's
// rules — its sidecar inside takes the redirected inbound connection on 15006 — reached by name from an explicit
// client workload over mutual TLS; SIGTERM stops app and sidecar and removes the namespace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTool } from '../../src/agent/capture/command.ts';
import { freePort } from '../../src/runner/ports.ts';
import { captureSkipReason } from '../capture/support.ts';

const skip = await captureSkipReason();
const weft = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));

function run(args: string[]): { child: ChildProcess; text: () => string; exit: Promise<number | null>; waitFor: (re: RegExp) => Promise<RegExpExecArray> } {
  const child = spawn(process.execPath, [weft, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const waiters = new Set<() => void>();
  const feed = (d: Buffer): void => {
    text += d.toString();
    for (const w of waiters) w();
  };
  child.stdout!.on('data', feed);
  child.stderr!.on('data', feed);
  const exit = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  const waitFor = (re: RegExp): Promise<RegExpExecArray> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}:\n${text}`)), 40_000);
      const check = (): void => {
        const m = re.exec(text);
        if (!m) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(m);
      };
      waiters.add(check);
      void exit.then((c) => {
        if (!waiters.has(check)) return;
        waiters.delete(check);
        clearTimeout(timer);
        reject(new Error(`exited ${c} before ${re}:\n${text}`));
      });
      check();
    });
  return { child, text: () => text, exit, waitFor };
}

test('weft run --capture: a captured server reached by name from an explicit client, and a captured curl reaching an explicit server, over mTLS; the namespace goes with it', { skip, timeout: 90_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'weft-run-capture-'));
  const configDir = join(root, 'config');
  const stateDir = join(root, 'state');
  mkdirSync(configDir);
  writeFileSync(join(configDir, 'web.yaml'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: default\nspec:\n  ports:\n  - port: 9080\n    name: http\n  selector:\n    app: web\n');
  const app = join(root, 'web.mjs');
  writeFileSync(app, "import http from 'node:http';\nhttp.createServer((req, res) => res.end('web ' + req.url + ' from ' + req.headers['x-forwarded-client-cert'] + '\\n')).listen(9080, '127.0.0.1');\nprocess.on('SIGTERM', () => process.exit(0));\n");
  const children: ChildProcess[] = [];
  try {
    const up = run(['up', '--config-dir', configDir, '--state-dir', stateDir, '--xds-port', '0', '--xds-tls-port', '0', '--monitoring-port', '0']);
    children.push(up.child);
    await up.waitFor(/weft control plane ready/);
    const xds = (await up.waitFor(/xDS \(plaintext\) listening on (\S+)/))[1]!;
    const ca = (await up.waitFor(/xDS \+ CA \(TLS\) listening on (\S+)/))[1]!;
    const mesh = ['--discovery-address', xds, '--ca-address', ca, '--control-plane-state-dir', stateDir];

    // The app listens on 9080 inside its namespace, as in a pod; no port juggling in transparent mode.
    const web = run(['run', '--capture', '--name', 'web-v1', '--labels', 'app=web,version=v1', '--port', 'http=9080', '--config-dir', configDir, ...mesh, '--', process.execPath, app]);
    children.push(web.child);
    const podIp = (await web.waitFor(/sidecar ready in its network namespace \(pod IP (\S+),/))[1]!;
    const netns = (await runTool('ip', ['netns', 'list'])).stdout;
    assert.match(netns, /weft-web-v1-/);

    const client = run(['run', '--name', 'client-1', '--labels', 'app=client', '--service-account', 'client', ...mesh, '--', 'curl', '-sS', '-f', '--max-time', '10', 'http://web:9080/hi']);
    assert.equal(await client.exit, 0, client.text());
    assert.match(client.text(), /^web \/hi from By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/default;URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/client$/m);
    assert.ok(podIp.startsWith('169.254.'), podIp);

    // And the other way: an unmodified curl in a captured client reaches the web workload by name — here web is the
    // captured one, so run a second, explicit server on the host's loopback (127.0.10.x), as weft demo places them.
    writeFileSync(join(configDir, 'echo.yaml'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: echo\n  namespace: default\nspec:\n  ports:\n  - port: 9080\n    name: http\n  selector:\n    app: echo\n');
    const echoPort = await freePort(['127.0.0.1']);
    const echoApp = join(root, 'echo.mjs');
    writeFileSync(echoApp, "import http from 'node:http';\nhttp.createServer((req, res) => res.end('echo ' + req.url + ' from ' + req.headers['x-forwarded-client-cert'] + '\\n')).listen(Number(process.argv[2]), '127.0.0.1');\nprocess.on('SIGTERM', () => process.exit(0));\n");
    const echo = run(['run', '--name', 'echo-v1', '--labels', 'app=echo,version=v1', '--port', `http=${echoPort}`, '--config-dir', configDir, ...mesh, '--', process.execPath, echoApp, String(echoPort)]);
    children.push(echo.child);
    await echo.waitFor(/echo-v1 is serving on/);
    const curl = run(['run', '--capture', '--name', 'curl-1', '--labels', 'app=curl', '--service-account', 'curl', ...mesh, '--', 'curl', '-sS', '-f', '--max-time', '10', 'http://echo:9080/hello']);
    assert.equal(await curl.exit, 0, curl.text());
    assert.match(curl.text(), /^echo \/hello from By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/default;URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/curl$/m);
    echo.child.kill('SIGTERM');
    assert.equal(await echo.exit, 0);

    web.child.kill('SIGTERM');
    assert.equal(await web.exit, 0, web.text());
    assert.doesNotMatch((await runTool('ip', ['netns', 'list'])).stdout, /weft-web-v1-/);
  } finally {
    for (const c of children.reverse()) if (c.exitCode === null) c.kill('SIGTERM');
    rmSync(root, { recursive: true, force: true });
  }
});
