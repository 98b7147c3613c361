// `weft proxy-config secret PROXY`: the certificates a proxy serves with, read from the proxy itself. The control
// plane never sees a workload's certificate (the key and the CSR stay in the workload), so the data comes from the
// proxy's admin port (/config_dump, Envoy's SecretsConfigDump section), as istioctl reads it from Envoy's admin API.
// Rows as istioctl prints them: `default` (the workload's leaf) and one `ROOTCA` row per trusted root.
import { WeftError, UsageError } from '../../core/errors.ts';
import { secretSummaries, formatSecretTable, type SecretSummary } from '../../agent/identity/describe.ts';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Default proxy admin address (Istio's 15000, localhost only). */
export const defaultAdminAddress = '127.0.0.1:15000';

/** Removes `--admin-address HOST:PORT` (or `=`) from args; returns the address and the other args. */
export function takeAdminAddress(args: readonly string[]): { adminAddress: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let adminAddress: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--admin-address') {
      adminAddress = args[++i];
      if (adminAddress === undefined) throw new UsageError('flag --admin-address needs a value (HOST:PORT of the proxy admin port)');
    } else if (a.startsWith('--admin-address=')) adminAddress = a.slice('--admin-address='.length);
    else rest.push(a);
  }
  return { adminAddress, rest };
}

/** GET the proxy's /config_dump. Unreachable or non-2xx → WeftError saying what to do. */
export async function fetchProxyConfigDump(adminAddress: string): Promise<Json> {
  let res: Response;
  try {
    res = await fetch(`http://${adminAddress}/config_dump`, { signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    const why = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
    throw new WeftError('WEFT_ERR_UNAVAILABLE', `cannot reach the proxy admin port at ${adminAddress}: ${why}; pass the proxy's admin address (--admin-address HOST:PORT; 'weft proxy' prints it at start-up)`, { cause: e });
  }
  const body = await res.text();
  if (!res.ok) throw new WeftError('WEFT_ERR_UNAVAILABLE', `proxy admin at ${adminAddress} answered ${res.status} for /config_dump: ${body.trim()}`);
  return obj(JSON.parse(body) as unknown);
}

/** The node id in the dump's bootstrap section. */
export function dumpNodeId(dump: Json): string {
  const boot = arr(dump['configs']).map(obj).find((c) => str(c['@type']).endsWith('BootstrapConfigDump'));
  return str(obj(obj(obj(boot)['bootstrap'])['node'])['id']);
}

/**
 * Whether PROXY (a node id, or name.namespace as `weft proxy-status` prints it) names the proxy with this node id
 * (`sidecar~IP~NAME.NAMESPACE~NAMESPACE.svc.cluster.local`).
 */
export function proxyMatches(proxy: string, nodeId: string): boolean {
  return proxy === nodeId || nodeId.split('~')[2] === proxy;
}

/** The SecretsConfigDump section of a proxy's config dump. */
export function secretsSection(dump: Json): Json {
  return arr(dump['configs']).map(obj).find((c) => str(c['@type']).endsWith('SecretsConfigDump')) ?? {};
}

/** istioctl's rows from a SecretsConfigDump: PEMs from inline_bytes (base64), as Envoy reports them. */
export function secretRows(section: Json, nowMs: number = Date.now()): SecretSummary[] {
  let certChainPem = '';
  let rootsPem = '';
  for (const entry of arr(section['dynamic_active_secrets'])) {
    const secret = obj(obj(entry)['secret']);
    const chain = str(obj(obj(secret['tls_certificate'])['certificate_chain'])['inline_bytes']);
    const roots = str(obj(obj(secret['validation_context'])['trusted_ca'])['inline_bytes']);
    if (chain) certChainPem += Buffer.from(chain, 'base64').toString('utf8');
    if (roots) rootsPem += Buffer.from(roots, 'base64').toString('utf8');
  }
  return secretSummaries({ certChainPem, rootsPem }, nowMs);
}

/** Runs `weft proxy-config secret PROXY`; returns the text to print. */
export async function proxyConfigSecret(proxy: string, adminAddress: string | undefined, output: 'table' | 'json'): Promise<string> {
  const address = adminAddress ?? defaultAdminAddress;
  const dump = await fetchProxyConfigDump(address);
  const id = dumpNodeId(dump);
  if (!proxyMatches(proxy, id)) {
    throw new WeftError('WEFT_ERR_NOT_FOUND', `the proxy at ${address} is ${id || 'unnamed'}, not ${proxy}; pass the admin address of ${proxy} (--admin-address HOST:PORT)`);
  }
  const section = secretsSection(dump);
  if (output === 'json') return JSON.stringify(section, null, 2) + '\n';
  const rows = secretRows(section);
  if (rows.length === 0) return `${proxy} has no workload certificate (started without --ca-address, or still waiting for the CA)\n`;
  return formatSecretTable(rows) + '\n' + secretDetails(rows);
}

/** Below istioctl's table: the leaf's SPIFFE id and each root's SHA-256 fingerprint (compare with `weft ca root`). */
export function secretDetails(rows: readonly SecretSummary[]): string {
  return rows
    .map((r) => (r.resourceName === 'default' ? `default   identity ${r.uris.join(', ') || '(no URI SAN)'}` : `ROOTCA    root ${r.subject}   SHA256 ${r.sha256Fingerprint}`))
    .join('\n') + '\n';
}
