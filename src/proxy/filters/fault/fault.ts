// Envoy's fault filter (envoy.filters.http.fault, HTTPFault) as Istio uses it for VirtualService `fault`: per route
// (typed_per_filter_config), abort a fraction of requests with an HTTP status (flag FI) and/or delay a fraction
// (flag DI). Decisions use the proxy's injected randomness, so tests can seed them.
import { type Errors, type Raw, at, durationMs, obj, str } from '../../config/raw.ts';

export interface FaultConfig {
  /** Delay in ms, applied to `delayFraction` of requests (0..1). */
  delayMs: number;
  delayFraction: number;
  /** HTTP status for aborted requests (gRPC aborts answer 200 with grpc-status). */
  abortStatus: number;
  abortGrpcStatus: number | undefined;
  abortFraction: number;
}

export const FAULT_FILTER = 'envoy.filters.http.fault';

const denominators: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };

function fraction(raw: unknown, path: string, errors: Errors): number {
  const p = obj(raw);
  if (!p) return 1; // Envoy: no percentage = 100%
  const n = typeof p['numerator'] === 'number' ? p['numerator'] : 0;
  const d = denominators[str(p['denominator']) ?? 'HUNDRED'];
  if (d === undefined) {
    errors.add(at(path, 'denominator'), 'denominator must be HUNDRED, TEN_THOUSAND or MILLION');
    return 0;
  }
  return Math.min(1, n / d);
}

/** The fault config in a route's (or virtual host's) typed_per_filter_config, if any. */
export function compileFault(perFilter: unknown, path: string, errors: Errors): FaultConfig | undefined {
  const raw = obj(obj(perFilter)?.[FAULT_FILTER]) as Raw | undefined;
  if (!raw) return undefined;
  const fpath = at(path, `typed_per_filter_config.${FAULT_FILTER}`);
  const out: FaultConfig = { delayMs: 0, delayFraction: 0, abortStatus: 0, abortGrpcStatus: undefined, abortFraction: 0 };
  const delay = obj(raw['delay']);
  if (delay) {
    const ms = durationMs(delay['fixed_delay']);
    if (ms === undefined || Number.isNaN(ms)) errors.add(at(fpath, 'delay.fixed_delay'), 'fixed_delay is required (header_delay is not supported)');
    else out.delayMs = ms;
    out.delayFraction = fraction(delay['percentage'], at(fpath, 'delay.percentage'), errors);
  }
  const abort = obj(raw['abort']);
  if (abort) {
    if (typeof abort['http_status'] === 'number') out.abortStatus = abort['http_status'];
    else if (typeof abort['grpc_status'] === 'number') {
      out.abortGrpcStatus = abort['grpc_status'];
      out.abortStatus = 200;
    } else errors.add(at(fpath, 'abort'), 'abort needs http_status or grpc_status (header_abort is not supported)');
    if (out.abortStatus !== 0 && (out.abortStatus < 200 || out.abortStatus > 599)) errors.add(at(fpath, 'abort.http_status'), 'http_status must be 200..599');
    out.abortFraction = fraction(abort['percentage'], at(fpath, 'abort.percentage'), errors);
  }
  return out;
}
