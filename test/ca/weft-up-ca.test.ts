// The CA inside a real `weft up` process, driven by the `weft ca` commands as separate processes: a workload
// certificate over 15012 that openssl verifies, then a root rotation on the state dir that the running control plane
// picks up, after which a caller that trusts only the old root still gets (and verifies) a certificate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openssl, tempDir } from '../../src/ca/testing/harness.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const nodeBin = join(repoRoot, 'node_modules/.bin/node');
const weftBin = join(repoRoot, 'bin/weft.js');

function weft(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(nodeBin, [weftBin, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return once(child, 'exit').then(([code]) => {
    clearTimeout(timer);
    return { code: code as number | null, out, err };
  });
}

/** Resolves when `text()` matches `re`, checking after every chunk the stream emits; rejects after timeoutMs. */
function waitForOutput(stream: NodeJS.ReadableStream, text: () => string, re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const m = re.exec(text());
      if (!m) return;
      clearTimeout(timer);
      stream.off('data', onData);
      resolve(m);
    };
    const onData = (): void => void setImmediate(check);
    const timer = setTimeout(() => {
      stream.off('data', onData);
      reject(new Error(`no ${re} within ${timeoutMs} ms in:\n${text()}`));
    }, timeoutMs);
    stream.on('data', onData);
    check();
  });
}

test('weft up issues certificates on 15012 and follows weft ca rotate-root', async (t) => {
  const tmp = tempDir('weft-up-ca-');
  const config = join(tmp.dir, 'config');
  const state = join(tmp.dir, 'state');
  mkdirSync(config);
  const up: ChildProcess = spawn(nodeBin, [weftBin, 'up', '--config-dir', config, '--state-dir', state, '--xds-port', '0', '--xds-tls-port', '0', '--monitoring-port', '0'], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(async () => {
    if (up.exitCode === null) {
      const exited = once(up, 'exit');
      up.kill('SIGTERM');
      await exited;
    }
    tmp.remove();
  });
  let out = '';
  let err = '';
  up.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  up.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const [, port] = await waitForOutput(up.stdout!, () => out, /xDS \+ CA \(TLS\) listening on 127\.0\.0\.1:(\d+)/);
  await waitForOutput(up.stdout!, () => out, /ready/);

  const root = await weft(['ca', 'root', '--state-dir', state]);
  assert.equal(root.code, 0, root.err);
  const oldRoot = join(tmp.dir, 'old-root.pem');
  writeFileSync(oldRoot, root.out);
  const token = (await weft(['ca', 'token', '--namespace', 'default', '--service-account', 'reviews', '--state-dir', state])).out.trim();
  const first = await weft(['ca', 'request', '--ca-address', `127.0.0.1:${port}`, '--root-file', oldRoot, '--token', token, '--out-dir', join(tmp.dir, 'a')]);
  assert.equal(first.code, 0, first.err);
  assert.match(first.out, /identity: +spiffe:\/\/cluster\.local\/ns\/default\/sa\/reviews/);
  assert.match(await openssl(['verify', '-CAfile', 'root-cert.pem', 'cert-chain.pem'], join(tmp.dir, 'a')), /OK/);

  const rotated = await weft(['ca', 'rotate-root', '--state-dir', state, '--overlap', '1h']);
  assert.equal(rotated.code, 0, rotated.err);
  await waitForOutput(up.stderr!, () => err, /signing material changed: now self-signed root generation 2 \(rotating from 1/);

  const second = await weft(['ca', 'request', '--ca-address', `127.0.0.1:${port}`, '--root-file', oldRoot, '--token', token, '--out-dir', join(tmp.dir, 'b')]);
  assert.equal(second.code, 0, second.err);
  const inspect = await weft(['ca', 'inspect', join(tmp.dir, 'b', 'cert-chain.pem')]);
  assert.match(inspect.out, /\[0\]:\n {2}subject: +\(empty\)\n {2}issuer: +O=cluster\.local, CN=Weft Root CA 2/);
  assert.match(inspect.out, /\[1\]:\n {2}subject: +O=cluster\.local, CN=Weft Root CA 2\n {2}issuer: +O=cluster\.local, CN=Weft Root CA 1/);
  assert.match(await openssl(['verify', '-CAfile', oldRoot, '-untrusted', 'cert-chain.pem', 'cert-chain.pem'], join(tmp.dir, 'b')), /OK/);
});
