// Command line of the Bookinfo sample: `node src/samples/bookinfo/main.ts SERVICE [flags]` runs one service in the
// foreground, as `weft run -- …` and `weft demo` start it. It logs one line per request on stdout, and on SIGTERM or
// SIGINT stops accepting, lets in-flight requests finish (up to --drain), and exits 0.
// Exit codes: 0 clean shutdown, 2 bad flags or environment, or the port could not be bound.
import { parseArgs } from 'node:util';
import { readEnv } from '../../core/env.ts';
import { BOOKINFO_PORT, BOOKINFO_SERVICES, SpecError, startService } from './launch.ts';
import type { BookinfoService } from './launch.ts';
import type { RunningApp } from './shared/server.ts';

const USAGE = `Usage: node src/samples/bookinfo/main.ts productpage|details|reviews|ratings [flags]

Runs one service of Istio's Bookinfo sample.

Flags:
  --port N              Listen port (default ${BOOKINFO_PORT}; 0 picks a free one).
  --address ADDR        Listen address (default 0.0.0.0).
  --version V           reviews: v1 (no stars), v2 (black stars), v3 (red stars); ratings: v1, v-faulty,
                        v-delayed, v-unavailable, v-unhealthy; details: v1, v2 (asks the Google Books API).
                        Default $SERVICE_VERSION, else v1.
  --details HOST:PORT   Where productpage finds details (default $DETAILS_HOSTNAME[.$SERVICES_DOMAIN]:$DETAILS_SERVICE_PORT,
  --reviews HOST:PORT   i.e. details:9080; likewise reviews and ratings).
  --ratings HOST:PORT
  --book-service URL    details v2: the volumes endpoint (default http://www.googleapis.com/books/v1/volumes).
  --drain SECONDS       On SIGTERM, how long in-flight requests may take before connections are closed (default 10).
  -h, --help            Show this help.

Outbound calls go through $HTTP_PROXY (explicit mode, set by weft run) unless the host is in $NO_PROXY.
Exit codes: 0 clean shutdown, 2 bad flags or environment, or the port could not be bound.
`;

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

function fail(message: string): number {
  process.stderr.write(`bookinfo: ${message}\n`);
  return 2;
}

function portFlag(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) > 65535) throw new SpecError(`${flag} must be a port number 0-65535, not "${v}"`);
  return Number(v);
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        port: { type: 'string' },
        address: { type: 'string' },
        version: { type: 'string' },
        details: { type: 'string' },
        reviews: { type: 'string' },
        ratings: { type: 'string' },
        drain: { type: 'string' },
        'book-service': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return fail(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  const service = positionals[0];
  if (positionals.length !== 1 || !(BOOKINFO_SERVICES as readonly string[]).includes(service ?? '')) {
    return fail(`name one service: ${BOOKINFO_SERVICES.join(', ')}\n${USAGE}`);
  }
  const drainSeconds = Number(values.drain ?? '10');
  if (!Number.isFinite(drainSeconds) || drainSeconds < 0) return fail(`--drain must be a number of seconds, not "${values.drain ?? ''}"`);

  // Listen for the stop signal before binding, so that a SIGTERM during start-up still ends in a clean exit.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const env = readEnv();
  let running: RunningApp;
  try {
    const backends: Partial<Record<'details' | 'reviews' | 'ratings', string>> = {};
    if (values.details !== undefined) backends.details = values.details;
    if (values.reviews !== undefined) backends.reviews = values.reviews;
    if (values.ratings !== undefined) backends.ratings = values.ratings;
    running = await startService({
      service: service as BookinfoService,
      ...(values.version !== undefined ? { version: values.version } : {}),
      ...(values['book-service'] !== undefined ? { bookService: values['book-service'] } : {}),
      port: portFlag(values.port, '--port') ?? BOOKINFO_PORT,
      host: values.address ?? '0.0.0.0',
      backends,
      env,
      log: out,
    });
  } catch (e) {
    if (e instanceof SpecError) return fail(e.message);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      return fail(`cannot listen on ${values.address ?? '0.0.0.0'}:${values.port ?? BOOKINFO_PORT} (${code}); pick another --port or --address`);
    }
    throw e;
  }
  const proxy = env.httpProxy !== undefined && env.httpProxy !== '' ? `via HTTP_PROXY ${env.httpProxy}${env.noProxy ? ` (NO_PROXY ${env.noProxy})` : ''}` : 'direct';
  out(`bookinfo ${service} listening on ${values.address ?? '0.0.0.0'}:${running.port}, outbound ${proxy}`);

  const signal = await stopSignal;
  out(`bookinfo ${service}: ${signal} received, finishing in-flight requests (up to ${drainSeconds}s)`);
  await running.stop(drainSeconds * 1000);
  out(`bookinfo ${service}: stopped`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
