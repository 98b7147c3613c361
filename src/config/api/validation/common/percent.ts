// Numeric ranges Istio checks in config: percentages (integer 0–100, or a `Percent{value}` double), weights,
// HTTP status codes and small positive counts.
import type { Reporter } from '../report.ts';

/** Report unless `value` is a whole-number percentage 0–100 (e.g. `fault.abort.percent`, `maxEjectionPercent`). */
export function checkPercentInt(r: Reporter, value: unknown): boolean {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 100) return true;
  r.error(`percentage ${JSON.stringify(value)} must be a whole number in the range 0..100`);
  return false;
}

/**
 * Report unless `value` is a `Percent` message `{value: double}` that is 0 or within [0.0001, 100] (Envoy's
 * fractional percent resolution is one millionth, so smaller positive values would silently become 0).
 */
export function checkPercentage(r: Reporter, percent: unknown): boolean {
  if (percent === undefined || percent === null) return true;
  const v = typeof percent === 'object' ? (percent as { value?: unknown }).value : percent;
  const n = v === undefined ? 0 : v;
  if (typeof n === 'number' && Number.isFinite(n) && (n === 0 || (n >= 0.0001 && n <= 100))) return true;
  r.at('value').error(`percentage ${JSON.stringify(n)} must be 0 or in the range 0.0001..100`);
  return false;
}

/** Report unless a route weight is a non-negative integer. */
export function checkWeight(r: Reporter, value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return true;
  r.error(`weight ${JSON.stringify(value)} must be a whole number ≥ 0`);
  return false;
}

/** Report unless `value` is an HTTP status code Envoy can send (200–599). */
export function checkHttpStatus(r: Reporter, value: unknown): boolean {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 200 && value <= 599) return true;
  r.error(`HTTP status ${JSON.stringify(value)} must be in the range 200..599`);
  return false;
}

/** Report when `value` is set and not an integer within [min, max]. */
export function checkIntRange(r: Reporter, value: unknown, min: number, max: number, what = 'value'): boolean {
  if (value === undefined) return true;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return true;
  r.error(`${what} ${JSON.stringify(value)} must be a whole number in the range ${min}..${max}`);
  return false;
}
