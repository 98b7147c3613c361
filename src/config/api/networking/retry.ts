// HTTP retry policy rules (VirtualService http[].retries), shared with the mesh-wide default retry policy.
import type { Reporter } from '../validation/report.ts';
import { checkDuration } from '../validation/common/duration.ts';
import { isSet, num, q, str, type Obj } from './util.ts';

/** Conditions Envoy accepts in x-envoy-retry-on and x-envoy-retry-grpc-on, as Istio allows them in retryOn. */
export const RETRY_ON_POLICIES: ReadonlySet<string> = new Set([
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'retriable-4xx', 'refused-stream',
  'retriable-status-codes', 'retriable-headers', 'envoy-ratelimited', 'http3-post-connect-failure',
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
]);

/** HTTP status codes with a standard reason phrase (Go's net/http StatusText), which Istio accepts as retryOn entries. */
const KNOWN_STATUS: ReadonlySet<number> = new Set([
  100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307, 308,
  400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 423, 424,
  425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);

/** True when `policy` is a retryOn condition or a known HTTP status code. */
export const isRetryOnPolicy = (policy: string): boolean => RETRY_ON_POLICIES.has(policy) || (/^[0-9]+$/.test(policy) && KNOWN_STATUS.has(Number(policy)));

export function checkHttpRetry(r: Reporter, retries: Obj | undefined): void {
  if (retries === undefined) return;
  const attempts = num(retries.attempts);
  if (attempts < 0) r.at('attempts').error(`attempts ${attempts} cannot be negative: use 0 to disable retries`);
  if (attempts === 0 && (isSet(retries.perTryTimeout) || str(retries.retryOn) !== '' || isSet(retries.retryRemoteLocalities))) {
    r.error('retry settings are configured but attempts is 0 (retries disabled): set attempts, or remove the other retry fields');
  }
  if (isSet(retries.perTryTimeout)) checkDuration(r.at('perTryTimeout'), retries.perTryTimeout);
  const retryOn = str(retries.retryOn);
  if (retryOn !== '') {
    for (const policy of retryOn.split(',')) {
      if (!isRetryOnPolicy(policy)) {
        r.at('retryOn').error(`${q(policy)} is not a valid retryOn condition: use comma-separated values such as 5xx, gateway-error, connect-failure, retriable-4xx, refused-stream, unavailable, or HTTP status codes`);
      }
    }
  }
  if (isSet(retries.backoff)) checkDuration(r.at('backoff'), retries.backoff);
}
