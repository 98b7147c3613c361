// Parse a mesh config file (Istio's `mesh` YAML, or the `istio` ConfigMap that carries it in data.mesh) onto
// Istio's defaults, with Istio's merge rules and validation. Unknown fields are warnings, as Istio ignores them;
// wrong types and invalid values are errors with field paths.
import { parseDocument } from 'yaml';
import { err, ok, type FieldError, type Result } from '../../../core/result.ts';
import { checkDuration } from '../validation/common/duration.ts';
import { Reporter } from '../validation/report.ts';
import { yamlErrorMessage } from '../yaml-error.ts';
import { defaultMeshConfig } from './defaults.ts';
import type { ExtensionProvider, MeshConfig, ProxyConfig } from './types.ts';

export interface ParsedMeshConfig {
  /** The effective mesh config: the file merged onto Istio's defaults. */
  mesh: MeshConfig;
  /** Accepted but worth fixing (unknown fields, unusable extension providers). */
  warnings: FieldError[];
}

type Field =
  | 'string' | 'bool' | 'int' | 'number' | 'duration' | 'stringList' | 'stringMap' | 'object' | 'list' | 'any'
  | { enum: readonly string[] }
  | { fields: Readonly<Record<string, Field>> };

const PROXY_FIELDS: Readonly<Record<string, Field>> = {
  configPath: 'string', binaryPath: 'string', serviceCluster: 'string', drainDuration: 'duration', parentShutdownDuration: 'duration',
  terminationDrainDuration: 'duration', discoveryAddress: 'string', discoveryRefreshDelay: 'duration', zipkinAddress: 'string',
  statsdUdpAddress: 'string', envoyMetricsServiceAddress: 'string', proxyAdminPort: 'int', availabilityZone: 'string',
  controlPlaneAuthPolicy: { enum: ['NONE', 'MUTUAL_TLS', 'INHERIT'] }, customConfigFile: 'string', statNameLength: 'int', concurrency: 'int',
  proxyBootstrapTemplatePath: 'string', interceptionMode: { enum: ['REDIRECT', 'TPROXY', 'NONE'] }, tracing: 'object', sds: 'object',
  envoyAccessLogService: 'object', envoyMetricsService: 'object', proxyMetadata: 'stringMap', runtimeValues: 'stringMap', statusPort: 'int',
  extraStatTags: 'stringList', gatewayTopology: 'object', meshId: 'string', readinessProbe: 'object', proxyStatsMatcher: 'object',
  holdApplicationUntilProxyStarts: 'bool', caCertificatesPem: 'stringList', image: 'object', privateKeyProvider: 'object', proxyHeaders: 'object',
  fileFlushInterval: 'duration', fileFlushMinSizeKb: 'int', tracingServiceName: { enum: ['APP_LABEL_AND_NAMESPACE', 'CANONICAL_NAME_ONLY', 'CANONICAL_NAME_AND_NAMESPACE'] },
  startupProbe: 'object', clusterName: 'any',
};

const MESH_FIELDS: Readonly<Record<string, Field>> = {
  proxyListenPort: 'int', proxyInboundListenPort: 'int', proxyHttpPort: 'int', connectTimeout: 'duration', protocolDetectionTimeout: 'duration',
  tcpKeepalive: 'object', ingressClass: 'string', ingressService: 'string', ingressControllerMode: { enum: ['UNSPECIFIED', 'OFF', 'DEFAULT', 'STRICT'] },
  ingressSelector: 'string', enableTracing: 'bool', accessLogFile: 'string', accessLogFormat: 'string', accessLogEncoding: { enum: ['TEXT', 'JSON'] },
  enableEnvoyAccessLogService: 'bool', disableEnvoyListenerLog: 'bool', defaultConfig: { fields: PROXY_FIELDS },
  outboundTrafficPolicy: { fields: { mode: { enum: ['REGISTRY_ONLY', 'ALLOW_ANY'] }, egressProxy: 'object' } },
  inboundTrafficPolicy: { fields: { mode: { enum: ['PASSTHROUGH', 'LOCALHOST'] } } },
  configSources: 'list', enableAutoMtls: 'bool', trustDomain: 'string', trustDomainAliases: 'stringList', caCertificates: 'list',
  defaultServiceExportTo: 'stringList', defaultVirtualServiceExportTo: 'stringList', defaultDestinationRuleExportTo: 'stringList',
  rootNamespace: 'string', localityLbSetting: 'object', zoneAwareLbSetting: 'object', dnsRefreshRate: 'duration',
  h2UpgradePolicy: { enum: ['DO_NOT_UPGRADE', 'UPGRADE'] }, inboundClusterStatName: 'string', outboundClusterStatName: 'string',
  certificates: 'list', serviceSettings: 'list', enablePrometheusMerge: 'bool', verifyCertificateAtClient: 'bool', ca: 'object',
  extensionProviders: 'list', defaultProviders: { fields: { metrics: 'stringList', tracing: 'stringList', accessLogging: 'stringList' } },
  discoverySelectors: 'list', pathNormalization: { fields: { normalization: { enum: ['DEFAULT', 'NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'] } } }, defaultHttpRetryPolicy: { fields: {
    attempts: 'int', perTryTimeout: 'duration', retryOn: 'string', retryRemoteLocalities: 'bool', backoff: 'duration', retryIgnorePreviousHosts: 'bool',
  } },
  meshMTLS: 'object', tlsDefaults: 'object', serviceScopeConfigs: 'list', enableDNS: 'bool', mcpServers: 'list', thriftConfig: 'object',
};

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const q = (v: unknown): string => JSON.stringify(v) ?? String(v);

/** Check `value` against `field`, reporting type errors; unknown object fields are warnings. */
function checkField(r: Reporter, field: Field, value: unknown): void {
  if (value === null) return; // null leaves the default in place, as Go's decoder does
  const typeError = (want: string): void => r.error(`must be ${want}, found ${q(value)}`);
  if (typeof field === 'object') {
    if ('enum' in field) {
      if (typeof value !== 'string' || !field.enum.includes(value)) r.error(`must be one of ${field.enum.join(', ')}, found ${q(value)}`);
      return;
    }
    if (!isRecord(value)) return typeError('an object');
    for (const [k, v] of Object.entries(value)) {
      const sub = field.fields[k];
      if (sub === undefined) r.at(k).warn(`unknown field ${q(k)}: Weft ignores it (as Istio does); check the spelling`);
      else checkField(r.at(k), sub, v);
    }
    return;
  }
  switch (field) {
    case 'string':
      if (typeof value !== 'string') typeError('a string');
      return;
    case 'bool':
      if (typeof value !== 'boolean') typeError('true or false');
      return;
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) typeError('a whole number');
      return;
    case 'number':
      if (typeof value !== 'number') typeError('a number');
      return;
    case 'duration':
      checkDuration(r, value, { min: 0n, wholeMillis: false });
      return;
    case 'stringList':
      if (!Array.isArray(value)) return typeError('a list of strings');
      value.forEach((s, i) => {
        if (typeof s !== 'string') r.at(i).error(`must be a string, found ${q(s)}`);
      });
      return;
    case 'stringMap':
      if (!isRecord(value)) return typeError('a map of strings');
      for (const [k, s] of Object.entries(value)) if (typeof s !== 'string') new Reporter(`${r.path}[${k}]`, r.out).error(`must be a string, found ${q(s)}; quote it`);
      return;
    case 'object':
      if (!isRecord(value)) typeError('an object');
      return;
    case 'list':
      if (!Array.isArray(value)) typeError('a list');
      return;
    case 'any':
      return;
  }
}

/** Parse mesh config text; `file` names the source in messages. An empty file yields Istio's defaults. */
export function parseMeshConfig(yamlText: string, file: string): Result<ParsedMeshConfig, FieldError[]> {
  const doc = parseDocument(yamlText, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return err(doc.errors.map((e) => ({ path: '', message: `${file}: ${yamlErrorMessage(e)}` })));
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return err([{ path: '', message: `${file}: ${e instanceof Error ? e.message : String(e)}` }]);
  }
  if (raw === null || raw === undefined) raw = {};
  // The `istio` ConfigMap carries the mesh config as a string under data.mesh.
  if (isRecord(raw) && raw['kind'] === 'ConfigMap') {
    const data = raw['data'];
    const mesh = isRecord(data) ? data['mesh'] : undefined;
    if (typeof mesh !== 'string') return err([{ path: 'data.mesh', message: `${file}: a ConfigMap mesh config needs data.mesh (the mesh config YAML as a string)` }]);
    return parseMeshConfig(mesh, `${file} (data.mesh)`);
  }
  if (!isRecord(raw)) return err([{ path: '', message: `${file}: a mesh config must be a YAML map of MeshConfig fields, found ${q(raw)}` }]);
  const r = new Reporter();
  checkField(r, { fields: MESH_FIELDS }, raw);
  const mesh = merge(defaultMeshConfig(), raw);
  validateMesh(r, mesh, raw);
  if (r.out.errors.length > 0) return err(r.out.errors);
  return ok({ mesh, warnings: r.out.warnings });
}

/** Istio's merge: top-level fields replace the defaults, except defaultConfig (merged, proxyMetadata merged too),
 * defaultProviders (merged), extensionProviders (replaced by name, new ones appended) and trustDomainAliases (union). */
function merge(base: MeshConfig, raw: Record<string, unknown>): MeshConfig {
  const out: MeshConfig = { ...base };
  for (const [k, v] of Object.entries(raw)) {
    if (v === null || v === undefined) continue;
    switch (k) {
      case 'defaultConfig': {
        const pc = v as Partial<ProxyConfig>;
        const merged: ProxyConfig = { ...base.defaultConfig, ...stripNulls(pc) };
        if (pc.proxyMetadata) merged.proxyMetadata = { ...base.defaultConfig.proxyMetadata, ...pc.proxyMetadata };
        out.defaultConfig = merged;
        break;
      }
      case 'defaultProviders':
        out.defaultProviders = { ...base.defaultProviders, ...stripNulls(v as Record<string, unknown>) };
        break;
      case 'extensionProviders': {
        const providers = [...base.extensionProviders];
        for (const p of (Array.isArray(v) ? v : []) as ExtensionProvider[]) {
          const i = providers.findIndex((e) => e.name === p?.name);
          if (i >= 0) providers[i] = p;
          else providers.push(p);
        }
        out.extensionProviders = providers;
        break;
      }
      case 'trustDomainAliases':
        out.trustDomainAliases = [...new Set([...base.trustDomainAliases, ...(Array.isArray(v) ? (v as string[]) : [])])].sort();
        break;
      default:
        out[k] = v;
    }
  }
  return out;
}

function stripNulls<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as Partial<T>;
}

const TRUST_DOMAIN = /^[a-zA-Z0-9._-]+$/;
const PROVIDER_TYPES = [
  'envoyExtAuthzHttp', 'envoyExtAuthzGrpc', 'zipkin', 'lightstep', 'datadog', 'stackdriver', 'opencensus', 'skywalking', 'opentelemetry',
  'prometheus', 'envoyFileAccessLog', 'envoyHttpAls', 'envoyTcpAls', 'envoyOtelAls', 'sds',
];

/** Istio's ValidateMeshConfig rules that Weft depends on, on the merged config. */
function validateMesh(r: Reporter, mesh: MeshConfig, raw: Record<string, unknown>): void {
  if (r.out.errors.length > 0) return; // type errors first: the values below may not have their types
  const port = (at: Reporter, v: unknown): void => {
    if (typeof v !== 'number' || v < 1 || v > 65535) at.error(`port ${q(v)} must be in the range 1..65535`);
  };
  port(r.at('proxyListenPort'), mesh.proxyListenPort);
  port(r.at('proxyInboundListenPort'), mesh.proxyInboundListenPort);
  checkDuration(r.at('connectTimeout'), mesh.connectTimeout, { wholeMillis: false });
  checkDuration(r.at('protocolDetectionTimeout'), mesh.protocolDetectionTimeout, { allowZero: true, wholeMillis: false });
  const pc = mesh.defaultConfig;
  const pr = r.at('defaultConfig');
  checkDuration(pr.at('drainDuration'), pc.drainDuration, { wholeMillis: false });
  port(pr.at('proxyAdminPort'), pc.proxyAdminPort);
  port(pr.at('statusPort'), pc.statusPort);
  if (pc.concurrency !== undefined && pc.concurrency < 0) pr.at('concurrency').error('concurrency must be 0 (one worker per CPU) or more');
  const sampling = isRecord(pc.tracing) ? pc.tracing['sampling'] : undefined;
  if (sampling !== undefined && (typeof sampling !== 'number' || sampling < 0 || sampling > 100)) pr.at('tracing').at('sampling').error(`must be a percentage from 0 to 100, found ${q(sampling)}`);
  if (!pc.discoveryAddress) pr.at('discoveryAddress').error('required: the control plane address, host:port (default istiod.istio-system.svc:15012)');
  else {
    const m = /^(.+):([0-9]+)$/.exec(pc.discoveryAddress);
    const p = m ? Number(m[2]) : NaN;
    if (!m || p < 1 || p > 65535) pr.at('discoveryAddress').error(`${q(pc.discoveryAddress)} must be host:port with a port 1..65535`);
  }
  if (!mesh.trustDomain || !TRUST_DOMAIN.test(mesh.trustDomain)) {
    r.at('trustDomain').error(`trust domain ${q(mesh.trustDomain)} must be a non-empty domain of letters, digits, '.', '-' and '_'`);
  }
  mesh.trustDomainAliases.forEach((a, i) => {
    if (!TRUST_DOMAIN.test(a)) r.at('trustDomainAliases').at(i).error(`trust domain alias ${q(a)} must be letters, digits, '.', '-' and '_'`);
  });
  const retry = mesh.defaultHttpRetryPolicy;
  if (retry?.attempts !== undefined && retry.attempts < 0) r.at('defaultHttpRetryPolicy').at('attempts').error('attempts must be 0 or more');
  if (retry?.perTryTimeout !== undefined) checkDuration(r.at('defaultHttpRetryPolicy').at('perTryTimeout'), retry.perTryTimeout);
  // Extension providers: Istio only warns (an unused bad provider does no harm), except for duplicate names.
  const names = new Set<string>();
  const rawProviders = Array.isArray(raw['extensionProviders']) ? (raw['extensionProviders'] as unknown[]) : [];
  rawProviders.forEach((p, i) => {
    const at = r.at('extensionProviders').at(i);
    if (!isRecord(p)) return at.error(`must be an object with name and one provider type, found ${q(p)}`);
    const name = p['name'];
    if (typeof name !== 'string' || name === '') return at.at('name').error('required: a name that Telemetry and AuthorizationPolicy refer to');
    if (names.has(name)) at.at('name').error(`duplicate extension provider name ${q(name)}`);
    names.add(name);
    const types = Object.keys(p).filter((k) => k !== 'name');
    const known = types.filter((t) => PROVIDER_TYPES.includes(t));
    if (known.length !== 1) at.warn(`extension provider ${q(name)} must set exactly one of ${PROVIDER_TYPES.join(', ')}, found ${types.length === 0 ? 'none' : types.join(', ')}`);
  });
}
