// The proxyless client of the interop test, run as its own process: @grpc/grpc-js-xds (a real third-party xDS
// client, state of the world) with GRPC_XDS_BOOTSTRAP pointing at Weft. It reads JSON commands from stdin, one per
// line, makes the calls and answers one JSON line per command:
//   {"id":1,"target":"xds:///host:port","calls":500,"metadata":{"x-user":"tester"},"untilBackend":"v2","timeoutMs":5000}
//   → {"id":1,"backends":{"v1":400,"v2":100},"errors":{"UNAVAILABLE":3},"elapsedMs":812}
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { createInterface } from 'node:readline';
import { echoPackage } from './echo.ts';

grpcXds.register();
const Echo = echoPackage().Echo;
const clients = new Map<string, InstanceType<typeof Echo>>();

interface Command {
  id: number;
  target: string;
  calls: number;
  metadata?: Record<string, string>;
  /** Stop as soon as a call is answered by this backend (for "takes effect within" measurements). */
  untilBackend?: string;
  timeoutMs?: number;
  /** Calls in flight at once (default 1). */
  concurrency?: number;
}

function client(target: string): InstanceType<typeof Echo> {
  let c = clients.get(target);
  if (!c) {
    c = new Echo(target, grpc.credentials.createInsecure());
    clients.set(target, c);
  }
  return c;
}

function call(c: InstanceType<typeof Echo>, md: grpc.Metadata, timeoutMs: number): Promise<{ backend?: string; code?: string }> {
  return new Promise((resolve) => {
    c.Call({ payload: 'hi' }, md, { deadline: Date.now() + timeoutMs }, (e, r) => {
      if (e) resolve({ code: grpc.status[e.code] ?? String(e.code) });
      else resolve({ backend: r?.backend ?? '?' });
    });
  });
}

async function runCommand(cmd: Command): Promise<Record<string, unknown>> {
  const c = client(cmd.target);
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(cmd.metadata ?? {})) md.set(k, v);
  const backends: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const t0 = Date.now();
  const timeoutMs = cmd.timeoutMs ?? 10_000;
  let started = 0;
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop && started < cmd.calls && Date.now() - t0 < timeoutMs) {
      started++;
      const r = await call(c, md, timeoutMs);
      if (r.backend !== undefined) backends[r.backend] = (backends[r.backend] ?? 0) + 1;
      else errors[r.code ?? '?'] = (errors[r.code ?? '?'] ?? 0) + 1;
      if (cmd.untilBackend !== undefined && r.backend === cmd.untilBackend) stop = true;
    }
  };
  // Sequential unless asked otherwise: `untilBackend` and the flaky backend's alternation need one call at a time.
  await Promise.all(Array.from({ length: Math.max(1, cmd.concurrency ?? 1) }, worker));
  return { id: cmd.id, backends, errors, elapsedMs: Date.now() - t0 };
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line.trim() === '') return;
  const cmd = JSON.parse(line) as Command;
  runCommand(cmd).then(
    (r) => process.stdout.write(JSON.stringify(r) + '\n'),
    (e: unknown) => process.stdout.write(JSON.stringify({ id: cmd.id, fatal: String(e) }) + '\n'),
  );
});
rl.on('close', () => {
  for (const c of clients.values()) c.close();
  process.exit(0);
});
process.stdout.write(JSON.stringify({ ready: true }) + '\n');
