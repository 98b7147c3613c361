// Starts `weft proxy sidecar|router` as a child process with the node metadata auto-registration needs (labels,
// service account, address, POD_PORTS, AUTO_REGISTER_GROUP), and waits until it is really ready: xDS config
// received, and — for a workload that serves ports — its own inbound clusters present (the control plane has
// registered it and pushed the config that routes to the app).
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Ports } from '../core/ports.ts';
import { WeftError } from '../core/errors.ts';
import { identityArgs, type ProxyIdentity } from './identity.ts';
import { nodeChildEnv, Supervised } from './process.ts';

/** The `weft` entry point, run with the same Node as this process. */
export const WEFT_BIN = fileURLToPath(new URL('../../bin/weft.js', import.meta.url));

export interface ProxySpec {
  kind: 'sidecar' | 'router';
  /** Workload (pod) name; also the node id's pod part. */
  name: string;
  namespace: string;
  serviceAccount: string;
  labels: Readonly<Record<string, string>>;
  /** The workload's address (INSTANCE_IPS); the inbound listener binds here. */
  ip: string;
  /** The app's ports: the sidecar takes inbound traffic on ip:port and forwards to 127.0.0.1:port. */
  ports: ReadonlyArray<{ name: string | undefined; port: number }>;
  workloadGroup: string | undefined;
  discoveryAddress: string;
  /** Outbound (explicit proxy) port; 0 or absent picks a free one. */
  outboundPort?: number | undefined;
  /** How long the proxy lets requests finish when stopped (Go duration, e.g. "1s"). */
  drainDuration: string;
  /** Certificate from the CA (mTLS); plaintext only when absent. */
  identity?: ProxyIdentity | undefined;
  /**
   * Transparent mode: the sidecar runs inside the workload's network namespace, takes redirected traffic on Istio's
   * 15001 (outbound) and 15006 (inbound), and is reached only from inside (spawner, httpGet).
   */
  capture?: {
    spawner: (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;
    httpGet: (url: string) => Promise<HttpResult | undefined>;
  } | undefined;
  /** Aborts the readiness waits (the user pressed Ctrl-C while starting); the proxy is then stopped. */
  abort?: AbortSignal | undefined;
  /** Extra `weft proxy` flags (e.g. --access-log-file). */
  extraArgs?: readonly string[];
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export interface ProxyPorts {
  admin: number;
  outbound: number | undefined;
  inbound: number | undefined;
  readiness: number;
  stats: number;
  /** The status port (merged metrics, app probes); undefined when the proxy runs without one. */
  status: number | undefined;
}

export interface StartedProxy {
  process: Supervised;
  ports: ProxyPorts;
}

export function proxyArgs(s: ProxySpec): string[] {
  // One inbound listener per app port, each on the workload's address (explicit mode).
  const inbound = s.ports.length > 0 ? s.ports.map((p) => p.port).join(',') : '-1';
  const labels = Object.entries(s.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const named = s.ports.filter((p) => p.name !== undefined).map((p) => `${p.name}=${p.port}`);
  return [
    WEFT_BIN,
    'proxy',
    s.kind,
    '--discovery-address', s.discoveryAddress,
    '--name', s.name,
    '--namespace', s.namespace,
    '--service-account', s.serviceAccount,
    '--ip', s.ip,
    ...(labels !== '' ? ['--labels', labels] : []),
    ...(s.workloadGroup !== undefined ? ['--auto-register-group', s.workloadGroup] : []),
    ...(named.length > 0 ? ['--pod-ports', named.join(',')] : []),
    '--admin-port', '0',
    '--stats-port', '0',
    '--readiness-port', '0',
    '--status-port', '0',
    ...(s.kind !== 'sidecar'
      ? []
      : s.capture
        ? ['--outbound-port', String(Ports.proxyOutbound), '--inbound-port', String(Ports.proxyInbound), '--inbound-address', '0.0.0.0']
        : ['--outbound-port', String(s.outboundPort ?? 0), '--inbound-port', inbound, '--inbound-address', s.ip]),
    ...identityArgs(s.identity),
    '--drain-duration', s.drainDuration,
    ...(s.extraArgs ?? []),
  ];
}

/** Lines from the proxy that mean it will never become ready as configured: fail fast with them. */
const FATAL = /EADDRINUSE|EADDRNOTAVAIL|rejected by the control plane|PERMISSION_DENIED|UNAUTHENTICATED|identity: .*ECONNREFUSED/;
/**
 * A missing WorkloadGroup heals by itself when it was just written (weft run --config-dir): the control plane sees the
 * file within its watch and debounce delay, and the proxy reconnects. So it is fatal only when still reported this
 * long after the proxy started.
 */
const GROUP_MISSING = /WorkloadGroup \S+ not found/;
const GROUP_MISSING_GRACE_MS = 3000;

/**
 * Start the proxy and wait until it is ready (see the module comment). Throws a WeftError whose message quotes the
 * proxy's own explanation when it exits or reports a fatal error first; the process is stopped in that case.
 */
export async function startProxy(s: ProxySpec, timeoutMs: number): Promise<StartedProxy> {
  let fatal: string | undefined;
  const started = performance.now();
  const isFatal = { test: (line: string): boolean => FATAL.test(line) || (GROUP_MISSING.test(line) && performance.now() - started >= GROUP_MISSING_GRACE_MS) };
  const onLine = (line: string, stream: 'stdout' | 'stderr'): void => {
    if (fatal === undefined && isFatal.test(line)) fatal = line.replace(/^\S+ (warn|error|info) /, '');
    s.onLine?.(line, stream);
  };
  const p = new Supervised({ name: `${s.name}/${s.kind}`, command: process.execPath, args: proxyArgs(s), env: nodeChildEnv(), onLine, spawner: s.capture?.spawner, exitWithParent: true });
  const get = s.capture?.httpGet ?? fetchGet;
  // A fatal line ends every wait at once: the proxy retries forever, but these never heal by themselves.
  const failFast = (): void => {
    if (s.abort?.aborted) throw new WeftError('WEFT_ERR_UNAVAILABLE', `${p.name}: start-up interrupted`);
    if (fatal !== undefined) throw new WeftError('WEFT_ERR_UNAVAILABLE', `${p.name}: ${fatal}`);
  };
  const aborted = new Promise<never>((_, reject) => {
    const fire = (): void => reject(new WeftError('WEFT_ERR_UNAVAILABLE', `${p.name}: start-up interrupted`));
    if (s.abort?.aborted) fire();
    else s.abort?.addEventListener('abort', fire, { once: true });
  });
  aborted.catch(() => undefined);
  try {
    await Promise.race([p.waitForLine(/^weft proxy ready$/, timeoutMs, isFatal), aborted]);
    const port = (name: string): number | undefined => {
      for (const l of p.recent) {
        const m = new RegExp(`^${name} port (\\d+)$`).exec(l);
        if (m) return Number(m[1]);
      }
      return undefined;
    };
    const admin = port('admin');
    const readiness = port('readiness');
    const stats = port('stats');
    if (admin === undefined || readiness === undefined || stats === undefined) throw new WeftError('WEFT_ERR_INTERNAL', `${p.name} did not print its admin, readiness and stats ports`);
    const ports: ProxyPorts = { admin, readiness, stats, outbound: port('outbound'), inbound: port('inbound'), status: port('status') };
    await waitReadyEndpoint(p, readiness, timeoutMs, failFast, get);
    if (s.kind === 'sidecar') await waitInboundClusters(p, admin, s.ports.map((x) => x.port), timeoutMs, s.workloadGroup, failFast, get);
    return { process: p, ports };
  } catch (e) {
    await p.stop(2000);
    throw e;
  }
}

export interface HttpResult {
  status: number;
  body: string;
}

async function fetchGet(url: string): Promise<HttpResult | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return { status: r.status, body: await r.text() };
  } catch {
    return undefined;
  }
}

/** Poll `check` every 50 ms until it returns true, the process exits, or the deadline passes. */
export async function pollUntil(p: Supervised | undefined, timeoutMs: number, check: () => Promise<boolean>, what: () => string, abort?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (abort?.aborted) throw new WeftError('WEFT_ERR_UNAVAILABLE', `interrupted while waiting for ${what()}`);
    if (await check()) return;
    if (p?.status !== undefined) throw new WeftError('WEFT_ERR_UNAVAILABLE', `${p.name} exited while waiting for ${what()}; its last output:\n${p.tail()}`);
    if (Date.now() > deadline) throw new WeftError('WEFT_ERR_UNAVAILABLE', `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what()}${p ? `; last output of ${p.name}:\n${p.tail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

type Get = (url: string) => Promise<HttpResult | undefined>;

function waitReadyEndpoint(p: Supervised, readiness: number, timeoutMs: number, failFast: () => void, get: Get): Promise<void> {
  return pollUntil(p, timeoutMs, async () => failFast() ?? (await get(`http://127.0.0.1:${readiness}/healthz/ready`))?.status === 200, () => `${p.name} /healthz/ready`);
}

/** The sidecar knows its own workload once the control plane sent an inbound cluster for each app port. */
function waitInboundClusters(p: Supervised, admin: number, ports: readonly number[], timeoutMs: number, group: string | undefined, failFast: () => void, get: Get): Promise<void> {
  if (ports.length === 0) return Promise.resolve();
  return pollUntil(
    p,
    timeoutMs,
    async () => {
      failFast();
      const body = (await get(`http://127.0.0.1:${admin}/clusters`))?.body ?? '';
      return ports.every((port) => body.includes(`inbound|${port}||::`));
    },
    () =>
      `the control plane to send ${p.name} its inbound config for port${ports.length > 1 ? 's' : ''} ${ports.join(', ')}` +
      ` (is there a Service or ServiceEntry in its namespace selecting its labels${group !== undefined ? `, and does WorkloadGroup ${group} exist` : ''}?)`,
  );
}
