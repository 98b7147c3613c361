// Process harness for the end-to-end tests: start `weft up` as a real process (waiting for its ready line and
// reading the ports it prints), run the @grpc/grpc-js-xds client worker as another process, and stop both.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const nodeBin = join(repoRoot, 'node_modules/.bin/node');
export const weftBin = join(repoRoot, 'bin/weft.js');

export interface WeftProcess {
  child: ChildProcess;
  xdsPort: number;
  xdsTlsPort: number;
  monitoringPort: number;
  stdout: string[];
  stderr: () => string;
  /** Send SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
}

/** Start `weft up` with every port on 0 and wait (bounded) for `weft control plane ready`. */
export async function startWeft(configDir: string, stateDir: string, extraArgs: string[] = [], timeoutMs = 20_000, env: Record<string, string> = {}): Promise<WeftProcess> {
  const child = spawn(nodeBin, [weftBin, 'up', '--config-dir', configDir, '--state-dir', stateDir, '--xds-port', '0', '--xds-tls-port', '0', '--monitoring-port', '0', ...extraArgs], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WEFT_LOG_LEVEL: 'info', ...env },
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const stdout: string[] = [];
  const ports: Record<string, number> = {};
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`weft up was not ready within ${timeoutMs} ms:\n${stdout.join('\n')}\n${err}`)), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`weft up exited with ${code} before it was ready:\n${stdout.join('\n')}\n${err}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      stdout.push(line);
      const m = /^weft: (xDS \(plaintext\)|xDS \+ CA \(TLS\)|monitoring) listening on (?:http:\/\/)?[^ ]*:(\d+)/.exec(line);
      if (m) ports[m[1]!] = Number(m[2]);
      if (line === 'weft control plane ready') {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    child,
    xdsPort: ports['xDS (plaintext)'] ?? 0,
    xdsTlsPort: ports['xDS + CA (TLS)'] ?? 0,
    monitoringPort: ports['monitoring'] ?? 0,
    stdout,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export interface ClientResult {
  id: number;
  backends: Record<string, number>;
  errors: Record<string, number>;
  elapsedMs: number;
  fatal?: string;
}

export interface XdsClientProcess {
  run(cmd: { target: string; calls: number; metadata?: Record<string, string>; untilBackend?: string; timeoutMs?: number; concurrency?: number }): Promise<ClientResult>;
  stop(): Promise<void>;
}

/** Start the grpc-js-xds worker with a bootstrap that points at Weft's plaintext xDS port. */
export async function startXdsClient(dir: string, xdsPort: number, node: { id: string; metadata: Record<string, string> }): Promise<XdsClientProcess> {
  const bootstrap = join(dir, 'bootstrap.json');
  await writeFile(
    bootstrap,
    JSON.stringify({
      xds_servers: [{ server_uri: `127.0.0.1:${xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
      node: { id: node.id, metadata: node.metadata, locality: {} },
    }),
  );
  const child = spawn(nodeBin, [fileURLToPath(new URL('./xds-client-worker.ts', import.meta.url))], {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, GRPC_XDS_BOOTSTRAP: bootstrap },
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const waiting = new Map<number, (r: ClientResult) => void>();
  let readyResolve: () => void = () => {};
  const ready = new Promise<void>((resolve) => (readyResolve = resolve));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const msg = JSON.parse(line) as ClientResult & { ready?: boolean };
    if (msg.ready) return readyResolve();
    waiting.get(msg.id)?.(msg);
    waiting.delete(msg.id);
  });
  await Promise.race([ready, exited.then(() => Promise.reject(new Error(`xDS client exited at start: ${err}`)))]);
  let nextId = 0;
  return {
    run: (cmd) =>
      new Promise((resolve, reject) => {
        const id = ++nextId;
        const timer = setTimeout(() => reject(new Error(`xDS client did not answer command ${id} in time: ${err}`)), (cmd.timeoutMs ?? 10_000) + 15_000);
        waiting.set(id, (r) => {
          clearTimeout(timer);
          if (r.fatal) reject(new Error(r.fatal));
          else resolve(r);
        });
        child.stdin!.write(JSON.stringify({ id, ...cmd }) + '\n');
      }),
    stop: async () => {
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function tempDir(prefix: string): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}
