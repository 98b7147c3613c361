// `weft proxy sidecar|router`: one proxy process (agent + data path), configured over xDS from the control plane
// and/or from a static bootstrap file. Prints one line per bound port and `weft proxy ready` once the first full
// configuration (and, with --ca-address, the first certificate) has arrived; SIGTERM/SIGINT (or POST /quitquitquit)
// drains and exits 0.
// Exit codes: 0 clean shutdown, 1 invalid bootstrap config, 2 usage or I/O error (e.g. a port in use).
import { hostname } from 'node:os';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ExitCode, UsageError, WeftError } from '../../core/errors.ts';
import { readEnv } from '../../core/env.ts';
import { Ports } from '../../core/ports.ts';
import { PortBindError, startProxyAgent, type PortRole } from '../../agent/proxy-agent.ts';
import { parseAppProbeFlag, parseKubeAppProbers, type AppProbe } from '../../agent/status/app-probes.ts';
import { walkFlags } from '../flags.ts';
import type { CliIo } from '../io.ts';

export const summary = 'Run a sidecar or gateway proxy (xDS client, HTTP/1.1 and HTTP/2 data path, mTLS, admin and metrics)';

const HELP = `Usage: weft proxy sidecar|router --discovery-address HOST:PORT [flags]

Run Weft's proxy in the foreground. A sidecar serves its app as an explicit HTTP proxy on the outbound port
(HTTP_PROXY=http://127.0.0.1:15001, so http://reviews:9080/ works without DNS) and takes traffic for the app on
the inbound port; a router (gateway) binds the listeners the control plane sends.

Flags:
  --discovery-address HOST:PORT  Control plane xDS address (15010 plaintext; 15012 TLS with --discovery-ca).
  --discovery-ca FILE       Root certificate (PEM) to verify the control plane over TLS.
  --xds-protocol P          ADS variant: delta (incremental, as Envoy and Istio >= 1.22) or sotw (state of the
                            world) (default delta; a control plane without delta is spoken to in sotw).
  --bootstrap FILE          Static resources (Envoy bootstrap static_resources: listeners, clusters; plus routes,
                            endpoints) loaded before xDS. With no --discovery-address the proxy runs on these only.
  --node-id ID              xDS node id (default sidecar~IP~NAME.NAMESPACE~NAMESPACE.svc.cluster.local).
  --name NAME               Workload (pod) name (default the host name).
  --namespace NS            Namespace (default "default").
  --labels k=v,k=v          Workload labels (app, version …), sent as node metadata LABELS.
  --service-account SA      Service account (default "default").
  --ip IP                   Workload IP, sent as INSTANCE_IPS (default 127.0.0.1).
  --auto-register-group G   WorkloadGroup to auto-register into (Istio's VM flow).
  --pod-ports name=N,...    The workload's named ports, sent as POD_PORTS (the auto-registered entry's ports).
  --ca-address HOST:PORT    The CA (Istio CSR API, usually the control plane's 15012): get a workload certificate
                            and use mutual TLS (inbound, and ISTIO_MUTUAL clusters). Needs --ca-root-cert.
  --ca-root-cert FILE       The mesh root certificate (PEM) that signed the CA's serving certificate.
  --token-file FILE         Bootstrap token for the first certificate (else WEFT_BOOTSTRAP_TOKEN).
  --trust-domain TD         Trust domain of the workload's SPIFFE id (default cluster.local).
  --admin-port N            Admin on 127.0.0.1 (default ${Ports.proxyAdmin}).
  --outbound-port N         Explicit outbound HTTP proxy (default ${Ports.proxyOutbound}; sidecar only).
  --outbound-address ADDR   Address of the outbound listener (default 127.0.0.1).
  --inbound-port N[,N...]   Inbound listener (default ${Ports.proxyInbound}; sidecar only). Several ports (a workload
                            serving several ports in explicit mode): one inbound listener on each.
  --inbound-address ADDR    Address of the inbound listener (default 0.0.0.0).
  --stats-port N            Prometheus /stats/prometheus (default ${Ports.proxyStats}).
  --readiness-port N        /healthz/ready (default ${Ports.proxyReadiness}).
  --status-port N           Status port (default ${Ports.proxyMergedMetrics}): /stats/prometheus with the proxy's, the app's and
                            the agent's metrics merged, /healthz/ready, /app-health/<container>/livez|readyz|startupz.
  --app-metrics-port N      Scrape the app's Prometheus metrics from 127.0.0.1:N into the status port's page
                            (Istio's prometheus.io/port annotation).
  --app-metrics-path PATH   Path of the app's metrics (default /metrics; prometheus.io/path).
  --app-probe NAME:KIND=URL App probe served as /app-health/NAME/KIND on the status port; KIND livez, readyz or
                            startupz; URL http[s]://127.0.0.1:PORT/PATH, tcp://127.0.0.1:PORT or
                            grpc://127.0.0.1:PORT[/SERVICE]. Repeat for more probes.
  --app-probers JSON        The same in Istio's ISTIO_KUBE_APP_PROBERS form ({"/app-health/web/readyz": {"httpGet": …}}).
  --drain-duration DUR      How long to let requests finish on shutdown (default 5s).
  --access-log-file PATH    Write an access log (e.g. /dev/stdout); off by default.
  --access-log-encoding E   TEXT (Istio's default format) or JSON (default TEXT).
  --credentials-dir DIR     Gateway TLS credentials (router): a Gateway's tls.credentialName N is read from
                            DIR/N/tls.crt, tls.key and ca.crt (or cert, key, cacert), reloaded when they change.
  Every port accepts 0 (pick a free port) or -1 (disable). A port that cannot be bound (in use, default or not)
  stops the proxy with exit code 2 and names the flag to change it.
  -h, --help                Show this help.

Exit codes: 0 clean shutdown, 1 invalid bootstrap config, 2 usage or I/O error (e.g. a port in use).
`;

function port(flag: string, v: string): number {
  if (v === '-1') return -1;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new UsageError(`${flag} must be a port number 0-65535 (or -1 to disable), not "${v}"`);
  return n;
}

/** Go-style durations as Istio writes them: 500ms, 5s, 1m, 1m30s. */
export function parseDuration(flag: string, v: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of v.matchAll(re)) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    consumed += m[0].length;
  }
  if (consumed !== v.length || v === '') throw new UsageError(`${flag} must be a duration such as 500ms, 5s or 1m, not "${v}"`);
  return total;
}

function readCaRoots(file: string | undefined): string {
  if (!file) throw new UsageError('--ca-address needs --ca-root-cert FILE (the mesh root certificate, PEM)');
  return readFileSync(file, 'utf8');
}

function parseLabels(v: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of v.split(',').filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`--labels expects k=v,k=v, not "${part}"`);
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

function parsePodPorts(v: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, p] of Object.entries(parseLabels(v))) {
    const n = Number(p);
    if (!/^\d+$/.test(p) || n < 1 || n > 65535) throw new UsageError(`--pod-ports expects name=port with a port 1-65535, not "${name}=${p}"`);
    out[name] = n;
  }
  return out;
}

const PORT_FLAGS: Record<PortRole, string> = {
  admin: '--admin-port',
  outbound: '--outbound-port',
  inbound: '--inbound-port',
  stats: '--stats-port',
  readiness: '--readiness-port',
  status: '--status-port',
};

/** A port that cannot be bound, with the flag that moves it (exit code 2, as every I/O error). */
function portError(e: PortBindError): WeftError {
  return new WeftError('WEFT_ERR_IO', `${e.message}. Pass ${PORT_FLAGS[e.role]} N for another port (0 picks a free one, -1 turns it off).`, { cause: e });
}

const KNOWN_FLAGS = new Set(['discovery-address', 'discovery-ca', 'xds-protocol', 'bootstrap', 'node-id', 'name', 'namespace', 'labels', 'service-account', 'ip', 'auto-register-group', 'pod-ports', 'ca-address', 'ca-root-cert', 'token-file', 'trust-domain', 'admin-port', 'outbound-port', 'outbound-address', 'inbound-port', 'inbound-address', 'stats-port', 'readiness-port', 'drain-duration', 'access-log-file', 'access-log-encoding', 'credentials-dir', 'status-port', 'app-metrics-port', 'app-metrics-path', 'app-probe', 'app-probers']);

/**
 * The flags after sidecar|router, each `--flag value` or `--flag=value`. Every `--word` is a flag, never a value
 * (`--name --namespace x` is a missing name, not a pod called "--namespace"; `--name=--x` still works), and an
 * unknown flag is refused before anything else is read. `--app-probe` may repeat; other flags: the last one wins.
 */
export function parseProxyFlags(args: readonly string[]): { f: Record<string, string>; probeFlags: string[] } {
  const help = "run 'weft proxy --help'";
  for (const a of args) {
    const unknown = a.startsWith('--') ? !KNOWN_FLAGS.has(a.slice(2).split('=')[0]!) : a.startsWith('-') && a.length > 1 && a !== '-h' && !/^-\d/.test(a);
    if (unknown) throw new UsageError(`unknown flag ${a.split('=')[0]}; ${help}`);
  }
  const f: Record<string, string> = {};
  const probeFlags: string[] = [];
  walkFlags(args, (flag, value, a) => {
    if (!flag.startsWith('--')) throw new UsageError(`unexpected argument "${a}"; ${help}`);
    const v = value();
    if (!a.includes('=') && v.startsWith('--')) throw new UsageError(`flag ${flag} needs a value, and ${v} is a flag; ${help}`);
    if (flag === '--app-probe') probeFlags.push(v);
    f[flag.slice(2)] = v;
  });
  return { f, probeFlags };
}

export async function run(args: string[], io: CliIo): Promise<number> {
  if (args.length === 0 || args.includes('-h') || args.includes('--help')) {
    io.out(HELP);
    return args.length === 0 ? ExitCode.usage : ExitCode.ok;
  }
  const [mode, ...rest] = args;
  if (mode !== 'sidecar' && mode !== 'router') throw new UsageError(`expected "sidecar" or "router", not "${mode}". Run 'weft proxy --help'.`);
  const { f, probeFlags } = parseProxyFlags(rest);
  if (!f['discovery-address'] && !f['bootstrap']) throw new UsageError('--discovery-address (or --bootstrap for static config) is required');
  const xdsProtocol = f['xds-protocol'] ?? 'delta';
  if (xdsProtocol !== 'sotw' && xdsProtocol !== 'delta') throw new UsageError(`--xds-protocol must be sotw or delta, not "${xdsProtocol}"`);
  const encoding = (f['access-log-encoding'] ?? 'TEXT').toUpperCase();
  if (encoding !== 'TEXT' && encoding !== 'JSON') throw new UsageError('--access-log-encoding must be TEXT or JSON');
  const credentialsDir = f['credentials-dir'] ? resolve(f['credentials-dir']) : undefined;
  if (credentialsDir && !statSync(credentialsDir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--credentials-dir ${credentialsDir} is not a directory`);
  const probes = new Map<string, AppProbe>();
  for (const v of probeFlags) {
    const r = parseAppProbeFlag(v);
    if (!r.ok) throw new UsageError(r.error);
    probes.set(r.value[0], r.value[1]);
  }
  if (f['app-probers']) {
    const r = parseKubeAppProbers(f['app-probers']);
    if (!r.ok) throw new UsageError(r.error);
    for (const [k, p] of r.value) probes.set(k, p);
  }
  const appMetricsPort = f['app-metrics-port'] !== undefined ? port('--app-metrics-port', f['app-metrics-port']) : undefined;
  if (appMetricsPort !== undefined && appMetricsPort < 1) throw new UsageError('--app-metrics-port must be the port the app serves its metrics on (1-65535)');
  const appMetricsPath = f['app-metrics-path'] ?? '/metrics';
  if (!appMetricsPath.startsWith('/')) throw new UsageError(`--app-metrics-path must start with /, not "${appMetricsPath}"`);
  if (f['app-metrics-path'] !== undefined && appMetricsPort === undefined) throw new UsageError('--app-metrics-path needs --app-metrics-port');
  const inboundPorts = (f['inbound-port'] ?? String(Ports.proxyInbound)).split(',').map((v) => port('--inbound-port', v));
  if (inboundPorts.length > 1 && inboundPorts.includes(-1)) throw new UsageError('--inbound-port: -1 (no inbound listener) cannot be combined with other ports');
  const env = readEnv();
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const ip = f['ip'] ?? '127.0.0.1';
  const log = (level: 'info' | 'warn' | 'error', message: string): void => {
    if (level === 'info' && (env.logLevel === 'warn' || env.logLevel === 'error')) return;
    if (level === 'warn' && env.logLevel === 'error') return;
    io.err(`${new Date().toISOString()} ${level} ${message}\n`);
  };
  let quit: () => void = () => undefined;
  const quitting = new Promise<void>((resolve) => (quit = resolve));
  const agent = await startProxyAgent(
    {
      node: {
        type: mode,
        ip,
        name: f['name'] ?? hostname(),
        namespace: f['namespace'] ?? 'default',
        id: f['node-id'],
        labels: f['labels'] ? parseLabels(f['labels']) : {},
        serviceAccount: f['service-account'] ?? 'default',
        instanceIps: [ip],
        autoRegisterGroup: f['auto-register-group'],
        podPorts: f['pod-ports'] ? parsePodPorts(f['pod-ports']) : undefined,
      },
      discoveryAddress: f['discovery-address'],
      discoveryRootCa: f['discovery-ca'] ? readFileSync(f['discovery-ca']) : undefined,
      xdsProtocol,
      bootstrapFile: f['bootstrap'],
      ports: {
        admin: port('--admin-port', f['admin-port'] ?? String(Ports.proxyAdmin)),
        outbound: port('--outbound-port', f['outbound-port'] ?? String(Ports.proxyOutbound)),
        inbound: inboundPorts[0]!,
        stats: port('--stats-port', f['stats-port'] ?? String(Ports.proxyStats)),
        readiness: port('--readiness-port', f['readiness-port'] ?? String(Ports.proxyReadiness)),
      },
      extraInboundPorts: inboundPorts.slice(1),
      status: {
        port: port('--status-port', f['status-port'] ?? String(Ports.proxyMergedMetrics)),
        appMetrics: appMetricsPort !== undefined ? { port: appMetricsPort, path: appMetricsPath } : undefined,
        probes,
      },
      outboundAddress: f['outbound-address'] ?? '127.0.0.1',
      inboundAddress: f['inbound-address'] ?? '0.0.0.0',
      drainMs: parseDuration('--drain-duration', f['drain-duration'] ?? '5s'),
      accessLog: f['access-log-file'] ? { path: f['access-log-file'], encoding: encoding === 'JSON' ? 'json' : 'text' } : undefined,
      version: pkg.version,
      identity: f['ca-address']
        ? {
            caAddress: f['ca-address'],
            caRootsPem: readCaRoots(f['ca-root-cert']),
            trustDomain: f['trust-domain'] ?? 'cluster.local',
            token: () => (f['token-file'] ? readFileSync(f['token-file'], 'utf8').trim() : env.bootstrapToken),
          }
        : undefined,
      log,
    },
    () => quit(),
  ).catch((e: unknown) => {
    throw e instanceof PortBindError ? portError(e) : e;
  });
  // Resolved per TLS connection, so setting it now covers listeners the first xDS response may already have bound.
  if (credentialsDir) agent.engine.listeners.serverContexts.credentialsDir = credentialsDir;
  for (const [name, p] of Object.entries(agent.ports)) if (p !== undefined) io.out(`${name} port ${p}\n`);
  for (const p of agent.extraInboundPorts) io.out(`inbound port ${p}\n`);
  // Whoever reads our output may go away (a closed pipe: EPIPE). The proxy keeps serving without its log rather than
  // treating every failed log write as a bug — which it would log, fail to write, and log again, in a tight loop.
  let outputGone = false;
  const onOutputError = (): void => void (outputGone = true);
  process.stdout.on('error', onOutputError);
  process.stderr.on('error', onOutputError);
  // A bug on one request must not take every other connection down with it: report it and keep serving.
  const onBug = (e: unknown): void => {
    if (outputGone) return;
    log('error', `internal error (please report it with weft bug-report): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  };
  process.on('uncaughtException', onBug);
  process.on('unhandledRejection', onBug);
  const onSignal = (): void => quit();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  // Ready means what /healthz/ready says (as pilot-agent, whose proxy is not ready without its certificate).
  void agent.whenReady().then((ready) => ready && io.out('weft proxy ready\n'));
  await quitting;
  io.err('draining\n');
  await agent.shutdown();
  process.removeListener('SIGTERM', onSignal);
  process.removeListener('SIGINT', onSignal);
  process.removeListener('uncaughtException', onBug);
  process.removeListener('unhandledRejection', onBug);
  return ExitCode.ok;
}
