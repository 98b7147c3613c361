// `weft proxy` with --ca-address is ready only with its workload certificate, as /healthz/ready says (Istio's
// pilot-agent: a proxy without its certificate is not ready). A token for another service account is explained once
// — the account it names, the one asked for, what to pass — and retried; a replaced token file is picked up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mintBootstrapToken } from '../../src/ca/server/auth/token.ts';
import { requireTokenKeys } from '../../src/ca/server/store.ts';
import { startTestCa, tempDir } from '../../src/ca/testing/harness.ts';

const weft = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));

test('weft proxy: not ready without its certificate; a token for another account is explained once, and a new token is picked up', { timeout: 60_000 }, async (t) => {
  const tmp = tempDir('weft-identity-ready-');
  const ca = await startTestCa({ stateDir: tmp.dir });
  const started: { child?: ChildProcess } = {};
  t.after(async () => {
    if (started.child?.exitCode === null) started.child.kill('SIGKILL');
    await ca.close();
    tmp.remove();
  });
  const token = (serviceAccount: string): Promise<string> => mintBootstrapToken({ keys: requireTokenKeys(tmp.dir), identity: { namespace: 'shop', serviceAccount }, ttlSeconds: 600 });
  writeFileSync(join(tmp.dir, 'roots.pem'), ca.cp.ca.trustBundlePem());
  writeFileSync(join(tmp.dir, 'token'), await token('reviews'));
  // Static config only (no control plane): readiness waits on the certificate alone.
  writeFileSync(join(tmp.dir, 'bootstrap.yaml'), 'static_resources: {listeners: [], clusters: []}\n');
  const child = spawn(
    process.execPath,
    [weft, 'proxy', 'sidecar', '--bootstrap', join(tmp.dir, 'bootstrap.yaml'), '--ca-address', ca.address, '--ca-root-cert', join(tmp.dir, 'roots.pem'), '--token-file', join(tmp.dir, 'token'),
      '--name', 'ratings-1', '--namespace', 'shop', '--service-account', 'ratings', '--admin-port', '0', '--outbound-port', '0', '--inbound-port', '0', '--stats-port', '0', '--readiness-port', '0', '--status-port', '-1', '--drain-duration', '0s'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  started.child = child;
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const waitFor = (what: () => boolean, stream: NodeJS.ReadableStream): Promise<void> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!what()) return;
        stream.off('data', check);
        child.off('exit', exited);
        resolve();
      };
      const exited = (code: number | null): void => reject(new Error(`weft proxy exited ${code}: ${err}`));
      stream.on('data', check);
      child.once('exit', exited);
      check();
    });
  // Two failed attempts: the explanation, then a retry that says only that the error repeats.
  await waitFor(() => err.includes('(attempt 2)'), child.stderr);
  const explained = err.split('\n').filter((l) => l.includes('the CA refuses'));
  assert.equal(explained.length, 1, err);
  assert.match(
    explained[0]!,
    /error identity: the CA refuses \(PERMISSION_DENIED\) a certificate for spiffe:\/\/cluster\.local\/ns\/shop\/sa\/ratings \(--namespace shop --service-account ratings\): the bootstrap token names spiffe:\/\/cluster\.local\/ns\/shop\/sa\/reviews\. Pass --namespace shop --service-account reviews to run as that account, or a token for .*\(weft ca token --namespace shop --service-account ratings\)\. Retrying with backoff/,
  );
  assert.match(err, /\(attempt 2\), retrying in \d+ ms: the same error as before\n/);
  assert.doesNotMatch(out, /weft proxy ready/);
  const readiness = Number(/readiness port (\d+)/.exec(out)![1]);
  const notReady = await fetch(`http://127.0.0.1:${readiness}/healthz/ready`);
  assert.equal(notReady.status, 503);
  assert.equal(await notReady.text(), 'not ready: waiting for the workload certificate from the CA (the proxy log says why it has none)\n');

  // The operator replaces the token file: the next attempt reads it, and only then is the proxy ready.
  writeFileSync(join(tmp.dir, 'token'), await token('ratings'));
  await waitFor(() => out.includes('weft proxy ready'), child.stdout);
  assert.match(err, /info identity: spiffe:\/\/cluster\.local\/ns\/shop\/sa\/ratings serial [0-9a-f]+ valid until /);
  assert.equal((await fetch(`http://127.0.0.1:${readiness}/healthz/ready`)).status, 200);
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 0);
});
