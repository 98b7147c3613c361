// Telemetry (telemetry.istio.io/v1, v1alpha1): per-mesh, namespace or workload settings for metrics, tracing and
// access logging. Types mirror istio.telemetry.v1alpha1.Telemetry; the validator implements Istio's webhook rules.
import { parse as parseCel } from '@marcbachmann/cel-js';
import type { Resource } from '../resource.ts';
import { checkDuration } from '../validation/common/duration.ts';
import { checkSelectorOrTargetRefs, type PolicyTargetReference, type WorkloadSelector } from '../validation/common/labels.ts';
import { Reporter, type SemanticValidator, type Validation } from '../validation/report.ts';

/** A reporter for a map entry, printed the Kubernetes way: `metadata.labels[app]`. */
const atKey = (r: Reporter, key: string): Reporter => new Reporter(`${r.path}[${key}]`, r.out);

/** A MeshConfig extension provider, by name (`prometheus`, `envoy`, `otel` …). */
export interface ProviderRef {
  /** Name of an entry in MeshConfig `extensionProviders`; required. */
  name: string;
}

/** Which side of the traffic a setting applies to. */
export type WorkloadMode = 'CLIENT_AND_SERVER' | 'CLIENT' | 'SERVER';

export type IstioMetric =
  | 'ALL_METRICS' | 'REQUEST_COUNT' | 'REQUEST_DURATION' | 'REQUEST_SIZE' | 'RESPONSE_SIZE' | 'TCP_OPENED_CONNECTIONS'
  | 'TCP_CLOSED_CONNECTIONS' | 'TCP_SENT_BYTES' | 'TCP_RECEIVED_BYTES' | 'GRPC_REQUEST_MESSAGES' | 'GRPC_RESPONSE_MESSAGES';

export interface MetricsOverride {
  /** Which metric and side; absent = all metrics, both sides. Exactly one of metric or customMetric. */
  match?: { metric?: IstioMetric; customMetric?: string; mode?: WorkloadMode };
  /** Turn the matched metrics off; default false. */
  disabled?: boolean;
  /** Add, change (UPSERT with a CEL `value`) or REMOVE labels (dimensions) of the matched metrics. */
  tagOverrides?: Record<string, { operation?: 'UPSERT' | 'REMOVE'; value?: string }>;
}

export interface Metrics {
  /** Providers these settings apply to; default the mesh's default metrics providers. */
  providers?: ProviderRef[];
  /** Per-metric changes, applied in order. */
  overrides?: MetricsOverride[];
  /** How often TCP metrics are reported (Go duration, ≥ 1 ms); default the proxy's (5s). */
  reportingInterval?: string;
}

export interface CustomTag {
  /** A fixed value. */
  literal?: { value: string };
  /** Taken from the proxy's environment variable `name`, or `defaultValue`. */
  environment?: { name: string; defaultValue?: string };
  /** Taken from request header `name`, or `defaultValue`. */
  header?: { name: string; defaultValue?: string };
  /** Formatted with Envoy command operators. */
  formatter?: { value: string };
}

export interface Tracing {
  /** Which side emits spans; default both. */
  match?: { mode?: WorkloadMode };
  /** The tracing provider; only one is supported. */
  providers?: ProviderRef[];
  /** Percentage of requests sampled, 0–100; default the mesh's (1%). */
  randomSamplingPercentage?: number;
  /** Do not report spans, but still propagate context; default false. */
  disableSpanReporting?: boolean;
  /** Extra span tags. */
  customTags?: Record<string, CustomTag>;
  /** Do not propagate trace context headers; default false. */
  disableContextPropagation?: boolean;
  /** Add Istio's standard tags (istio.canonical_service …); default true. */
  enableIstioTags?: boolean;
  /** Sample by x-request-id; default the provider's behaviour. */
  useRequestIdForTraceSampling?: boolean;
}

export interface AccessLogging {
  /** Which side logs; default both. */
  match?: { mode?: WorkloadMode };
  /** Access log providers; default the mesh's default access log providers. */
  providers?: ProviderRef[];
  /** Turn access logging off for the selected workloads; default false. */
  disabled?: boolean;
  /** Log only requests for which this CEL expression is true. */
  filter?: { expression?: string };
}

export interface TelemetrySpec {
  /** Workloads the settings apply to; absent = namespace (or mesh, in the root namespace). */
  selector?: WorkloadSelector;
  /** Single attachment target; exclusive with selector and targetRefs. */
  targetRef?: PolicyTargetReference;
  /** Attachment targets; exclusive with selector and targetRef. */
  targetRefs?: PolicyTargetReference[];
  /** Tracing settings; only one entry is supported. */
  tracing?: Tracing[];
  /** Metrics settings. */
  metrics?: Metrics[];
  /** Access logging settings. */
  accessLogging?: AccessLogging[];
}

export const validateTelemetry: SemanticValidator = (res: Resource): Validation => {
  const r = new Reporter('spec');
  const spec = (res.spec ?? {}) as TelemetrySpec & Record<string, unknown>;
  checkSelectorOrTargetRefs(r, spec, 'selector');
  (spec.metrics ?? []).forEach((m, i) => checkMetrics(r.at('metrics').at(i), m));
  checkTracing(r.at('tracing'), spec.tracing ?? []);
  (spec.accessLogging ?? []).forEach((l, i) => {
    if (l === null || l === undefined) return;
    const lr = r.at('accessLogging').at(i);
    const expr = l.filter?.expression;
    if (typeof expr === 'string') {
      const why = celProblem(expr);
      if (why) lr.at('filter').at('expression').error(why);
    }
    checkProviders(lr.at('providers'), l.providers);
  });
  return r.out;
};

function checkProviders(r: Reporter, providers: ProviderRef[] | undefined): void {
  (providers ?? []).forEach((p, i) => {
    if (p === null || p === undefined || !p.name) r.at(i).at('name').error('provider name may not be empty: name an entry of MeshConfig extensionProviders');
  });
}

function checkTracing(r: Reporter, tracing: Tracing[]): void {
  if (tracing.length > 1) r.warn('only one tracing entry is supported: the first is used; merge the others into it');
  tracing.forEach((t, i) => {
    if (t === null || t === undefined) return;
    const tr = r.at(i);
    if ((t.providers ?? []).length > 1) tr.at('providers').warn('only one tracing provider is supported: the first is used');
    checkProviders(tr.at('providers'), t.providers);
    const pct = t.randomSamplingPercentage;
    if (pct !== undefined && pct !== null && (typeof pct !== 'number' || pct < 0 || pct > 100)) {
      tr.at('randomSamplingPercentage').error(`must be in the range 0.0 to 100.0, found ${String(pct)}`);
    }
    for (const [name, tag] of Object.entries(t.customTags ?? {})) {
      const cr = atKey(tr.at('customTags'), name);
      if (name === '') cr.error('tag name may not be empty');
      if (tag === null || tag === undefined) {
        cr.error(`tag ${JSON.stringify(name)} may not be null: set literal, environment, header or formatter`);
        continue;
      }
      if (tag.literal && !tag.literal.value) cr.at('literal').at('value').error('literal tag value may not be empty');
      if (tag.header && !tag.header.name) cr.at('header').at('name').error('header tag name may not be empty');
      if (tag.environment && !tag.environment.name) cr.at('environment').at('name').error('environment tag name may not be empty');
    }
  });
}

function checkMetrics(r: Reporter, m: Metrics | null): void {
  if (m === null || m === undefined) return;
  checkProviders(r.at('providers'), m.providers);
  if (m.reportingInterval !== undefined) checkDuration(r.at('reportingInterval'), m.reportingInterval);
  (m.overrides ?? []).forEach((o, i) => {
    const or = r.at('overrides').at(i);
    if (o === null || o === undefined) {
      or.error('override may not be null');
      return;
    }
    for (const [tag, to] of Object.entries(o.tagOverrides ?? {})) {
      const tr = atKey(or.at('tagOverrides'), tag);
      if (tag === '') tr.warn('tag name may not be empty');
      if (to === null || to === undefined) {
        tr.error('tag override may not be null: set operation and value');
        continue;
      }
      const op = to.operation ?? 'UPSERT';
      if (op === 'UPSERT' && !to.value) tr.at('value').error('required when operation is UPSERT: a CEL expression for the tag value, e.g. request.host');
      if (op === 'REMOVE' && to.value) tr.at('value').error('value may only be set when operation is UPSERT: remove it');
    }
    if (o.match && 'customMetric' in o.match && o.match.customMetric === '') {
      or.at('match').at('customMetric').error('customMetric may not be empty');
    }
  });
}

/** Istio checks that access-log filters parse as CEL; so does Weft (with a CEL parser, not Go's). */
export function celProblem(expression: string): string | undefined {
  try {
    parseCel(expression);
    return undefined;
  } catch (e) {
    return `must be a valid CEL expression: ${(e instanceof Error ? e.message : String(e)).split('\n', 1)[0]}`;
  }
}
