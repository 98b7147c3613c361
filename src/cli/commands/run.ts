// `weft run … -- CMD ARGS`: one workload outside Kubernetes — its sidecar (`weft proxy sidecar`, auto-registered
// through a WorkloadGroup as Istio's VMs are), then the app with HTTP_PROXY pointing at the sidecar. Signals go to
// the app first; once it has exited the sidecar drains and stops. Exits with the app's status; never restarts.
// Exit codes: the app's own (128+N when killed by signal N); 1 when the sidecar died under a running app;
// 2 usage errors or when the workload could not start (control plane unreachable, port in use, no root for --capture).
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readEnv } from '../../core/env.ts';
import { ExitCode, UsageError, WeftError, describeError } from '../../core/errors.ts';
import { Ports } from '../../core/ports.ts';
import { localIdentity, type ProxyIdentity } from '../../runner/identity.ts';
import { parseDurationMillis } from '../../config/api/validation/common/duration.ts';
import { exitCodeOf, describeExit } from '../../runner/process.ts';
import { ensureWorkloadGroup } from '../../runner/workload-group.ts';
import { startCapturedWorkload } from '../../runner/capture.ts';
import { startWorkload, waitAppListening, type RunningWorkload, type WorkloadPort, type WorkloadSpec } from '../../runner/workload.ts';
import type { CliIo } from '../io.ts';
import { walkFlags } from '../flags.ts';

export const summary = 'Run an app beside its sidecar on this machine (auto-registered via a WorkloadGroup)';

const HELP = `Usage: weft run --name NAME [flags] -- CMD [ARGS...]

Start CMD as a mesh workload on this machine: first its sidecar ('weft proxy sidecar'), which connects to the
control plane and auto-registers the workload in a WorkloadGroup (as an Istio VM does), then — once the sidecar is
ready — CMD, with HTTP_PROXY/http_proxy set to the sidecar's outbound port (NO_PROXY: localhost) so that
http://reviews:9080/ goes through the mesh. The app must listen on 127.0.0.1:PORT; other workloads reach it
through the sidecar's inbound listener on the workload's own loopback address (127.0.10.x), PORT.

Flags:
  --name NAME                 Workload (pod) name. Required.
  --namespace NS              Namespace (default "default").
  --service-account SA        Service account: the workload's identity spiffe://<td>/ns/NS/sa/SA (default "default").
  --labels k=v,...            Labels (app, version …): Services and DestinationRule subsets select on these.
  --port [NAME=]PORT          A port the app listens on (127.0.0.1). NAME is the Service port name it serves
                              (e.g. http=9080); named ports become the WorkloadEntry's ports. Repeat for an app
                              serving several ports (--port http=9080 --port grpc=9090): one inbound listener each.
  --workload-group NAME       WorkloadGroup to register in (default: the app label, else NAME, when --port is
                              given; no registration for an outbound-only workload).
  --config-dir DIR            The control plane's config directory: create the WorkloadGroup there if it is missing.
  --discovery-address H:P     Control plane xDS address (default 127.0.0.1:15010).
  --ip ADDR                   The workload's address (default: a free loopback address 127.0.10.x, claimed for
                              the run). On another machine than the control plane, pass this machine's IP.
  --control-plane-state-dir DIR
                              The state dir of 'weft up' on this machine (default $WEFT_STATE_DIR): weft run
                              mints the workload's bootstrap token from it and uses its root certificate.
  --token-file FILE           Bootstrap token ('weft ca token') instead, e.g. on another machine;
  --ca-root-cert FILE         with the mesh root certificate ('weft ca root').
  --ca-address HOST:PORT      The CA (default: the discovery host, port 15012).
  --no-hold                   Start the app at once instead of holding it until the sidecar is ready.
  --drain DURATION            How long the app may take to exit after SIGTERM before SIGKILL (default 10s).
  --ready-timeout DURATION    Give up when the sidecar is not ready within this time (default 30s).
  --app-metrics-port PORT     The app serves Prometheus metrics on 127.0.0.1:PORT: the sidecar's status port merges
                              them into its /stats/prometheus (Istio's prometheus.io/port).
  --app-metrics-path PATH     Their path (default /metrics; prometheus.io/path).
  --app-probe NAME:KIND=URL   An app probe the sidecar's status port answers as /app-health/NAME/KIND (livez, readyz,
                              startupz), e.g. web:readyz=http://127.0.0.1:8080/ready (see weft proxy --help).
  --capture                   Transparent mode (root): the workload runs in its own network namespace with Istio's
                              iptables rules and a DNS proxy; the app needs no HTTP_PROXY (see docs/capture.md).
  -h, --help                  Show this help.

Exit codes: the app's own status (128+N when killed by signal N); 1 when the sidecar exited while the app ran
(the app is then stopped: nothing restarts silently); 2 usage error or the workload could not start.
`;

export interface RunOptions {
  name: string;
  namespace: string;
  serviceAccount: string;
  labels: Record<string, string>;
  ports: WorkloadPort[];
  workloadGroup: string | undefined;
  configDir: string | undefined;
  discoveryAddress: string;
  ip: string | undefined;
  hold: boolean;
  drainMs: number;
  readyTimeoutMs: number;
  capture: boolean;
  controlPlaneStateDir: string | undefined;
  tokenFile: string | undefined;
  caRootCert: string | undefined;
  caAddress: string | undefined;
  /** Flags passed through to the sidecar (app metrics, app probes). */
  sidecarArgs: string[];
  command: string;
  args: string[];
}

function duration(flag: string, v: string): number {
  const ms = parseDurationMillis(v);
  if (ms === undefined) throw new UsageError(`${flag} must be a duration such as 500ms, 10s or 1m, not "${v}"`);
  return ms;
}

export function parseLabels(v: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of v.split(',').filter((s) => s !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`--labels expects k=v,k=v, not "${part}"`);
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

export function parsePort(v: string): WorkloadPort {
  const eq = v.indexOf('=');
  const name = eq > 0 ? v.slice(0, eq) : undefined;
  const num = eq > 0 ? v.slice(eq + 1) : v;
  const port = Number(num);
  if (!/^\d+$/.test(num) || port < 1 || port > 65535) throw new UsageError(`--port expects [NAME=]PORT with PORT 1-65535, not "${v}"`);
  if (name !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) throw new UsageError(`--port name "${name}" must be a DNS label such as http or http-web`);
  return { name, port };
}

export function parseRunArgs(args: readonly string[]): RunOptions | 'help' {
  const dash = args.indexOf('--');
  const flags = dash >= 0 ? args.slice(0, dash) : args;
  const cmd = dash >= 0 ? args.slice(dash + 1) : [];
  const o: Partial<RunOptions> = { ports: [], hold: true, capture: false, sidecarArgs: [] };
  const help = walkFlags(flags, (flag, value, a) => {
    switch (flag) {
      case '--name': o.name = value(); break;
      case '--namespace': case '-n': o.namespace = value(); break;
      case '--service-account': o.serviceAccount = value(); break;
      case '--labels': o.labels = { ...o.labels, ...parseLabels(value()) }; break;
      case '--port': o.ports!.push(parsePort(value())); break;
      case '--workload-group': o.workloadGroup = value(); break;
      case '--config-dir': o.configDir = value(); break;
      case '--discovery-address': o.discoveryAddress = value(); break;
      case '--ip': o.ip = value(); break;
      case '--no-hold': o.hold = false; break;
      case '--drain': o.drainMs = duration(flag, value()); break;
      case '--ready-timeout': o.readyTimeoutMs = duration(flag, value()); break;
      case '--capture': o.capture = true; break;
      case '--control-plane-state-dir': o.controlPlaneStateDir = value(); break;
      case '--token-file': o.tokenFile = value(); break;
      case '--ca-root-cert': o.caRootCert = value(); break;
      case '--ca-address': o.caAddress = value(); break;
      case '--app-metrics-port': case '--app-metrics-path': case '--app-probe': o.sidecarArgs!.push(flag, value()); break;
      default:
        throw new UsageError(a.startsWith('-') ? `unknown flag ${a}; run 'weft run --help'` : `unexpected argument "${a}": put the app's command after --, e.g. weft run --name web --port 8080 -- node server.js`);
    }
  });
  if (help) return 'help';
  if (o.name === undefined) throw new UsageError('--name is required: the workload (pod) name, e.g. --name reviews-v1');
  if (!/^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/.test(o.name)) throw new UsageError(`--name "${o.name}" must be a DNS name (lower case letters, digits, '-' and '.')`);
  if (cmd.length === 0) throw new UsageError("no command: put the app's command after --, e.g. weft run --name web --port 8080 -- node server.js");
  const ports = o.ports ?? [];
  const seen = new Set<number>();
  for (const p of ports) {
    if (seen.has(p.port)) throw new UsageError(`--port ${p.port} is given twice`);
    seen.add(p.port);
  }
  const names = ports.map((p) => p.name).filter((n) => n !== undefined);
  if (new Set(names).size !== names.length) throw new UsageError('--port names must differ (they name the WorkloadEntry ports)');
  if (o.ip === '127.0.0.1' || o.ip === 'localhost') throw new UsageError('--ip 127.0.0.1 is where the app itself listens; give the workload its own address (default: a free 127.0.10.x)');
  if (o.tokenFile !== undefined && o.caRootCert === undefined) throw new UsageError('--token-file needs --ca-root-cert FILE (the mesh root certificate: weft ca root --state-dir <control plane state dir>)');
  const labels = o.labels ?? {};
  const group = o.workloadGroup ?? (ports.length > 0 ? (labels['app'] ?? o.name) : undefined);
  return {
    name: o.name,
    namespace: o.namespace ?? 'default',
    serviceAccount: o.serviceAccount ?? 'default',
    labels,
    ports,
    workloadGroup: group,
    configDir: o.configDir,
    discoveryAddress: o.discoveryAddress ?? '127.0.0.1:15010',
    ip: o.ip,
    hold: o.hold ?? true,
    drainMs: o.drainMs ?? 10_000,
    readyTimeoutMs: o.readyTimeoutMs ?? 30_000,
    capture: o.capture ?? false,
    controlPlaneStateDir: o.controlPlaneStateDir ?? readEnv().stateDir,
    tokenFile: o.tokenFile,
    caRootCert: o.caRootCert,
    caAddress: o.caAddress,
    sidecarArgs: o.sidecarArgs ?? [],
    command: cmd[0]!,
    args: cmd.slice(1),
  };
}

async function isExecutable(cmd: string): Promise<boolean> {
  if (cmd.includes('/')) return stat(cmd).then(() => true, () => false);
  return true; // found through PATH by the spawn; a failure is reported as exit 127
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const o = parseRunArgs(args);
  if (o === 'help') {
    io.out(HELP);
    return ExitCode.ok;
  }
  if (!(await isExecutable(o.command))) {
    io.err(`weft run: ${o.command}: no such file\n`);
    return ExitCode.usage;
  }
  if (o.configDir !== undefined && o.workloadGroup !== undefined) {
    const r = await ensureWorkloadGroup({ configDir: o.configDir, name: o.workloadGroup, namespace: o.namespace, labels: o.labels, serviceAccount: o.serviceAccount });
    io.err(`weft run: WorkloadGroup ${o.namespace}/${o.workloadGroup} ${r.created ? `created in ${r.file}` : `found in ${r.file}`}\n`);
  }
  const caAddress = o.caAddress ?? `${o.discoveryAddress.slice(0, o.discoveryAddress.lastIndexOf(':'))}:${Ports.xdsTls}`;
  let identity: ProxyIdentity | undefined;
  let tokenDir: string | undefined;
  if (o.tokenFile !== undefined && o.caRootCert !== undefined) identity = { caAddress, rootCert: o.caRootCert, tokenFile: o.tokenFile };
  else if (o.controlPlaneStateDir !== undefined) {
    // One token file per run (a name can be reused by several runs, even against different control planes).
    tokenDir = await mkdtemp(join(tmpdir(), `weft-run-${o.name}-`));
    identity = await localIdentity({ controlPlaneStateDir: o.controlPlaneStateDir, caAddress, namespace: o.namespace, serviceAccount: o.serviceAccount, outDir: tokenDir, name: `${o.namespace}.${o.name}` });
  } else {
    io.err('weft run: warning: no workload certificate (give --control-plane-state-dir, or --token-file and --ca-root-cert): calls to workloads that require mTLS — every auto-registered workload, by auto-mTLS — will fail with 503.\n');
  }
  try {
    return await runWorkload(o, io, identity);
  } finally {
    if (tokenDir !== undefined) await rm(tokenDir, { recursive: true, force: true });
  }
}

async function runWorkload(o: RunOptions, io: CliIo, identity: ProxyIdentity | undefined): Promise<number> {
  const log = (source: 'app' | 'sidecar', line: string): void => {
    // The sidecar's warnings and errors (and anything unexpected) pass through; its start-up chatter is in the summary.
    if (source === 'sidecar' && !/^\w+ port \d+$|^weft proxy ready$|^draining$|^\S+ info /.test(line)) io.err(`[sidecar] ${line}\n`);
  };
  // Signals are ours from the start: a Ctrl-C while the sidecar starts must stop it, not orphan it.
  let w: RunningWorkload | undefined;
  let signals = 0;
  let firstSignal: NodeJS.Signals | undefined;
  const starting = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    firstSignal ??= sig;
    if (w === undefined) {
      starting.abort();
      return;
    }
    const running = w;
    if (signals === 1) {
      io.err(`weft run: ${sig}: stopping ${o.name} (the app first, up to ${o.drainMs / 1000}s, then its sidecar)\n`);
      void running.stop(sig);
    } else {
      io.err(`weft run: ${sig} again: killing ${o.name} now\n`);
      running.app.signal('SIGKILL');
      running.sidecar.signal('SIGKILL');
    }
  };
  const onInt = (): void => onSignal('SIGINT');
  const onTerm = (): void => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    return await supervise();
  } finally {
    process.removeListener('SIGINT', onInt);
    process.removeListener('SIGTERM', onTerm);
  }

  async function supervise(): Promise<number> {
    try {
      const spec: WorkloadSpec = {
        name: o.name,
        namespace: o.namespace,
        serviceAccount: o.serviceAccount,
        labels: o.labels,
        ports: o.ports,
        workloadGroup: o.workloadGroup,
        discoveryAddress: o.discoveryAddress,
        ip: o.ip,
        command: o.command,
        args: o.args,
        holdApplicationUntilProxyStarts: o.hold,
        readyTimeoutMs: o.readyTimeoutMs,
        appDrainMs: o.drainMs,
        sidecarDrain: '2s',
        sidecarArgs: o.sidecarArgs,
        inheritAppOutput: true,
        onLine: log,
        identity,
        abort: starting.signal,
      };
      w = o.capture ? await startCapturedWorkload(spec, identity?.caAddress) : await startWorkload(spec);
    } catch (e) {
      if (firstSignal !== undefined) {
        io.err(`weft run: ${firstSignal}: start-up of ${o.name} interrupted; everything it started is stopped\n`);
        return exitCodeOf({ code: null, signal: firstSignal });
      }
      if (e instanceof WeftError && e.code !== 'WEFT_ERR_INTERNAL') {
        io.err(`weft run: ${hint(e.message, o.workloadGroup, o.namespace)}\n`);
        return ExitCode.usage;
      }
      throw e;
    }
    const sp = w.sidecarPorts;
    const inbound = o.ports.length > 0 ? `, inbound ${o.ports.map((p) => `${w!.ip}:${p.port} → app 127.0.0.1:${p.port}`).join(', ')}` : '';
    const statusPort = sp.status !== undefined ? `, status :${sp.status}` : '';
    const group = o.workloadGroup ? `, WorkloadGroup ${o.namespace}/${o.workloadGroup}` : '';
    io.err(
      o.capture
        ? `weft run: ${o.name} sidecar ready in its network namespace (pod IP ${w.ip}, capture to 15001/15006, DNS proxy 15053${group}); started ${[o.command, ...o.args].join(' ')}\n`
        : `weft run: ${o.name} sidecar ready (address ${w.ip}, HTTP_PROXY http://127.0.0.1:${sp.outbound ?? '?'}${inbound}, admin http://127.0.0.1:${sp.admin}, readiness :${sp.readiness}, stats :${sp.stats}${statusPort}${group}); started ${[o.command, ...o.args].join(' ')}\n`,
    );
    if (o.ports.length > 0 && !o.capture) {
      const app = w.app;
      void Promise.all(o.ports.map((p) => waitAppListening(app, p.port, o.readyTimeoutMs))).then(
        () => io.err(`weft run: ${o.name} is serving on ${o.ports.map((p) => `127.0.0.1:${p.port}`).join(', ')}\n`),
        (e: unknown) => {
          if (app.status === undefined) io.err(`weft run: warning: ${describeError(e)}\n`);
        },
      );
    }

    const running = w;
    // A signal that arrived between the end of the start-up and here is acted on now.
    if (firstSignal !== undefined) void running.stop(firstSignal);
    const first = await Promise.race([running.app.exited.then(() => 'app' as const), running.sidecar.exited.then(() => 'sidecar' as const)]);
    if (first === 'sidecar' && running.app.status === undefined && signals === 0) {
      io.err(`weft run: the sidecar of ${o.name} exited (${describeExit(running.sidecar.status!)}) while the app was running; stopping the app (weft run never restarts anything). Its last output:\n${running.sidecar.tail()}\n`);
      await running.stop('SIGTERM');
      return 1;
    }
    const status = await running.stop('SIGTERM');
    if (signals === 0) io.err(`weft run: the app exited (${describeExit(status)}); sidecar stopped\n`);
    return exitCodeOf(status);
  }
}

/** Add the next step to the errors a user is likely to meet. */
function hint(message: string, group: string | undefined, namespace: string): string {
  if (group !== undefined && /WorkloadGroup \S+ not found/.test(message)) {
    return `${message}\n  Apply one (see docs/run.md), or let weft run write it: add --config-dir <the directory weft up watches>.\n  Example: weft run --config-dir mesh --workload-group ${group} -n ${namespace} …`;
  }
  if (/identity: .*ECONNREFUSED/.test(message)) {
    return `${message}\n  The sidecar cannot reach the CA. Pass --ca-address HOST:PORT: 'weft up' prints it ("xDS + CA (TLS) listening on …"); the default is the discovery host, port 15012.`;
  }
  return message;
}
