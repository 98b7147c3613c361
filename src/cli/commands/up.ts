// `weft up`: the control plane in the foreground — config directory store, registry, snapshot, xDS on 15010
// (plaintext) and 15012 (TLS, with the CA's CSR service), metrics and /debug on 15014. Prints one line per port
// and `weft control plane ready`; SIGTERM or SIGINT shuts everything down and exits 0.
// Exit codes: 0 clean shutdown, 1 invalid config at start-up, 2 usage or I/O error (e.g. a port in use).
import { mkdir } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { ExitCode, UsageError, WeftError } from '../../core/errors.ts';
import { readEnv } from '../../core/env.ts';
import { formatSpiffeId } from '../../core/names/spiffe.ts';
import { Ports } from '../../core/ports.ts';
import { startCaForControlPlane } from '../../ca/server/index.ts';
import { startControlPlane, type Log } from '../../controlplane/control-plane.ts';
import { generateForServer, proxyCacheKey } from '../../controlplane/generate.ts';
import { loadMeshConfig } from '../../controlplane/mesh-config.ts';
import { parseDurationMillis } from '../../config/api/validation/common/duration.ts';
import type { CliIo } from '../io.ts';
import { walkFlags } from '../flags.ts';

export const summary = 'Run the control plane (xDS, CA, metrics) in the foreground';

const HELP = `Usage: weft up --config-dir DIR --state-dir DIR [flags]

Run Weft's control plane in the foreground: it watches DIR for Istio YAML, serves Envoy xDS to proxies and
proxyless gRPC clients, issues workload certificates, and exposes metrics and debug endpoints.
Stop it with Ctrl-C or SIGTERM.

Flags:
  --config-dir DIR          Directory of Istio/Kubernetes YAML (watched; invalid files are rejected and the
                            last good config stays). Required.
  --state-dir DIR           Where the CA keeps its keys and certificates (created if missing). Required.
  --listen ADDR             Address every port binds to (default 127.0.0.1).
  --xds-port N              xDS, plaintext (default ${Ports.xdsPlaintext}; 0 picks a free port).
  --xds-tls-port N          xDS and the CA's CSR service over TLS (default ${Ports.xdsTls}; 0 picks a free port).
  --monitoring-port N       Prometheus /metrics and /debug/* (default ${Ports.monitoring}; 0 picks a free port).
  --debounce-quiet DUR      Wait this long after the last config change before pushing (default 100ms).
  --debounce-max DUR        Never delay a push longer than this (default 10s).
  --mesh-config FILE        Istio MeshConfig YAML (trustDomain, rootNamespace, outboundTrafficPolicy …).
  --domain-suffix SUFFIX    DNS suffix of service hosts (default cluster.local).
  -h, --help                Show this help.

Exit codes: 0 clean shutdown, 1 invalid config at start-up, 2 usage or I/O error.
`;

interface UpOptions {
  configDir: string;
  stateDir: string;
  listen: string;
  xdsPort: number;
  xdsTlsPort: number;
  monitoringPort: number;
  debounceQuietMs: number;
  debounceMaxMs: number;
  meshConfig: string | undefined;
  domainSuffix: string;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * An xDS port in use, in the words of the monitoring port's message (the flag to change, how to find the holder)
 * instead of gRPC's "No address added out of total 1 resolved errors: [...]". Other errors: undefined.
 */
export function xdsPortInUse(e: unknown, o: Pick<UpOptions, 'xdsPort' | 'xdsTlsPort'>): WeftError | undefined {
  if (!(e instanceof WeftError) || e.code !== 'WEFT_ERR_IO' || !e.message.includes('EADDRINUSE')) return undefined;
  const m = /^cannot listen on (\S+):(\d+): /.exec(e.message);
  if (!m) return undefined;
  const port = Number(m[2]);
  const which = port === o.xdsPort ? { flag: '--xds-port', what: 'xDS, plaintext' } : port === o.xdsTlsPort ? { flag: '--xds-tls-port', what: 'xDS + CA, TLS' } : undefined;
  if (which === undefined) return undefined;
  return new WeftError(
    'WEFT_ERR_IO',
    `cannot listen on ${m[1]}:${port} (${which.what}): the port is in use (EADDRINUSE) — another control plane ('weft up', 'weft demo') or program holds it (find it with: ss -ltnp 'sport = :${port}'); stop it or pick another ${which.flag} (0 picks a free port)`,
    { cause: e },
  );
}

function port(flag: string, v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new UsageError(`${flag} must be a port number 0-65535, not "${v}"`);
  return n;
}

function duration(flag: string, v: string): number {
  const ms = parseDurationMillis(v);
  if (ms === undefined) throw new UsageError(`${flag} must be a duration such as 100ms or 10s, not "${v}"`);
  return ms;
}

export function parseUpArgs(args: readonly string[]): UpOptions | 'help' {
  const o: Partial<UpOptions> = {};
  const help = walkFlags(args, (flag, value, a) => {
    switch (flag) {
      case '--config-dir': o.configDir = value(); break;
      case '--state-dir': o.stateDir = value(); break;
      case '--listen': o.listen = value(); break;
      case '--xds-port': o.xdsPort = port(flag, value()); break;
      case '--xds-tls-port': o.xdsTlsPort = port(flag, value()); break;
      case '--monitoring-port': o.monitoringPort = port(flag, value()); break;
      case '--debounce-quiet': o.debounceQuietMs = duration(flag, value()); break;
      case '--debounce-max': o.debounceMaxMs = duration(flag, value()); break;
      case '--mesh-config': o.meshConfig = value(); break;
      case '--domain-suffix': o.domainSuffix = value(); break;
      default:
        throw new UsageError(a.startsWith('-') ? `unknown flag ${a}; run 'weft up --help'` : `unexpected argument "${a}"; run 'weft up --help'`);
    }
  });
  if (help) return 'help';
  if (o.configDir === undefined) throw new UsageError('--config-dir is required: the directory of Istio YAML to serve');
  const stateDir = o.stateDir ?? readEnv().stateDir;
  if (stateDir === undefined) throw new UsageError('--state-dir is required (or set WEFT_STATE_DIR): where the CA keeps its keys');
  const quiet = o.debounceQuietMs ?? 100;
  const max = o.debounceMaxMs ?? 10_000;
  const cfg = resolve(o.configDir);
  const st = resolve(stateDir);
  if (st === cfg || st.startsWith(cfg + sep)) throw new UsageError(`--state-dir (${stateDir}) must not be inside --config-dir (${o.configDir}): the CA's files would be read as config`);
  if (max < quiet) throw new UsageError(`--debounce-max (${max} ms) must not be shorter than --debounce-quiet (${quiet} ms)`);
  return {
    configDir: o.configDir,
    stateDir,
    listen: o.listen ?? '127.0.0.1',
    xdsPort: o.xdsPort ?? Ports.xdsPlaintext,
    xdsTlsPort: o.xdsTlsPort ?? Ports.xdsTls,
    monitoringPort: o.monitoringPort ?? Ports.monitoring,
    debounceQuietMs: quiet,
    debounceMaxMs: max,
    meshConfig: o.meshConfig,
    domainSuffix: o.domainSuffix ?? 'cluster.local',
  };
}

const levels = { debug: 0, info: 1, warn: 2 } as const;

function displayHost(h: string): string {
  return h.includes(':') ? `[${h}]` : h;
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const o = parseUpArgs(args);
  if (o === 'help') {
    io.out(HELP);
    return ExitCode.ok;
  }
  const env = readEnv();
  const min = levels[env.logLevel as keyof typeof levels] ?? levels.info;
  const log: Log = (level, message) => {
    if (levels[level] >= min) io.err(`${new Date().toISOString()} ${level} ${message}\n`);
  };
  const mesh = o.meshConfig ? await loadMeshConfig(o.meshConfig) : { mesh: {}, warnings: [] };
  for (const w of mesh.warnings) log('warn', w);
  await mkdir(o.stateDir, { recursive: true, mode: 0o700 });
  const ca = await startCaForControlPlane({ stateDir: o.stateDir, trustDomain: mesh.mesh.trustDomain ?? 'cluster.local', log: (line) => log('info', line) });
  let cp;
  try {
    cp = await startControlPlane({
      configDir: o.configDir,
      listen: o.listen,
      xdsPort: o.xdsPort,
      xdsTlsPort: o.xdsTlsPort,
      monitoringPort: o.monitoringPort,
      debounceQuietMs: o.debounceQuietMs,
      debounceMaxMs: o.debounceMaxMs,
      mesh: mesh.mesh,
      domainSuffix: o.domainSuffix,
      generate: generateForServer,
      cacheKey: proxyCacheKey,
      ca: {
        register: (s) => ca.register(s),
        tlsServerCredentials: () => ca.tlsServerCredentials(),
        peerIdentity: (call) => {
          const id = ca.peerIdentity(call);
          return id === undefined ? undefined : formatSpiffeId(id);
        },
        close: () => ca.close(),
      },
      log,
    });
  } catch (e) {
    await ca.close();
    throw xdsPortInUse(e, o) ?? e;
  }
  const host = displayHost(cp.listen);
  const snapshot = cp.pipeline.snapshot;
  io.out(`weft: config: ${o.configDir} (${plural(snapshot.configs.length, 'resource')}, ${plural(snapshot.services.length, 'service')})\n`);
  io.out(`weft: xDS (plaintext) listening on ${host}:${cp.xdsPort}\n`);
  io.out(`weft: xDS + CA (TLS) listening on ${host}:${cp.xdsTlsPort ?? ''}\n`);
  io.out(`weft: monitoring listening on http://${host}:${cp.monitoringPort} (/metrics, /debug/syncz, /debug/config_dump)\n`);
  // The handlers are in place before the ready line: a supervisor that signals as soon as it reads it (a test, a
  // script) gets the orderly shutdown, not Node's default of dying on the signal.
  const stopped = new Promise<string>((resolve) => {
    const on = (s: string) => () => resolve(s);
    process.once('SIGTERM', on('SIGTERM'));
    process.once('SIGINT', on('SIGINT'));
  });
  io.out('weft control plane ready\n');
  const signal = await stopped;
  io.out(`weft: ${signal}: shutting down\n`);
  await cp.close();
  await ca.close();
  io.out('weft: stopped\n');
  return ExitCode.ok;
}
