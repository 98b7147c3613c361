// `weft authz check PROXY [request flags]`: the security policy in force at a proxy (mTLS mode, AuthorizationPolicies,
// RequestAuthentications) and which rule decides a described request. Policies come from the proxy's xDS when the
// control plane sent it security filters (--monitoring-address), otherwise from the config (--config-dir, or the
// control plane's /debug/configz) translated exactly as the discovery server does; the decision is computed by the
// proxy's own RBAC engine. Exit codes: 0 allowed, 1 denied, 2 usage error / unreadable config / unreachable.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadPaths } from '../../config/api/load.ts';
import type { Resource } from '../../config/api/resource.ts';
import { ExitCode, UsageError, WeftError } from '../../core/errors.ts';
import { parseNodeId } from '../../core/names/node-id.ts';
import { buildWorkloadSecurity, type ExtensionProvider, type WorkloadSecurity } from '../../discovery/translate/security/index.ts';
import { createRbacFilter, parseRbacConfig } from '../../proxy/filters/rbac/rbac-filter.ts';
import type { AuthzRequest, JwtInfo } from '../../proxy/filters/rbac/request.ts';
import { normalizePath, type PathNormalization } from '../../proxy/security/path-normalize.ts';
import { decodeAny, encodeAny } from '../../xds/protos.ts';
import type { CliIo } from '../io.ts';
import { fetchDebug, renderTable } from './proxy-status.ts';
import { DEFAULT_CONFIG_DIR, lastValue, parseFlags, type FlagSpec, type ParsedArgs } from './store-cli.ts';

export const summary = 'Show the authorization policies in force at a proxy and which rule decides a request';

const HELP = `Usage: weft authz check PROXY [flags]

Show the mTLS mode, AuthorizationPolicies and RequestAuthentications that apply to PROXY (name.namespace or a node
id) and evaluate a described request with the proxy's RBAC engine: which filter and which rule decide it.

Where the config comes from:
  --config-dir DIR                 Config directory (default ./mesh) — used unless --monitoring-address is given.
  --monitoring-address HOST:PORT   A running control plane (weft up; 15014): the proxy's xDS if it carries security
                                   filters, else the control plane's config.
  --mesh-config-file FILE          MeshConfig (trustDomain, trustDomainAliases, rootNamespace, extensionProviders).
  -l, --labels K=V[,K=V]           The workload's labels (default: from its Pod / WorkloadEntry / registry entry).

The request (defaults: GET / on port 80 from 127.0.0.1, plaintext, no JWT):
  --method M  --path P  --host H  --port N  --sni NAME
  --principal ID                   mTLS peer identity (cluster.local/ns/foo/sa/sleep or spiffe://…).
  --source-ip IP  --remote-ip IP   Peer address and original client address (X-Forwarded-For).
  --header K=V                     A request header (repeatable).
  --request-principal ISS/SUB      A verified JWT (its iss and sub); --claim K=V adds claims (repeatable;
                                   K=[a,b] for a list), --audience A sets aud.
  --path-normalization MODE        NONE, BASE (default), MERGE_SLASHES, DECODE_AND_MERGE_SLASHES.
  --tcp                            Evaluate a TCP connection (network RBAC) instead of an HTTP request.
  -o, --output FORMAT              text (default) or json.

Exit codes: 0 allowed, 1 denied, 2 usage error, unreadable config or control plane unreachable. A PROXY that
matches no workload (no Pod, WorkloadEntry or connected proxy) is evaluated without labels, with a note on stderr.
`;

const spec: FlagSpec = {
  values: {
    '--config-dir': 'config-dir', '--monitoring-address': 'monitoring', '--mesh-config-file': 'mesh', '--meshConfigFile': 'mesh',
    '-l': 'labels', '--labels': 'labels', '--method': 'method', '--path': 'path', '--host': 'host', '--port': 'port', '--sni': 'sni',
    '--principal': 'principal', '--source-ip': 'source-ip', '--remote-ip': 'remote-ip', '--header': 'header', '-H': 'header',
    '--request-principal': 'request-principal', '--claim': 'claim', '--audience': 'audience', '--path-normalization': 'normalization',
    '-o': 'output', '--output': 'output',
  },
  bools: { '-h': 'help', '--help': 'help', '--tcp': 'tcp' },
};

type Json = Record<string, unknown>;
const rec = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});

interface Mesh {
  trustDomain: string;
  trustDomainAliases: string[];
  rootNamespace: string;
  extensionProviders: ExtensionProvider[];
}

async function loadMesh(file: string | undefined, io: CliIo): Promise<Mesh> {
  const mesh: Mesh = { trustDomain: 'cluster.local', trustDomainAliases: [], rootNamespace: 'istio-system', extensionProviders: [] };
  if (!file) return mesh;
  let doc: Json;
  try {
    doc = rec(parseYaml(await readFile(resolve(io.cwd, file), 'utf8')));
  } catch (e) {
    throw new UsageError(`cannot read mesh config ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof doc['trustDomain'] === 'string') mesh.trustDomain = doc['trustDomain'];
  if (Array.isArray(doc['trustDomainAliases'])) mesh.trustDomainAliases = doc['trustDomainAliases'].map(String);
  if (typeof doc['rootNamespace'] === 'string') mesh.rootNamespace = doc['rootNamespace'];
  if (Array.isArray(doc['extensionProviders'])) mesh.extensionProviders = doc['extensionProviders'] as ExtensionProvider[];
  return mesh;
}

function keyValues(list: readonly string[], flag: string): Array<[string, string]> {
  return list.flatMap((s) => s.split(flag === 'labels' ? ',' : '\u0000')).filter((s) => s !== '').map((kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--${flag} expects KEY=VALUE, got "${kv}"`);
    return [kv.slice(0, eq), kv.slice(eq + 1)];
  });
}

/** The workload's identity: name.namespace or a node id; labels from flags, else from a Pod/WorkloadEntry/registry entry. */
function identity(proxy: string): { name: string; namespace: string } {
  if (proxy.includes('~')) {
    const n = parseNodeId(proxy);
    if (!n.ok) throw new UsageError(n.error);
    return { name: n.value.name, namespace: n.value.namespace };
  }
  const dot = proxy.lastIndexOf('.');
  if (dot <= 0) throw new UsageError(`PROXY must be name.namespace or a node id, got "${proxy}"`);
  return { name: proxy.slice(0, dot), namespace: proxy.slice(dot + 1) };
}

function labelsFromConfigs(configs: readonly Resource[], name: string, namespace: string): Record<string, string> | undefined {
  for (const r of configs) {
    if (r.metadata.name !== name || (r.metadata.namespace ?? 'default') !== namespace) continue;
    if (r.kind === 'Pod') return (r.metadata.labels ?? {}) as Record<string, string>;
    if (r.kind === 'WorkloadEntry') return (rec(r.spec)['labels'] ?? {}) as Record<string, string>;
  }
  return undefined;
}

/** Security filters found in the proxy's inbound listener (xDS as the control plane sent it), if any. */
function filtersFromDump(dump: unknown, port: number): { http: Json[]; tcp: Json[] } | undefined {
  for (const section of (rec(dump)['configs'] as unknown[] | undefined) ?? []) {
    for (const l of (rec(section)['dynamic_listeners'] as unknown[] | undefined) ?? []) {
      const listener = rec(rec(rec(l)['active_state'])['listener']);
      if (listener['name'] !== 'virtualInbound') continue;
      for (const fc of (listener['filter_chains'] as unknown[] | undefined) ?? []) {
        const chainPort = Number(rec(rec(rec(fc)['filter_chain_match'])['destination_port'])['value'] ?? -1);
        if (chainPort !== port) continue;
        const filters = ((rec(fc)['filters'] as unknown[] | undefined) ?? []).map(rec);
        const hcm = filters.find((f) => f['name'] === 'envoy.filters.network.http_connection_manager');
        const http = ((rec(hcm?.['typed_config'])['http_filters'] as unknown[] | undefined) ?? []).map(rec).filter((f) => /rbac|jwt_authn|ext_authz/.test(String(f['name'])));
        const tcp = filters.filter((f) => f['name'] === 'envoy.filters.network.rbac');
        if (http.length + tcp.length > 0) return { http, tcp };
      }
    }
  }
  return undefined;
}

interface Step {
  filter: string;
  action: string;
  result: 'allow' | 'deny' | 'log' | 'skipped' | 'ext_authz';
  matched: string;
}

function describeFilters(filters: readonly Json[], req: AuthzRequest): { steps: Step[]; allowed: boolean | 'custom'; status?: number; body?: string; decidedBy?: string } {
  const steps: Step[] = [];
  let shadowPolicy: string | undefined;
  for (const [i, f] of filters.entries()) {
    const name = String(f['name']);
    const tc = rec(f['typed_config']);
    const label = `${i + 1} ${name.replace(/^envoy\.filters\.(http|network)\./, '')}`;
    if (name.endsWith('jwt_authn')) {
      steps.push({ filter: label, action: '-', result: 'skipped', matched: req.jwt ? `JWT given: ${req.jwt.principal}` : 'no JWT given: passes (missing tokens are allowed)' });
      continue;
    }
    if (name.endsWith('ext_authz')) {
      if (shadowPolicy) {
        const target = rec(rec(tc['http_service'])['server_uri'])['cluster'] ?? rec(rec(tc['grpc_service'])['envoy_grpc'])['cluster_name'];
        steps.push({ filter: label, action: 'CUSTOM', result: 'ext_authz', matched: `sent to ${String(target)}` });
        return { steps, allowed: 'custom', decidedBy: shadowPolicy };
      }
      steps.push({ filter: label, action: 'CUSTOM', result: 'skipped', matched: 'no CUSTOM rule matched' });
      continue;
    }
    const d = createRbacFilter(parseRbacConfig(tc))(req);
    if (d.action === undefined) {
      shadowPolicy = d.shadow?.policy;
      steps.push({ filter: label, action: 'shadow', result: 'skipped', matched: d.shadow?.policy ?? '-' });
      continue;
    }
    const result = d.action === 'LOG' ? 'log' : d.allowed ? 'allow' : 'deny';
    steps.push({ filter: label, action: d.action, result, matched: d.policy ?? (d.action === 'ALLOW' && !d.allowed ? 'no ALLOW rule matched' : '-') });
    if (!d.allowed) return { steps, allowed: false, status: 403, body: 'RBAC: access denied', decidedBy: d.policy ?? 'no ALLOW rule matched' };
  }
  return { steps, allowed: true };
}

function wire(filters: readonly Json[]): Json[] {
  return filters.map((f) => {
    const tc = rec(f['typed_config']);
    return { name: f['name'], typed_config: decodeAny(encodeAny(String(tc['@type']), tc)) };
  });
}

/** Where the policies came from: the config (dir or control plane), and the proxy's xDS filters when it has them. */
interface Loaded {
  configs: Resource[];
  source: string;
  xdsFilters: { http: Json[]; tcp: Json[] } | undefined;
  registryLabels: Record<string, string> | undefined;
}

async function loadFromControlPlane(address: string, proxy: string, who: { name: string; namespace: string }, port: number): Promise<Loaded> {
  const configz = rec(await fetchDebug(address, '/debug/configz'));
  let xdsFilters: Loaded['xdsFilters'];
  try {
    xdsFilters = filtersFromDump(await fetchDebug(address, `/debug/config_dump?proxyID=${encodeURIComponent(proxy)}`), port);
  } catch (e) {
    if (!(e instanceof WeftError && e.code === 'WEFT_ERR_NOT_FOUND')) throw e; // not connected: use the config
  }
  let registryLabels: Record<string, string> | undefined;
  const registry = rec(await fetchDebug(address, '/debug/registryz'));
  for (const eps of Object.values(rec(registry['endpoints']))) {
    for (const ep of (eps as unknown[]) ?? []) {
      const e = rec(ep);
      if (e['workloadName'] === who.name && e['namespace'] === who.namespace) registryLabels = rec(e['labels']) as Record<string, string>;
    }
  }
  return { configs: ((configz['resources'] as unknown[] | undefined) ?? []) as Resource[], source: `control plane ${address}`, xdsFilters, registryLabels };
}

async function loadFromDir(dir: string, io: CliIo): Promise<Loaded> {
  const { results, ioErrors } = await loadPaths([dir], undefined, { cwd: io.cwd });
  const e = ioErrors[0];
  if (e !== undefined) {
    throw new UsageError(`the config directory ${e.file} cannot be read (${e.message}): pass --config-dir DIR, or --monitoring-address HOST:PORT to ask a running control plane`);
  }
  return { configs: results.filter((r) => r.valid).map((r) => r.resource), source: `config directory ${dir}`, xdsFilters: undefined, registryLabels: undefined };
}

/** The described JWT (--request-principal, --claim, --audience), as jwt_authn would hand it to RBAC. */
function describedJwt(p: ParsedArgs): JwtInfo | undefined {
  const rp = lastValue(p, 'request-principal');
  if (rp === undefined) {
    if (p.values['claim'] || p.values['audience']) throw new UsageError('--claim and --audience describe a JWT: give --request-principal ISS/SUB too');
    return undefined;
  }
  const slash = rp.lastIndexOf('/');
  if (slash <= 0) throw new UsageError('--request-principal must be ISS/SUB');
  const claims: Record<string, unknown> = { iss: rp.slice(0, slash), sub: rp.slice(slash + 1) };
  for (const [k, v] of keyValues(p.values['claim'] ?? [], 'claim')) claims[k] = v.startsWith('[') && v.endsWith(']') ? v.slice(1, -1).split(',').map((x) => x.trim()) : v;
  const audiences = p.values['audience'] ?? [];
  if (audiences.length > 0) claims['aud'] = audiences.length === 1 ? audiences[0] : audiences;
  return { principal: rp, claims, audiences, presenter: typeof claims['azp'] === 'string' ? claims['azp'] : '' };
}

/** The described request or connection, its path normalised as the proxy would. */
function describedRequest(p: ParsedArgs, who: { name: string; namespace: string }, port: number, tcp: boolean, normalization: PathNormalization): AuthzRequest {
  const jwt = describedJwt(p);
  const principal = lastValue(p, 'principal');
  const headers = keyValues(p.values['header'] ?? [], 'header').flatMap(([k, v]) => [k.toLowerCase(), v]);
  const http = tcp ? {} : { method: (lastValue(p, 'method') ?? 'GET').toUpperCase(), path: normalizePath(lastValue(p, 'path') ?? '/', normalization), host: lastValue(p, 'host') ?? `${who.name}.${who.namespace}:${port}`, headers };
  return {
    ...http,
    sourceIp: lastValue(p, 'source-ip') ?? '127.0.0.1',
    ...(lastValue(p, 'remote-ip') ? { remoteIp: lastValue(p, 'remote-ip')! } : {}),
    destinationPort: port,
    sni: lastValue(p, 'sni') ?? '',
    ...(principal ? { peerPrincipal: principal.startsWith('spiffe://') ? principal : `spiffe://${principal}` } : {}),
    ...(jwt ? { jwt } : {}),
  };
}

type Verdict = ReturnType<typeof describeFilters> & { strictPlaintext?: boolean };

interface Report {
  who: { name: string; namespace: string };
  labels: Record<string, string>;
  filterSource: string;
  sec: WorkloadSecurity;
  configs: readonly Resource[];
  port: number;
  tcp: boolean;
  rawPath: string;
  req: AuthzRequest;
  verdict: Verdict;
}

function renderJson(r: Report): string {
  const { sec, verdict } = r;
  return `${JSON.stringify({
    proxy: `${r.who.name}.${r.who.namespace}`, labels: r.labels, source: r.filterSource,
    mtls: { mode: sec.mtls.modeFor(r.port), default: sec.mtls.defaultMode, ports: Object.fromEntries(sec.mtls.ports), from: sec.mtls.from },
    authorizationPolicies: sec.authorizationPolicies, requestAuthentications: sec.requestAuthentications, notes: sec.notes,
    request: { ...r.req, rawPath: r.rawPath },
    steps: verdict.steps,
    decision: verdict.allowed === 'custom' ? 'CUSTOM' : verdict.allowed ? 'ALLOW' : 'DENY',
    ...(verdict.decidedBy ? { decidedBy: verdict.decidedBy } : {}),
  }, null, 2)}\n`;
}

function renderText(r: Report): string {
  const { sec, req, verdict, port } = r;
  const lines: string[] = [];
  const mtlsPorts = [...sec.mtls.ports].map(([pt, m]) => `port ${pt}: ${m}`);
  lines.push(`Proxy:     ${r.who.name}.${r.who.namespace} (labels: ${Object.entries(r.labels).map(([k, v]) => `${k}=${v}`).join(', ') || 'none'})`);
  lines.push(`Source:    ${r.filterSource}`);
  lines.push(`mTLS:      ${sec.mtls.modeFor(port)} on port ${port}${sec.mtls.from.length > 0 ? ` (from ${sec.mtls.from.join(' > ')})` : ' (mesh default)'}${mtlsPorts.length > 0 ? `; ${mtlsPorts.join(', ')}` : ''}`);
  const byName = new Map(r.configs.filter((c) => c.kind === 'AuthorizationPolicy').map((c) => [`${c.metadata.namespace ?? 'default'}/${c.metadata.name}`, c]));
  const rows = sec.authorizationPolicies.map((k) => {
    const s = rec(byName.get(k)?.spec);
    const rules = s['rules'] as unknown[] | undefined;
    return [String(s['action'] ?? 'ALLOW'), k, rules === undefined ? '0 (allows nothing)' : String(rules.length)];
  });
  lines.push(rows.length > 0 ? `Policies:\n${indent(renderTable(['ACTION', 'POLICY', 'RULES'], rows)).trimEnd()}` : 'Policies:  none (every request is allowed)');
  if (sec.requestAuthentications.length > 0) lines.push(`JWT:       ${sec.requestAuthentications.join(', ')}`);
  for (const n of sec.notes) lines.push(`Note:      ${n.policy}: ${n.message}`);
  lines.push('');
  const path = req.path === r.rawPath ? r.rawPath : `${r.rawPath} (normalised to ${req.path ?? ''})`;
  const what = r.tcp ? `TCP connection to port ${port}` : `${req.method ?? ''} ${req.host ?? ''}${path}`;
  lines.push(`Request:   ${what} from ${req.peerPrincipal ?? 'a plaintext peer'} (${req.sourceIp})${req.jwt ? `, JWT ${req.jwt.principal}` : ''}`);
  if (verdict.steps.length > 0) lines.push(indent(renderTable(['FILTER', 'ACTION', 'RESULT', 'MATCHED'], verdict.steps.map((s) => [s.filter, s.action, s.result, s.matched]))).trimEnd());
  if (verdict.allowed === 'custom') lines.push(`Decision:  CUSTOM — the external authorizer decides (rule ${verdict.decidedBy ?? ''})`);
  else if (verdict.allowed) lines.push('Decision:  ALLOWED');
  else if (verdict.strictPlaintext) lines.push(`Decision:  DENIED — connection refused (${verdict.decidedBy ?? ''})`);
  else lines.push(`Decision:  DENIED — ${r.tcp ? 'connection closed' : `403 ${verdict.body ?? ''}`} (${verdict.decidedBy ?? ''})`);
  return `${lines.join('\n')}\n`;
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const p = parseFlags(args, spec, 'authz');
  const [sub, proxy, ...extra] = p.positional;
  if (p.bools.has('help') || sub === undefined) {
    io.out(HELP);
    return p.bools.has('help') ? ExitCode.ok : ExitCode.usage;
  }
  if (sub !== 'check') throw new UsageError(`unknown subcommand "${sub}": use 'weft authz check PROXY'`);
  if (proxy === undefined) throw new UsageError('PROXY is required: weft authz check name.namespace');
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const output = lastValue(p, 'output') ?? 'text';
  if (output !== 'text' && output !== 'json') throw new UsageError(`unsupported output "${output}": use text or json`);
  const normalization = (lastValue(p, 'normalization') ?? 'BASE') as PathNormalization;
  if (!['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'].includes(normalization)) throw new UsageError(`unknown path normalization ${normalization}`);
  const port = Number(lastValue(p, 'port') ?? 80);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError('--port must be 1-65535');
  const tcp = p.bools.has('tcp');
  const who = identity(proxy);
  const mesh = await loadMesh(lastValue(p, 'mesh'), io);
  const monitoring = lastValue(p, 'monitoring');
  const loaded = monitoring ? await loadFromControlPlane(monitoring, proxy, who, port) : await loadFromDir(lastValue(p, 'config-dir') ?? DEFAULT_CONFIG_DIR, io);
  const flagLabels = p.values['labels'] ? Object.fromEntries(keyValues(p.values['labels'], 'labels')) : undefined;
  const found = flagLabels ?? labelsFromConfigs(loaded.configs, who.name, who.namespace) ?? loaded.registryLabels;
  // A misspelt proxy would otherwise be evaluated quietly as a workload without labels (often "ALLOWED").
  if (found === undefined && loaded.xdsFilters === undefined) {
    io.err(`weft authz: note: no workload ${who.name} in namespace ${who.namespace} was found in the ${loaded.source} (no Pod or WorkloadEntry${monitoring ? ', no connected proxy' : ''}); it is evaluated without labels, so only policies without a selector apply. Check the name ('weft proxy-status' lists proxies) or give its labels with -l app=…,version=…\n`);
  }
  const labels = found ?? {};

  const sec = buildWorkloadSecurity({ workload: { namespace: who.namespace, labels }, configs: loaded.configs, rootNamespace: mesh.rootNamespace, trustDomain: mesh.trustDomain, trustDomainAliases: mesh.trustDomainAliases, extensionProviders: mesh.extensionProviders });
  const x = loaded.xdsFilters;
  const filters = x ? (tcp ? x.tcp : x.http) : wire(tcp ? sec.tcpFilters : sec.httpFilters);
  const req = describedRequest(p, who, port, tcp, normalization);
  // STRICT mTLS refuses a plaintext peer before any filter runs.
  const verdict: Verdict = !req.peerPrincipal && sec.mtls.modeFor(port) === 'STRICT'
    ? { steps: [], allowed: false, strictPlaintext: true, decidedBy: `PeerAuthentication ${sec.mtls.from[0] ?? ''}: STRICT mTLS refuses plaintext connections; give --principal for an mTLS peer` }
    : describeFilters(filters, req);
  const report: Report = { who, labels, filterSource: x ? "the proxy's xDS (virtualInbound)" : `translated from ${loaded.source}`, sec, configs: loaded.configs, port, tcp, rawPath: lastValue(p, 'path') ?? '/', req, verdict };
  io.out(output === 'json' ? renderJson(report) : renderText(report));
  return verdict.allowed === false ? ExitCode.invalid : ExitCode.ok;
}

function indent(text: string): string {
  return text.split('\n').map((l) => (l === '' ? l : `  ${l}`)).join('\n');
}
