// `weft run --capture`: the workload in its own network namespace with Istio's iptables rules (src/agent/capture,
// prepareCapturedWorkload: namespace, veth, rules, DNS proxy, the control plane relayed in). The sidecar runs inside
// with the proxy GID on 15001/15006; the app runs inside with no HTTP_PROXY at all — its connections are redirected.
// The DNS proxy answers the mesh names the sidecar knows (its outbound clusters), refreshed while the workload runs.
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { prepareCapturedWorkload, type CapturedWorkload } from '../agent/capture/index.ts';
import { parseAdminClusters, servicesFromClusterNames } from '../agent/dns/index.ts';
import { childEnv } from '../core/env.ts';
import { WeftError } from '../core/errors.ts';
import { parseDurationMillis } from '../config/api/validation/common/duration.ts';
import { Supervised, type ExitStatus } from './process.ts';
import { startProxy, type HttpResult, type StartedProxy } from './sidecar.ts';
import { requireControlPlane, type RunningWorkload, type WorkloadSpec } from './workload.ts';

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

function isLoopback(address: string): boolean {
  return /^(127\.|localhost:|\[::1\]:)/.test(address);
}

/** GET inside the namespace (the sidecar's admin and readiness ports are not reachable from the host). */
function getInside(w: CapturedWorkload): (url: string) => Promise<HttpResult | undefined> {
  return async (url) => {
    const r = await w.ns.run('curl', ['-sS', '--max-time', '2', '-o', '-', '-w', '\n%{http_code}', url], { timeoutMs: 5000 }).catch(() => undefined);
    if (r === undefined || r.code !== 0) return undefined;
    const cut = r.stdout.lastIndexOf('\n');
    return { status: Number(r.stdout.slice(cut + 1)), body: r.stdout.slice(0, cut) };
  };
}

/** Start a captured workload (root only). `caAddress` is the CA the sidecar uses (relayed too when on loopback). */
export async function startCapturedWorkload(spec: WorkloadSpec, caAddress: string | undefined): Promise<RunningWorkload & { podIp: string }> {
  await requireControlPlane(spec.discoveryAddress);
  for (const a of [spec.discoveryAddress, ...(caAddress ? [caAddress] : [])]) {
    if (!isLoopback(a)) throw new WeftError('WEFT_ERR_USAGE', `--capture relays the control plane into the namespace from the host's loopback; ${a} is not a loopback address`);
  }
  const captured = await prepareCapturedWorkload({
    name: spec.name,
    namespace: spec.namespace,
    services: [],
    relayPorts: [portOf(spec.discoveryAddress), ...(caAddress ? [portOf(caAddress)] : [])],
  });
  const ns = captured.ns;
  const spawnIn = (start: (c: string, a: readonly string[], o: SpawnOptions) => ChildProcess) => (c: string, a: readonly string[], o: SpawnOptions) => start(c, a, o);
  const get = getInside(captured);
  let sidecar: StartedProxy;
  try {
    sidecar = await startProxy(
      {
        kind: 'sidecar',
        name: spec.name,
        namespace: spec.namespace,
        serviceAccount: spec.serviceAccount,
        labels: spec.labels,
        ip: ns.podIp,
        ports: spec.ports,
        workloadGroup: spec.workloadGroup,
        discoveryAddress: spec.discoveryAddress,
        drainDuration: spec.sidecarDrain,
        identity: spec.identity,
        abort: spec.abort,
        extraArgs: spec.sidecarArgs,
        capture: { spawner: spawnIn((c, a, o) => captured.startSidecar(c, a, o)), httpGet: get },
        onLine: (line, stream) => spec.onLine?.('sidecar', line, stream),
      },
      spec.readyTimeoutMs,
    );
  } catch (e) {
    await captured.close();
    throw e;
  }
  // The DNS proxy answers what the sidecar can reach, and peers on the host's loopback (127.0.10.x, as `weft run`
  // and `weft demo` place them) are relayed into the namespace at their own addresses; refreshed as they change.
  const refresh = async (): Promise<void> => {
    const body = (await get(`http://127.0.0.1:${sidecar.ports.admin}/clusters`))?.body;
    if (body === undefined) return;
    const { clusters, endpoints } = parseAdminClusters(body);
    captured.setServices(servicesFromClusterNames(clusters));
    await captured.setHostEndpoints(endpoints).catch(() => undefined);
  };
  await refresh();
  const timer = setInterval(() => void refresh(), 2000);
  timer.unref();
  const app = new Supervised({
    name: `${spec.name}/app`,
    command: spec.command,
    args: spec.args,
    env: childEnv({ HTTP_PROXY: undefined, http_proxy: undefined, INSTANCE_IP: ns.podIp, ...spec.env }),
    stdio: spec.inheritAppOutput ? 'inherit' : 'pipe',
    spawner: spawnIn((c, a, o) => captured.startApp(c, a, o)),
    onLine: (line, stream) => spec.onLine?.('app', line, stream),
    parentDeathSignal: 'SIGTERM',
  });
  let stopping: Promise<ExitStatus> | undefined;
  const stop = (signal: NodeJS.Signals = 'SIGTERM'): Promise<ExitStatus> => {
    stopping ??= (async () => {
      clearInterval(timer);
      const status = await app.stop(spec.appDrainMs, signal);
      await sidecar.process.stop((parseDurationMillis(spec.sidecarDrain) ?? 5000) + 2000);
      await captured.close();
      return status;
    })();
    return stopping;
  };
  return { spec, ip: ns.podIp, podIp: ns.podIp, sidecar: sidecar.process, sidecarPorts: sidecar.ports, app, stop };
}
