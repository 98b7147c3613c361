// Process harness for the proxy's end-to-end suite: a real `weft up` on a config directory of Istio YAML, real
// `weft proxy sidecar` / `weft run` processes with identities from its CA, real app servers, and real clients (curl,
// openssl, nghttp, grpc-js). Every process is started in its own process group and killed when the test ends; every
// wait is for an event (a line printed, a condition seen) and bounded in time.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const weftBin = join(repoRoot, 'bin/weft.js');
export const appsDir = fileURLToPath(new URL('./apps/', import.meta.url));
const run = promisify(execFile);

export interface Proc {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  /** Resolves with the exit code (or the signal name) once the process has exited and its output is read. */
  exit: Promise<number | string>;
  /** Wait (bounded) until stdout or stderr matches `re`; rejects if the process exits first. */
  waitFor: (re: RegExp, ms?: number) => Promise<RegExpExecArray>;
  /** SIGTERM, then SIGKILL to the whole process group after `graceMs`; resolves when it is gone. */
  stop: (graceMs?: number) => Promise<number | string>;
}

const live = new Set<Proc>();

/**
 * Start a process in its own process group, stdout and stderr captured. `parentPipe`: stdin is a pipe this process
 * never writes, so a weft process started with WEFT_EXIT_WITH_PARENT=1 exits when the test process dies (even SIGKILLed).
 */
export function startProc(cmd: string, args: string[], env: Record<string, string> = {}, parentPipe = false): Proc {
  const child = spawn(cmd, args, { stdio: [parentPipe ? 'pipe' : 'ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const poke = (): void => {
    for (const w of [...waiters]) w();
  };
  child.stdout!.on('data', (d: Buffer) => ((out += d.toString()), poke()));
  child.stderr!.on('data', (d: Buffer) => ((err += d.toString()), poke()));
  const exit = new Promise<number | string>((resolve) => child.once('close', (code, signal) => resolve(code ?? signal ?? -1)));
  const proc: Proc = {
    child,
    out: () => out,
    err: () => err,
    exit,
    waitFor: (re, ms = 30_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const m = re.exec(out) ?? re.exec(err);
          if (!m) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(m);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${ms} ms waiting for ${re} from ${cmd} ${args.slice(0, 3).join(' ')}\nstdout:\n${out}\nstderr:\n${err}`));
        }, ms);
        waiters.add(check);
        void exit.then((code) => {
          if (!waiters.has(check)) return;
          waiters.delete(check);
          clearTimeout(timer);
          reject(new Error(`${cmd} ${args.slice(0, 3).join(' ')} exited (${code}) before ${re}\nstdout:\n${out}\nstderr:\n${err}`));
        });
        check();
      }),
    stop: async (graceMs = 5000) => {
      if (child.exitCode === null && child.signalCode === null) {
        killGroup(child, 'SIGTERM');
        const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
        const code = await exit;
        clearTimeout(timer);
        killGroup(child, 'SIGKILL'); // anything it left behind in its group
        live.delete(proc);
        return code;
      }
      live.delete(proc);
      return exit;
    },
  };
  live.add(proc);
  return proc;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

/** Stop every process this harness started that is still running (for `after` hooks). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop(3000)));
}

export function weft(args: string[], env: Record<string, string> = {}): Proc {
  // A test process killed (timeout, Ctrl-C, SIGKILL) takes its weft processes with it (bin/weft.js, docs/run.md).
  return startProc(process.execPath, [weftBin, ...args], { WEFT_EXIT_WITH_PARENT: '1', ...env }, true);
}

export { freePort } from '../ports.ts';

/** Poll a condition (config propagation has no event the test can subscribe to), bounded in time. */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface CurlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run curl (never throws; the exit code is part of the result). */
export async function curl(args: string[], timeoutS = 10): Promise<CurlResult> {
  try {
    const r = await run('curl', ['-sS', '--max-time', String(timeoutS), ...args], { maxBuffer: 64 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

export async function sh(command: string, timeoutMs = 10_000): Promise<string> {
  return (await run('sh', ['-c', command], { timeout: timeoutMs, maxBuffer: 16 << 20 })).stdout;
}

/** A control plane (`weft up`) on a temporary config directory, with helpers to change its config. */
export class Mesh {
  readonly root = mkdtempSync(join(tmpdir(), 'weft-e2e-'));
  readonly configDir = join(this.root, 'config');
  readonly stateDir = join(this.root, 'state');
  up: Proc | undefined;
  xds = '';
  ca = '';
  monitoring = '';

  constructor() {
    mkdirSync(this.configDir, { recursive: true });
  }

  /** Start `weft up`; pass fixed ports to restart it where proxies expect it. */
  async start(ports: { xds?: number; tls?: number; monitoring?: number } = {}): Promise<void> {
    this.up = weft(['up', '--config-dir', this.configDir, '--state-dir', this.stateDir, '--xds-port', String(ports.xds ?? 0), '--xds-tls-port', String(ports.tls ?? 0), '--monitoring-port', String(ports.monitoring ?? 0)]);
    await this.up.waitFor(/weft control plane ready/, 20_000);
    this.xds = /xDS \(plaintext\) listening on (\S+)/.exec(this.up.out())![1]!;
    this.ca = /xDS \+ CA \(TLS\) listening on (\S+)/.exec(this.up.out())![1]!;
    this.monitoring = /monitoring listening on http:\/\/(\S+)/.exec(this.up.out())![1]!;
  }

  port(which: 'xds' | 'ca' | 'monitoring'): number {
    return Number(this[which].slice(this[which].lastIndexOf(':') + 1));
  }

  write(name: string, yaml: string): void {
    writeFileSync(join(this.configDir, name), yaml);
  }

  remove(name: string): void {
    unlinkSync(join(this.configDir, name));
  }

  get rootCert(): string {
    return join(this.stateDir, 'ca/root-cert.pem');
  }

  async token(serviceAccount: string, namespace = 'default'): Promise<string> {
    const { stdout } = await run(process.execPath, [weftBin, 'ca', 'token', '--namespace', namespace, '--service-account', serviceAccount, '--state-dir', this.stateDir]);
    const file = join(this.root, `${namespace}-${serviceAccount}.token`);
    writeFileSync(file, stdout);
    return file;
  }

  async proxyStatus(): Promise<string> {
    return (await run(process.execPath, [weftBin, 'proxy-status', '--monitoring-address', this.monitoring])).stdout;
  }

  async close(): Promise<void> {
    await this.up?.stop();
    rmSync(this.root, { recursive: true, force: true });
  }
}

export interface Sidecar {
  proc: Proc;
  outbound: number;
  inbound: number;
  admin: number;
  stats: number;
  /** GET on the admin port. */
  admin_(path: string): Promise<string>;
}

/** `weft proxy sidecar` with an identity from the mesh's CA (a client: no registration, outbound traffic). */
export async function startSidecar(mesh: Mesh, name: string, opts: { serviceAccount?: string; labels?: string; extra?: string[] } = {}): Promise<Sidecar> {
  const sa = opts.serviceAccount ?? name;
  const token = await mesh.token(sa);
  const proc = weft([
    'proxy', 'sidecar', '--discovery-address', mesh.ca, '--discovery-ca', mesh.rootCert, '--ca-address', mesh.ca, '--ca-root-cert', mesh.rootCert, '--token-file', token,
    '--name', name, '--service-account', sa, '--labels', opts.labels ?? `app=${name}`,
    '--admin-port', '0', '--outbound-port', '0', '--inbound-port', '0', '--stats-port', '0', '--readiness-port', '0', '--status-port', '0', ...(opts.extra ?? []),
  ]);
  await proc.waitFor(/weft proxy ready/, 20_000);
  const n = (what: string): number => Number(new RegExp(`${what} port (\\d+)`).exec(proc.out())![1]);
  const admin = n('admin');
  return {
    proc,
    outbound: n('outbound'),
    inbound: n('inbound'),
    admin,
    stats: n('stats'),
    admin_: async (path) => (await fetch(`http://127.0.0.1:${admin}${path}`)).text(),
  };
}

export interface Workload {
  proc: Proc;
  /** The workload's own loopback address: its sidecar's inbound listener is `address:port`. */
  address: string;
  port: number;
  admin: number;
  stats: number;
}

/** `weft run`: an app beside its sidecar, auto-registered into the mesh (WorkloadGroup written into the config dir). */
export async function startWorkload(mesh: Mesh, name: string, labels: string, portName: string, port: number, argv: string[]): Promise<Workload> {
  const proc = weft(['run', '--name', name, '--labels', labels, '--service-account', name.replace(/-v\d+$/, ''), '--port', `${portName}=${port}`, '--config-dir', mesh.configDir, '--discovery-address', mesh.xds, '--ca-address', mesh.ca, '--control-plane-state-dir', mesh.stateDir, '--drain', '1s', '--', ...argv]);
  await proc.waitFor(new RegExp(`${name} is serving on 127\\.0\\.0\\.1:`), 30_000);
  const err = proc.err();
  return {
    proc,
    address: /sidecar ready \(address (\S+?),/.exec(err)![1]!,
    port,
    admin: Number(/admin http:\/\/127\.0\.0\.1:(\d+)/.exec(err)![1]),
    stats: Number(/stats :(\d+)/.exec(err)![1]),
  };
}

/** Start an app from test/e2e/apps with Node (type stripping), waiting for its `listening` line. */
export async function startApp(file: string, args: string[]): Promise<Proc> {
  const p = startProc(process.execPath, [join(appsDir, file), ...args]);
  await p.waitFor(/listening on/, 10_000);
  return p;
}

/** The service's Kubernetes Service in YAML (selector app=<name>). */
export function service(name: string, port: number, portName: string, extra = ''): string {
  return `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: default }
spec:
  ports: [{ port: ${port}, name: ${portName} }]
  selector: { app: ${name} }
${extra}`;
}
