// `weft demo`: Istio's Bookinfo on this machine in one command — control plane, six workloads with sidecars,
// an ingress gateway — then one line `weft demo ready: <url>` and what to try next. Ctrl-C or SIGTERM stops every
// process it started. Exit codes: 0 stopped by a signal, 1 a process of the demo died, 2 usage error or the demo
// could not start (a port in use, a process that did not become ready).
import { tmpdir, userInfo } from 'node:os';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { ExitCode, UsageError, WeftError } from '../../core/errors.ts';
import { readEnv } from '../../core/env.ts';
import { parseDurationMillis } from '../../config/api/validation/common/duration.ts';
import { samplePath } from '../../runner/demo/config.ts';
import { startDemo } from '../../runner/demo/demo.ts';
import { parseCollector, type TracingCollector } from '../../runner/demo/tracing.ts';
import type { CliIo } from '../io.ts';

export const summary = "Run Istio's Bookinfo sample on this machine: control plane, six workloads with sidecars, ingress gateway";

const HELP = `Usage: weft demo [--ingress-port 8080] [--state-dir DIR] [--ready-timeout 60s] [--tracing-collector HOST:PORT [--tracing-protocol P]]

Start Istio's Bookinfo sample on this machine, no Kubernetes and no root needed: the control plane ('weft up'),
productpage, details, ratings and reviews v1/v2/v3, each beside its sidecar ('weft run'), and an ingress gateway
configured by Istio's bookinfo-gateway.yaml. When everything answers it prints

  weft demo ready: http://127.0.0.1:8080/productpage

and the commands to try next. While it runs, 'weft apply -f <Istio networking file> --config-dir <its config dir>'
changes what /productpage shows. Ctrl-C (or SIGTERM) stops every process it started.

Flags:
  --ingress-port N        Port of the ingress gateway on 127.0.0.1 (default 8080).
  --state-dir DIR         Config dir (DIR/config, reset at every start), CA keys (DIR/controlplane) and logs
                          (DIR/logs) (default $WEFT_STATE_DIR/demo, else ${join(tmpdir(), 'weft-demo-<uid>')}).
  --ready-timeout DUR     Give up when a process is not ready within this time (default 60s).
  --tracing-collector HOST:PORT
                          Trace every request (Telemetry, 100% sampling) and export the spans to this collector,
                          e.g. an OpenTelemetry collector or Jaeger on 127.0.0.1:4318. See docs/tracing.md.
  --tracing-protocol P    otlp-http (default: POST /v1/traces), otlp-grpc or zipkin (POST /api/v2/spans).
  -h, --help              Show this help.

Exit codes: 0 stopped by Ctrl-C/SIGTERM, 1 a process of the demo exited on its own (the rest are stopped),
2 usage error or the demo could not start.
`;

interface DemoArgs {
  ingressPort: number;
  stateDir: string;
  readyTimeoutMs: number;
  tracing: TracingCollector | undefined;
}

export function parseDemoArgs(args: readonly string[], cwd: string): DemoArgs | 'help' {
  let ingressPort = 8080;
  let stateDir: string | undefined;
  let readyTimeoutMs = 60_000;
  let collector: string | undefined;
  let protocol = 'otlp-http';
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '-h' || a === '--help') return 'help';
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const value = (): string => {
      if (eq > 0) return a.slice(eq + 1);
      const v = args[++i];
      if (v === undefined) throw new UsageError(`flag ${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--ingress-port': {
        const v = value();
        ingressPort = Number(v);
        if (!/^\d+$/.test(v) || ingressPort < 1 || ingressPort > 65535) throw new UsageError(`--ingress-port must be a port number 1-65535, not "${v}"`);
        break;
      }
      case '--state-dir':
        stateDir = value();
        break;
      case '--ready-timeout': {
        const v = value();
        const ms = parseDurationMillis(v);
        if (ms === undefined) throw new UsageError(`--ready-timeout must be a duration such as 30s, not "${v}"`);
        readyTimeoutMs = ms;
        break;
      }
      case '--tracing-collector':
        collector = value();
        break;
      case '--tracing-protocol':
        protocol = value();
        break;
      default:
        throw new UsageError(a.startsWith('-') ? `unknown flag ${a}; run 'weft demo --help'` : `unexpected argument "${a}"; run 'weft demo --help'`);
    }
  }
  const env = readEnv();
  const dir = stateDir ?? (env.stateDir !== undefined ? join(env.stateDir, 'demo') : join(tmpdir(), `weft-demo-${userInfo().uid}`));
  const tracing = collector === undefined ? undefined : parseCollector(collector, protocol);
  return { ingressPort, stateDir: resolve(cwd, dir), readyTimeoutMs, tracing };
}

/** A path as the user can type it from where they are: relative when under the working directory. */
function shown(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/**
 * How the user can type `weft` again: `npx weft` when npx started it (its bin link lives in a node_modules/.bin,
 * which is not on the shell's PATH), `weft` when it was started as such (npm link, a global install), else
 * `node <path>`.
 */
export function weftCommand(argv1: string | undefined, cwd: string): string {
  if (argv1 === undefined) return 'weft';
  if (basename(argv1) === 'weft') return /[/\\]node_modules[/\\]\.bin[/\\]weft$/.test(argv1) ? 'npx weft' : 'weft';
  return `node ${shown(argv1, cwd)}`;
}

export function nextSteps(url: string, configDir: string, monitoring: string, logDir: string, cwd: string, weft = 'weft'): string {
  const cfg = shown(configDir, cwd);
  const apply = (file: string): string => `${weft} apply -f ${shown(samplePath(file), cwd)} --config-dir ${cfg}`;
  const mon = monitoring === '127.0.0.1:15014' ? '' : ` --monitoring-address ${monitoring}`;
  return [
    `  Open ${url} (sign in as jason to see per-user routing). Then try Istio's traffic-management tasks:`,
    `    all traffic to v1 (no stars):       ${apply('virtual-service-all-v1.yaml')}`,
    `    jason → v2 (black), others v3:      ${apply('virtual-service-reviews-jason-v2-v3.yaml')}`,
    `    50% v1 / 50% v3 (red stars):        ${apply('virtual-service-reviews-50-v3.yaml')}`,
    `    jason → v2, then abort ratings:     ${apply('virtual-service-reviews-test-v2.yaml')}`,
    `                                        ${apply('virtual-service-ratings-test-abort.yaml')}`,
    `  Proxies and their sync state:         ${weft} proxy-status${mon}`,
    `  A proxy's routes:                     ${weft} proxy-config route productpage-v1.default${mon}`,
    `  Logs of every process: ${shown(logDir, cwd)}    Stop: Ctrl-C`,
  ].join('\n');
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const o = parseDemoArgs(args, io.cwd);
  if (o === 'help') {
    io.out(HELP);
    return ExitCode.ok;
  }
  // Signals that arrive while starting stop the start-up too.
  let signalled: NodeJS.Signals | undefined;
  const abort = new AbortController();
  let wake: () => void = () => undefined;
  const signalledP = new Promise<void>((r) => (wake = r));
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled !== undefined) return;
    signalled = sig;
    abort.abort();
    wake();
  };
  const onInt = (): void => onSignal('SIGINT');
  const onTerm = (): void => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const starting = startDemo({ stateDir: o.stateDir, ingressPort: o.ingressPort, readyTimeoutMs: o.readyTimeoutMs, tracing: o.tracing, progress: (l) => io.err(`${l}\n`), abort: abort.signal });
    const first = await Promise.race([starting.then(() => 'started' as const, () => 'failed' as const), signalledP.then(() => 'signal' as const)]);
    if (first !== 'started') {
      // On a signal the start-up is aborted (or finishes first); either way what it started is stopped.
      const demo = await starting.catch((e: unknown) => e);
      if (demo instanceof Error) {
        if (signalled !== undefined) {
          io.err(`weft demo: ${signalled}: start-up interrupted; every process it started is stopped\n`);
          return ExitCode.ok;
        }
        if (demo instanceof WeftError) {
          io.err(`weft demo: ${demo.message}\n`);
          return ExitCode.usage;
        }
        throw demo;
      }
      await (demo as Awaited<typeof starting>).stop();
      io.err(`weft demo: ${signalled ?? 'signal'}: stopped\n`);
      return ExitCode.ok;
    }
    const demo = await starting;
    io.out(`weft demo ready: ${demo.url}\n`);
    if (o.tracing) io.out(`  Tracing: every request's spans go to ${o.tracing.host}:${o.tracing.port} (${o.tracing.protocol}); one /productpage request is one trace.\n`);
    io.out(`${nextSteps(demo.url, demo.configDir, demo.controlPlane.monitoringAddress, demo.logDir, io.cwd, weftCommand(process.argv[1], io.cwd))}\n`);
    const outcome = await Promise.race([signalledP.then(() => undefined), demo.unexpectedExit]);
    if (outcome !== undefined) {
      io.err(`weft demo: ${outcome}\nweft demo: stopping everything (nothing is restarted)\n`);
      await demo.stop();
      return 1;
    }
    io.err(`weft demo: ${signalled}: stopping every process\n`);
    await demo.stop();
    io.err('weft demo: stopped\n');
    return ExitCode.ok;
  } finally {
    process.removeListener('SIGINT', onInt);
    process.removeListener('SIGTERM', onTerm);
  }
}
