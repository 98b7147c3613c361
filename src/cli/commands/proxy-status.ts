// `weft proxy-status`: the sync state of every proxy connected to the control plane, as istioctl shows it:
// per type SYNCED (acked the last push), STALE (pushed, not yet acked), NOT SENT, or NACKED with the proxy's error.
// Read from the control plane's /debug/syncz. Exit codes: 0 shown, 2 usage error or control plane unreachable.
import { ExitCode, UsageError, WeftError } from '../../core/errors.ts';
import { parseNodeId, proxyShortName } from '../../core/names/node-id.ts';
import type { CliIo } from '../io.ts';
import { walkFlags } from '../flags.ts';

export const summary = 'Show whether each proxy has the latest config from the control plane (CDS/LDS/EDS/RDS)';

const HELP = `Usage: weft proxy-status [--monitoring-address HOST:PORT] [-o table|json]

List the proxies connected to the control plane and, per xDS type, whether each one has acknowledged the latest
config: SYNCED, STALE (sent, not acknowledged yet), NOT SENT, or NACKED (rejected; the proxy keeps its last good
config and the error is printed below the table).

Flags:
  --monitoring-address HOST:PORT   The control plane's monitoring port (default 127.0.0.1:15014).
  -o, --output FORMAT              table (default) or json (the raw /debug/syncz).
  -h, --help                       Show this help.

Exit codes: 0 shown, 2 usage error or control plane unreachable.
`;

/** Flags shared by proxy-status and proxy-config. */
export interface CommonFlags {
  monitoringAddress: string;
  output: 'table' | 'json';
  positional: string[];
}

/** Parse `--monitoring-address`, `-o`, and positional arguments. Returns 'help' for -h. */
export function parseCommonFlags(args: readonly string[], verb: string): CommonFlags | 'help' {
  const out: CommonFlags = { monitoringAddress: '127.0.0.1:15014', output: 'table', positional: [] };
  const help = walkFlags(args, (flag, value, a) => {
    switch (flag) {
      case '--monitoring-address':
        out.monitoringAddress = value();
        break;
      case '-o':
      case '--output': {
        const v = value();
        if (v !== 'table' && v !== 'json') throw new UsageError(`unsupported output format "${v}": use table or json`);
        out.output = v;
        break;
      }
      default:
        if (a.startsWith('-')) throw new UsageError(`unknown flag ${a}; run 'weft ${verb} --help'`);
        out.positional.push(a);
    }
  });
  if (help) return 'help';
  return out;
}

/** GET a JSON document from the monitoring port. Unreachable or non-2xx → WeftError with what to do. */
export async function fetchDebug(address: string, path: string): Promise<unknown> {
  const url = `http://${address}${path}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    throw new WeftError('WEFT_ERR_UNAVAILABLE', `cannot reach the control plane at ${address}: ${e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e)}; is 'weft up' running? (set --monitoring-address)`, { cause: e });
  }
  const body = await res.text();
  if (res.status === 404) {
    let message = body.trim();
    try {
      message = String((JSON.parse(body) as { error?: unknown }).error ?? message);
    } catch {
      // plain-text 404
    }
    throw new WeftError('WEFT_ERR_NOT_FOUND', message);
  }
  if (!res.ok) throw new WeftError('WEFT_ERR_UNAVAILABLE', `control plane at ${address} answered ${res.status} for ${path}: ${body.trim()}`);
  return JSON.parse(body) as unknown;
}

/** Left-aligned columns separated by three spaces, as istioctl's tab writer prints them. */
export function renderTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

interface TypeSync {
  status: string;
  error?: string;
}
interface SyncEntry {
  proxy: string;
  cluster_id: string;
  proxy_version: string;
  control_plane?: string;
  cds: TypeSync;
  lds: TypeSync;
  eds: TypeSync;
  rds: TypeSync;
}

/** `name.namespace` for Istio node ids, the raw id otherwise (proxyless clients). */
export function displayName(nodeId: string): string {
  const n = parseNodeId(nodeId);
  return n.ok ? proxyShortName(n.value) : nodeId;
}

export function renderProxyStatus(entries: readonly SyncEntry[]): string {
  if (entries.length === 0) return 'No proxies are connected to the control plane.\n';
  const sorted = [...entries].sort((a, b) => displayName(a.proxy).localeCompare(displayName(b.proxy)));
  const rows = sorted.map((e) => [displayName(e.proxy), e.cluster_id, e.cds.status, e.lds.status, e.eds.status, e.rds.status, e.control_plane ?? '', e.proxy_version]);
  let out = renderTable(['NAME', 'CLUSTER', 'CDS', 'LDS', 'EDS', 'RDS', 'ISTIOD', 'VERSION'], rows);
  const errors: string[] = [];
  for (const e of sorted) {
    for (const [t, s] of [['CDS', e.cds], ['LDS', e.lds], ['EDS', e.eds], ['RDS', e.rds]] as const) {
      if (s.status === 'NACKED') errors.push(`${displayName(e.proxy)} rejected ${t}: ${s.error ?? '(no message)'}`);
    }
  }
  if (errors.length > 0) out += `\nNACKED (the proxy keeps its last good config):\n${errors.map((l) => `  ${l}`).join('\n')}\n`;
  return out;
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const flags = parseCommonFlags(args, 'proxy-status');
  if (flags === 'help') {
    io.out(HELP);
    return ExitCode.ok;
  }
  if (flags.positional.length > 0) throw new UsageError(`unexpected argument "${flags.positional[0]}"; proxy-status lists every proxy`);
  const body = await fetchDebug(flags.monitoringAddress, '/debug/syncz');
  if (flags.output === 'json') io.out(JSON.stringify(body, null, 2) + '\n');
  else io.out(renderProxyStatus(body as SyncEntry[]));
  return ExitCode.ok;
}
