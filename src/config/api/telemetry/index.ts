// The telemetry.istio.io kind: its spec types and semantic (webhook-layer) validator.
import type { SemanticValidator } from '../validation/report.ts';
import { validateTelemetry } from './telemetry.ts';

export type { AccessLogging, CustomTag, IstioMetric, Metrics, MetricsOverride, ProviderRef, TelemetrySpec, Tracing, WorkloadMode } from './telemetry.ts';
export { celProblem, validateTelemetry } from './telemetry.ts';

export const telemetryValidators: Readonly<Record<string, SemanticValidator>> = { Telemetry: validateTelemetry };
