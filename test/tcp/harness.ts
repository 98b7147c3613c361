// A small mesh on loopback for end-to-end tests: `weft up` on free ports with a config directory, `weft run`
// workloads (each with its sidecar, auto-registered, mTLS identity from the control plane's CA), and an ingress
// gateway (`weft proxy router`, labels istio=ingressgateway). Every process is stopped by `close()`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { localIdentity } from '../../src/runner/identity.ts';
import { startProxy, type StartedProxy } from '../../src/runner/sidecar.ts';

export const WEFT = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));
export const NODE = process.execPath;

export { freePort } from '../ports.ts';

interface Child {
  name: string;
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<number | null>;
}

function track(name: string, child: ChildProcess): Child {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  return { name, child, out: () => out, err: () => err, exit: new Promise((r) => child.once('exit', (c) => r(c))) };
}

/** Resolve when `text()` matches `re` (checked on every output chunk of `c`), reject when `c` exits first or after `ms`. */
function waitOutput(c: Child, stream: 'stdout' | 'stderr', re: RegExp, ms: number): Promise<RegExpExecArray> {
  const text = stream === 'stdout' ? c.out : c.err;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${c.name}: no ${re} within ${ms} ms; stderr: ${c.err().slice(-2000)}`)), ms);
    const check = (): void => {
      const m = re.exec(text());
      if (m) done(undefined, m);
    };
    const s = stream === 'stdout' ? c.child.stdout! : c.child.stderr!;
    const onExit = (code: number | null): void => done(new Error(`${c.name} exited ${code}: ${c.err().slice(-2000)}`));
    function done(e: Error | undefined, m?: RegExpExecArray): void {
      clearTimeout(timer);
      s.off('data', check);
      c.child.off('exit', onExit);
      if (e) reject(e);
      else resolve(m!);
    }
    s.on('data', check);
    c.child.once('exit', onExit);
    check();
  });
}

export interface RunWorkload {
  name: string;
  labels: Record<string, string>;
  serviceAccount?: string;
  workloadGroup?: string;
  /** `NAME=PORT` for the app's port (127.0.0.1:PORT). */
  port?: string;
  command: string[];
}

export interface RunningWorkload {
  address: string;
  outbound: number;
  stats: number;
  admin: number;
  proc: Child;
}

export class Mesh {
  readonly root = mkdtempSync(join(tmpdir(), 'weft-mesh-test-'));
  readonly configDir = join(this.root, 'config');
  readonly stateDir = join(this.root, 'state');
  xds = '';
  ca = '';
  private up: Child | undefined;
  private readonly children: Child[] = [];
  private readonly proxies: StartedProxy[] = [];

  constructor() {
    mkdirSync(this.configDir, { recursive: true });
  }

  writeConfig(file: string, yaml: string): void {
    writeFileSync(join(this.configDir, file), yaml);
  }

  async start(): Promise<void> {
    const up = track('weft up', spawn(NODE, [WEFT, 'up', '--config-dir', this.configDir, '--state-dir', this.stateDir, '--xds-port', '0', '--xds-tls-port', '0', '--monitoring-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    this.up = up;
    await waitOutput(up, 'stdout', /weft control plane ready/, 30_000);
    this.xds = /xDS \(plaintext\) listening on (\S+)/.exec(up.out())![1]!;
    this.ca = /xDS \+ CA \(TLS\) listening on (\S+)/.exec(up.out())![1]!;
  }

  /** `weft run` a workload; resolves once its sidecar is ready (the app is started right after). */
  async run(w: RunWorkload): Promise<RunningWorkload> {
    const args = [WEFT, 'run', '--name', w.name, '--labels', Object.entries(w.labels).map(([k, v]) => `${k}=${v}`).join(','), '--discovery-address', this.xds, '--ca-address', this.ca, '--control-plane-state-dir', this.stateDir, '--config-dir', this.configDir];
    if (w.serviceAccount) args.push('--service-account', w.serviceAccount);
    if (w.workloadGroup) args.push('--workload-group', w.workloadGroup);
    if (w.port) args.push('--port', w.port);
    const proc = track(w.name, spawn(NODE, [...args, '--', ...w.command], { stdio: ['ignore', 'pipe', 'pipe'] }));
    this.children.push(proc);
    const m = await waitOutput(proc, 'stderr', /sidecar ready \(address (\S+), HTTP_PROXY http:\/\/127\.0\.0\.1:(\d+).*admin http:\/\/127\.0\.0\.1:(\d+), readiness :\d+, stats :(\d+)/, 45_000);
    return { address: m[1]!, outbound: Number(m[2]), admin: Number(m[3]), stats: Number(m[4]), proc };
  }

  /** An ingress gateway (`weft proxy router`, labels istio=ingressgateway) in istio-system. */
  async ingressGateway(): Promise<StartedProxy> {
    const gw = await startProxy(
      {
        kind: 'router',
        name: 'istio-ingressgateway',
        namespace: 'istio-system',
        serviceAccount: 'istio-ingressgateway-service-account',
        labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' },
        ip: '127.0.0.1',
        ports: [],
        workloadGroup: undefined,
        discoveryAddress: this.xds,
        drainDuration: '1s',
        identity: await localIdentity({ controlPlaneStateDir: this.stateDir, caAddress: this.ca, namespace: 'istio-system', serviceAccount: 'istio-ingressgateway-service-account', outDir: join(this.root, 'tokens'), name: 'ingress' }),
      },
      30_000,
    );
    this.proxies.push(gw);
    return gw;
  }

  async close(): Promise<void> {
    // All workloads and proxies stop at once (each drains on its own); the control plane last.
    const stops = this.children.map(async (c) => {
      if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGTERM');
      const t = setTimeout(() => c.child.kill('SIGKILL'), 5000);
      await c.exit;
      clearTimeout(t);
    });
    await Promise.all([...stops, ...this.proxies.map((p) => p.process.stop(3000))]);
    if (this.up) {
      this.up.child.kill('SIGTERM');
      await this.up.exit;
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** A WorkloadGroup as a Deployment's pods would be labelled (the `weft run` workloads auto-register into it). */
export function workloadGroup(name: string, labels: Record<string, string>, serviceAccount: string): string {
  const l = Object.entries(labels).map(([k, v]) => `      ${k}: ${v}`).join('\n');
  return `apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata:
  name: ${name}
  namespace: default
spec:
  metadata:
    labels:
${l}
  template:
    serviceAccount: ${serviceAccount}
`;
}

/** Poll `check` until it returns true, at most `ms` (for config propagation, which has no event to wait on). */
export async function eventually(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${ms} ms${last ? ` (last error: ${String(last)})` : ''}`);
}
