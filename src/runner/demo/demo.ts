// `weft demo`'s orchestration: control plane, the six Bookinfo workloads (each with its sidecar, started by the same
// code as `weft run`), and an ingress gateway. Ready means every workload serves, every sidecar knows the endpoints
// of the services it calls, and /productpage answers 200 through the gateway. Stopping stops everything it started,
// workloads first (app, then sidecar), then the gateway, then the control plane.
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WeftError } from '../../core/errors.ts';
import { bookinfoCommand } from '../../samples/bookinfo/workloads.ts';
import { startControlPlaneProcess, type StartedControlPlane } from '../control-plane.ts';
import { localIdentity, type ProxyIdentity } from '../identity.ts';
import { freePort, requirePortFree } from '../ports.ts';
import { describeExit, type Supervised } from '../process.ts';
import { pollUntil, startProxy, type StartedProxy } from '../sidecar.ts';
import { startWorkload, waitAppListening, type RunningWorkload } from '../workload.ts';
import { seedConfigDir } from './config.ts';
import { type TracingCollector, tracingConfigYaml, tracingMeshConfig } from './tracing.ts';
import { BOOKINFO_PORT_NAME, BOOKINFO_SERVICE_PORT, CALLS, DEMO_WORKLOADS, type DemoWorkload } from './workloads.ts';

export interface DemoOptions {
  stateDir: string;
  ingressPort: number;
  /** Bound on each readiness wait, ms. */
  readyTimeoutMs: number;
  /** Progress lines for people (stderr). */
  progress: (line: string) => void;
  /** Aborts the start-up (Ctrl-C while starting): what was started is stopped and startDemo rejects. */
  abort?: AbortSignal | undefined;
  /** Send every request's spans to this collector (--tracing-collector); see ./tracing.ts. */
  tracing?: TracingCollector | undefined;
}

export interface RunningDemo {
  url: string;
  configDir: string;
  logDir: string;
  controlPlane: StartedControlPlane;
  workloads: RunningWorkload[];
  gateway: StartedProxy;
  /** Every process the demo started (for tests and for stop). */
  processes(): Supervised[];
  /** Resolves with a description when a process the demo started exits on its own. */
  unexpectedExit: Promise<string>;
  /** Stop everything, in order. Idempotent. */
  stop(): Promise<void>;
}

/** The state-dir file that says where a running demo is (its config dir, URL and control-plane addresses). */
export const DEMO_STATE_FILE = 'demo.json';

export async function startDemo(o: DemoOptions): Promise<RunningDemo> {
  const t0 = performance.now();
  const since = (): string => `${((performance.now() - t0) / 1000).toFixed(1)}s`;
  const configDir = join(o.stateDir, 'config');
  const logDir = join(o.stateDir, 'logs');
  await mkdir(o.stateDir, { recursive: true, mode: 0o700 });
  await rm(logDir, { recursive: true, force: true });
  await mkdir(logDir, { recursive: true });
  await requirePortFree('0.0.0.0', o.ingressPort, 'the ingress gateway', '--ingress-port');
  await seedConfigDir(configDir, o.ingressPort);
  const meshConfigFile = o.tracing ? join(o.stateDir, 'mesh-config.yaml') : undefined;
  if (o.tracing && meshConfigFile) {
    await writeFile(meshConfigFile, tracingMeshConfig(o.tracing));
    await writeFile(join(configDir, 'tracing.yaml'), tracingConfigYaml(o.tracing));
  }

  const logs: WriteStream[] = [];
  const logTo = (name: string): ((line: string) => void) => {
    const s = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
    logs.push(s);
    return (line) => void s.write(`${line}\n`);
  };
  const started: Supervised[] = [];
  const workloads: RunningWorkload[] = [];
  let gateway: StartedProxy | undefined;
  let cp: StartedControlPlane | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // Workloads (each: app, then its sidecar) and the gateway together; the control plane last.
      await Promise.all([...workloads.map((w) => w.stop('SIGTERM')), gateway?.process.stop(3000)]);
      await cp?.process.stop(5000);
      // Anything that never got as far as a handle (a failed start) is stopped by its starter; this is the net.
      await Promise.all(started.map((p) => p.stop(2000)));
      await rm(join(o.stateDir, DEMO_STATE_FILE), { force: true });
      await Promise.all(logs.map((s) => new Promise<void>((r) => s.end(r))));
    })();
    return stopping;
  };

  try {
    const cpLog = logTo('control-plane');
    cp = await startControlPlaneProcess({ configDir, stateDir: join(o.stateDir, 'controlplane'), readyTimeoutMs: o.readyTimeoutMs, meshConfigFile, onLine: cpLog });
    started.push(cp.process);
    o.progress(`weft demo: control plane ready (xDS ${cp.xdsAddress}, monitoring ${cp.monitoringAddress}) [${since()}]`);

    const xds = cp.xdsAddress;
    const cpState = join(o.stateDir, 'controlplane');
    const tokens = join(o.stateDir, 'tokens');
    const identity = (name: string, namespace: string, serviceAccount: string): Promise<ProxyIdentity> =>
      localIdentity({ controlPlaneStateDir: cpState, caAddress: cp!.xdsTlsAddress, namespace, serviceAccount, outDir: tokens, name });
    const gatewayLog = logTo('istio-ingressgateway');
    // Started together; allSettled so that a failure never leaves a sibling starting unseen (no orphans).
    const settled = await Promise.allSettled([
      startProxy(
        {
          kind: 'router',
          name: 'istio-ingressgateway',
          namespace: 'istio-system',
          serviceAccount: 'istio-ingressgateway-service-account',
          labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' },
          ip: '127.0.0.1',
          ports: [],
          workloadGroup: undefined,
          discoveryAddress: xds,
          drainDuration: '1s',
          abort: o.abort,
          identity: await identity('istio-ingressgateway', 'istio-system', 'istio-ingressgateway-service-account'),
          onLine: gatewayLog,
        },
        o.readyTimeoutMs,
      ).then((g) => {
        gateway = g;
        return undefined;
      }),
      ...DEMO_WORKLOADS.map((w) =>
        identity(w.name, 'default', w.serviceAccount).then((id) => startDemoWorkload(w, xds, id, o.readyTimeoutMs, logTo(w.name), o.abort)).then((r) => {
          workloads.push(r);
          return undefined;
        }),
      ),
    ]);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const gw = gateway!;
    const ws = DEMO_WORKLOADS.map((d) => workloads.find((w) => w.spec.name === d.name)!);
    o.progress(`weft demo: ${ws.length} workloads and the ingress gateway connected [${since()}]`);
    await Promise.all(ws.map((w) => waitAppListening(w.app, w.spec.ports[0]!.port, o.readyTimeoutMs, o.abort)));
    await Promise.all(ws.map((w) => waitKnowsPeers(w, ws, o.readyTimeoutMs, o.abort)));
    const url = `http://127.0.0.1:${o.ingressPort}/productpage`;
    await pollUntil(gw.process, o.readyTimeoutMs, async () => (await status(url)) === 200, () => `${url} to answer 200 through the ingress gateway`, o.abort);
    o.progress(`weft demo: every workload is ready [${since()}]`);

    const unexpectedExit = new Promise<string>((resolve) => {
      for (const p of [cp!.process, gw.process, ...ws.flatMap((w) => [w.app, w.sidecar])]) {
        void p.exited.then((s) => {
          if (stopping === undefined) resolve(`${p.name} exited (${describeExit(s)}); its last output:\n${p.tail()}`);
        });
      }
    });
    await writeFile(
      join(o.stateDir, DEMO_STATE_FILE),
      `${JSON.stringify({ pid: process.pid, url, configDir, xdsAddress: cp.xdsAddress, monitoringAddress: cp.monitoringAddress, logDir }, null, 2)}\n`,
    );
    const all = (): Supervised[] => [cp!.process, gw.process, ...ws.flatMap((w) => [w.app, w.sidecar])];
    return { url, configDir, logDir, controlPlane: cp, workloads: ws, gateway: gw, processes: all, unexpectedExit, stop };
  } catch (e) {
    await stop();
    if (e instanceof WeftError) throw new WeftError(e.code, `${e.message}\n(logs of every process: ${logDir})`, { cause: e });
    throw e;
  }
}

async function startDemoWorkload(w: DemoWorkload, xds: string, identity: ProxyIdentity, timeoutMs: number, log: (line: string) => void, abort: AbortSignal | undefined): Promise<RunningWorkload> {
  const port = await freePort(['127.0.0.1']);
  const [command, ...args] = bookinfoCommand(w, { port, address: '127.0.0.1' });
  return startWorkload({
    name: w.name,
    namespace: 'default',
    serviceAccount: w.serviceAccount,
    labels: w.labels,
    ports: [{ name: BOOKINFO_PORT_NAME, port }],
    workloadGroup: w.name,
    discoveryAddress: xds,
    command: command!,
    args: [...args, '--drain', '1'],
    holdApplicationUntilProxyStarts: true,
    readyTimeoutMs: timeoutMs,
    appDrainMs: 3000,
    sidecarDrain: '1s',
    inheritAppOutput: false,
    nodeApp: true,
    identity,
    abort,
    onLine: (source, line) => log(`[${source}] ${line}`),
  });
}

async function status(url: string): Promise<number | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(3000) });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return undefined;
  }
}

/** The workload's sidecar has an endpoint for every workload of every service it calls. */
function waitKnowsPeers(w: RunningWorkload, all: readonly RunningWorkload[], timeoutMs: number, abort: AbortSignal | undefined): Promise<void> {
  const service = w.spec.labels['app'] as DemoWorkload['service'];
  const wanted = CALLS[service].flatMap((callee) =>
    all.filter((x) => x.spec.labels['app'] === callee).map((x) => `outbound|${BOOKINFO_SERVICE_PORT}||${callee}.default.svc.cluster.local::${x.ip}:${x.spec.ports[0]!.port}::`),
  );
  if (wanted.length === 0) return Promise.resolve();
  return pollUntil(
    w.sidecar,
    timeoutMs,
    async () => {
      try {
        const body = await (await fetch(`http://127.0.0.1:${w.sidecarPorts.admin}/clusters`, { signal: AbortSignal.timeout(2000) })).text();
        return wanted.every((x) => body.includes(x));
      } catch {
        return false;
      }
    },
    () => `${w.spec.name}'s sidecar to receive the endpoints of ${CALLS[service].join(' and ')}`,
    abort,
  );
}
