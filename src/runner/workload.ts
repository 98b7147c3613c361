// One workload on this machine: its sidecar, then its app (Istio's holdApplicationUntilProxyStarts), with the app
// using the sidecar as its HTTP proxy (explicit mode). Stopping is ordered as Istio's pod shutdown: the app gets
// the signal and drains, then the sidecar drains and stops. Nothing is ever restarted.
import * as net from 'node:net';
import { childEnv } from '../core/env.ts';
import { parseDurationMillis } from '../config/api/validation/common/duration.ts';
import { WeftError } from '../core/errors.ts';
import type { ProxyIdentity } from './identity.ts';
import { claimLoopbackAddress, freePort, requirePortFree, type AddressClaim } from './ports.ts';
import { nodeChildEnv, Supervised, type ExitStatus } from './process.ts';
import { pollUntil, startProxy, type ProxyPorts, type StartedProxy } from './sidecar.ts';

export interface WorkloadPort {
  /** Port name as in the Service (`http`); names the WorkloadEntry port so the Service's targetPort resolves. */
  name: string | undefined;
  port: number;
}

export interface WorkloadSpec {
  name: string;
  namespace: string;
  serviceAccount: string;
  labels: Readonly<Record<string, string>>;
  ports: readonly WorkloadPort[];
  workloadGroup: string | undefined;
  discoveryAddress: string;
  /** The workload's address; a free loopback address is claimed when absent. */
  ip?: string | undefined;
  command: string;
  args: readonly string[];
  /** Start the app only once the sidecar is ready (default true). */
  holdApplicationUntilProxyStarts: boolean;
  /** Bound on each readiness wait, ms. */
  readyTimeoutMs: number;
  /** How long the app may take to exit after SIGTERM before SIGKILL, ms. */
  appDrainMs: number;
  /** Sidecar drain (Go duration). */
  sidecarDrain: string;
  /** Extra environment for the app. */
  env?: Readonly<Record<string, string>>;
  /** The app is a Node.js program: give it Node's compile cache (see nodeChildEnv). */
  nodeApp?: boolean;
  /** Pass the app's output through untouched (weft run) instead of line by line to onLine (weft demo). */
  inheritAppOutput: boolean;
  onLine?: (source: 'app' | 'sidecar', line: string, stream: 'stdout' | 'stderr') => void;
  sidecarArgs?: readonly string[];
  /** Aborts the start-up (Ctrl-C while waiting for the sidecar): everything started is stopped. */
  abort?: AbortSignal | undefined;
  /** The sidecar's certificate source (mTLS); see identity.ts. */
  identity?: ProxyIdentity | undefined;
}

export interface RunningWorkload {
  spec: WorkloadSpec;
  ip: string;
  sidecar: Supervised;
  sidecarPorts: ProxyPorts;
  app: Supervised;
  /** Stop the app (SIGTERM, then SIGKILL after appDrainMs), then the sidecar. Resolves with the app's exit status. */
  stop(signal?: NodeJS.Signals): Promise<ExitStatus>;
}

/** Can we open a TCP connection to host:port within `ms`? Resolves with the error code when not. */
export function tcpReachable(address: string, ms: number): Promise<string | undefined> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(i + 1));
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (r: string | undefined): void => {
      s.destroy();
      resolve(r);
    };
    s.setTimeout(ms, () => done('ETIMEDOUT'));
    s.once('connect', () => done(undefined));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

/** Fail early, with what to do, when nothing answers at the discovery address. */
export async function requireControlPlane(address: string): Promise<void> {
  if (!/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/.test(address)) throw new WeftError('WEFT_ERR_USAGE', `--discovery-address must be HOST:PORT, not "${address}"`);
  const code = await tcpReachable(address, 3000);
  if (code === undefined) return;
  throw new WeftError(
    'WEFT_ERR_UNAVAILABLE',
    `cannot reach the control plane at ${address} (${code}). Start it with 'weft up --config-dir DIR --state-dir DIR' (it listens on 127.0.0.1:15010), or point --discovery-address at a running one`,
  );
}

export function appEnv(outboundPort: number, ip: string, extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const proxy = `http://127.0.0.1:${outboundPort}`;
  const noProxy = 'localhost,127.0.0.1,::1';
  return childEnv({
    HTTP_PROXY: proxy,
    http_proxy: proxy,
    NO_PROXY: noProxy,
    no_proxy: noProxy,
    // Node's own http and fetch honour HTTP_PROXY only when asked (Node >= 24).
    NODE_USE_ENV_PROXY: '1',
    INSTANCE_IP: ip,
    ...extra,
  });
}

/** Start a workload (sidecar, then app). On failure everything started is stopped and the error thrown. */
export async function startWorkload(spec: WorkloadSpec): Promise<RunningWorkload> {
  await requireControlPlane(spec.discoveryAddress);
  for (const p of spec.ports) await requirePortFree('127.0.0.1', p.port, `${spec.name}'s app port`, '--port');
  let claim: AddressClaim | undefined;
  if (spec.ip === undefined) claim = await claimLoopbackAddress(spec.ports.map((p) => p.port));
  else for (const p of spec.ports) await requirePortFree(spec.ip, p.port, `${spec.name}'s sidecar inbound`, '--ip');
  const ip = spec.ip ?? claim!.address;
  const release = async (): Promise<void> => {
    await claim?.release();
  };
  // The outbound port is chosen here so that the app's HTTP_PROXY is known before the sidecar has started.
  let outbound: number;
  try {
    outbound = await freePort(['127.0.0.1']);
  } catch (e) {
    await release();
    throw e;
  }
  const sidecarPromise = startProxy(
    {
      kind: 'sidecar',
      name: spec.name,
      namespace: spec.namespace,
      serviceAccount: spec.serviceAccount,
      labels: spec.labels,
      ip,
      ports: spec.ports,
      workloadGroup: spec.workloadGroup,
      discoveryAddress: spec.discoveryAddress,
      outboundPort: outbound,
      identity: spec.identity,
      abort: spec.abort,
      drainDuration: spec.sidecarDrain,
      extraArgs: spec.sidecarArgs,
      onLine: (line, stream) => spec.onLine?.('sidecar', line, stream),
    },
    spec.readyTimeoutMs,
  );
  const startApp = (): Supervised =>
    new Supervised({
      name: `${spec.name}/app`,
      command: spec.command,
      args: spec.args,
      env: appEnv(outbound, ip, { ...(spec.nodeApp ? { NODE_COMPILE_CACHE: nodeChildEnv()['NODE_COMPILE_CACHE'] ?? '' } : {}), ...spec.env }),
      stdio: spec.inheritAppOutput ? 'inherit' : 'pipe',
      onLine: (line, stream) => spec.onLine?.('app', line, stream),
      // If weft run dies without stopping it (SIGKILL), the app gets SIGTERM, as on a normal stop.
      parentDeathSignal: 'SIGTERM',
    });
  // holdApplicationUntilProxyStarts: the app's first outbound call finds a configured sidecar.
  let app = spec.holdApplicationUntilProxyStarts ? undefined : startApp();
  let sidecar: StartedProxy;
  try {
    sidecar = await sidecarPromise;
  } catch (e) {
    await app?.stop(spec.appDrainMs);
    await release();
    throw e;
  }
  app ??= startApp();
  const started = app;
  let stopping: Promise<ExitStatus> | undefined;
  const stop = (signal: NodeJS.Signals = 'SIGTERM'): Promise<ExitStatus> => {
    stopping ??= (async () => {
      const status = await started.stop(spec.appDrainMs, signal);
      // The sidecar drains for its drain duration; past that and a margin, it is killed.
      await sidecar.process.stop((parseDurationMillis(spec.sidecarDrain) ?? 5000) + 2000);
      await release();
      return status;
    })();
    return stopping;
  };
  return { spec, ip, sidecar: sidecar.process, sidecarPorts: sidecar.ports, app: started, stop };
}

/** Wait until the app accepts connections on 127.0.0.1:port (bounded; rejects if the app exits first). */
export async function waitAppListening(app: Supervised, port: number, timeoutMs: number, abort?: AbortSignal): Promise<void> {
  await pollUntil(app, timeoutMs, async () => (await tcpReachable(`127.0.0.1:${port}`, 1000)) === undefined, () => `${app.name} to listen on 127.0.0.1:${port}`, abort);
}
