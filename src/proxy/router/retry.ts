// Envoy's retry semantics, shared by the HTTP/1.1 stream (hcm/stream.ts) and the HTTP/2 stream (h2/h2-forward.ts):
// which responses and resets a route's retry_policy retries, the fully jittered exponential backoff, the cluster's
// max_retries circuit breaker (retries in backoff at once; past it the retry is not made and the request gets UO),
// and the `x-envoy-attempt-count` request header. Pure decisions plus one small per-request state object.
import type { Cluster } from '../cluster/cluster-manager.ts';
import type { Host } from '../cluster/host.ts';
import type { UpstreamFailure } from '../cluster/upstream-connection.ts';
import type { RetryPolicy } from './route-action.ts';

/** Why an attempt ended without a response: a connection/stream failure, or the per-try timeout. */
export type AttemptReset = UpstreamFailure | 'per_try_timeout';

/** Whether a response (status and flat lower-case headers) matches a retry_on condition of the policy. */
export function retriableResponse(p: RetryPolicy, status: number, headers: readonly string[]): boolean {
  if (p.on5xx && status >= 500) return true;
  if (p.onGatewayError && (status === 502 || status === 503 || status === 504)) return true;
  if (p.onRetriable4xx && status === 409) return true;
  if (p.statusCodes.has(status)) return true;
  if (p.grpcStatuses.size > 0) {
    // Only a grpc-status in the response *headers* counts (a trailers-only response), as in Envoy.
    const g = headerOf(headers, 'grpc-status');
    if (g !== undefined && p.grpcStatuses.has(g.trim())) return true;
  }
  for (const t of p.retriableHeaders) if (t.test(headerOf(headers, t.name))) return true;
  return false;
}

/** Whether an attempt that ended without a response is retried (Envoy's wouldRetryFromReset, plus per-try timeouts). */
export function retriableReset(p: RetryPolicy, reason: AttemptReset): boolean {
  // A per-try timeout is handled as a 504 from upstream (Envoy), and as a reset.
  if (reason === 'per_try_timeout') return p.onReset || retriableResponse(p, 504, []);
  if (p.on5xx || p.onGatewayError || p.onReset) return true;
  if (reason === 'connect_failure' || reason === 'connect_timeout') return p.onConnectFailure;
  if (reason === 'refused_stream') return p.onRefusedStream;
  return false;
}

export type RetryDecision =
  /** Retry after `delayMs` (backoff already drawn; the max_retries slot is held until the retry starts). */
  | { kind: 'retry'; delayMs: number }
  /** Retriable, but no retries left: pass the last result on with flag URX. */
  | { kind: 'exhausted' }
  /** Retriable, but the cluster's max_retries circuit breaker is full: pass the result on with flag UO. */
  | { kind: 'overflow' }
  /** Not retriable (or the body could not be kept for replay). */
  | { kind: 'no' };

/** One request's retry bookkeeping: retries left, the backoff interval, the max_retries slot it may hold. */
export class RetryState {
  readonly policy: RetryPolicy;
  private left: number;
  private backoffMs = 0;
  private holding: Cluster | undefined;
  /** Hosts tried so far (kept only when the previous_hosts predicate is on). */
  private tried: Host[] | undefined;

  constructor(policy: RetryPolicy) {
    this.policy = policy;
    this.left = policy.numRetries;
  }

  /**
   * Decide what to do with an outcome that `retriable` says matches the policy. `replayable` is false once the
   * request body outgrew the replay buffer or the response has started.
   */
  decide(retriable: boolean, replayable: boolean, cluster: Cluster, random: () => number): RetryDecision {
    const p = this.policy;
    if (!retriable || !replayable) return { kind: 'no' };
    if (this.left <= 0) return p.numRetries > 0 ? { kind: 'exhausted' } : { kind: 'no' };
    if (cluster.retriesActive >= cluster.config.maxRetries) {
      cluster.stats.rqRetryOverflow++;
      return { kind: 'overflow' };
    }
    this.left--;
    cluster.stats.rqRetry++;
    cluster.retriesActive++;
    this.holding = cluster;
    // Envoy's fully jittered exponential backoff: random in [0, base·2^n), capped at the max interval.
    this.backoffMs = this.backoffMs === 0 ? p.backoffBaseMs : Math.min(this.backoffMs * 2, p.backoffMaxMs);
    return { kind: 'retry', delayMs: Math.floor(random() * this.backoffMs) };
  }

  /** The retry starts (or the request ends while in backoff): give back the max_retries slot. */
  release(): void {
    if (this.holding) this.holding.retriesActive--;
    this.holding = undefined;
  }

  /**
   * The host for the next attempt. With the previous_hosts predicate a host already tried is re-picked, up to
   * host_selection_retry_max_attempts times (a single-host cluster or a consistent hash still lands where it must).
   */
  pickHost(cluster: Cluster, random: () => number, destination: string | undefined, hash: number | undefined): Host | undefined {
    let h = cluster.choose(performance.now(), random, destination, hash);
    const n = this.policy.hostReselectAttempts;
    if (n === 0 || !h) return h;
    const tried = this.tried;
    if (tried) {
      for (let i = 0; i < n && tried.includes(h); i++) {
        const next = cluster.choose(performance.now(), random, destination, hash);
        if (!next) break;
        h = next;
      }
    }
    (this.tried ??= []).push(h);
    return h;
  }

  /** Per-try timeout in ms (0 = none). */
  get perTryTimeoutMs(): number {
    return this.policy.perTryTimeoutMs;
  }
}

/** The HTTP/1.1 request head with `x-envoy-attempt-count: n` added (the head ends with the blank line). */
export function withAttemptCount(head: string, n: number): string {
  return `${head.slice(0, -2)}x-envoy-attempt-count: ${n}\r\n\r\n`;
}

function headerOf(headers: readonly string[], name: string): string | undefined {
  let found: string | undefined;
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) found = found === undefined ? headers[i + 1] : `${found},${headers[i + 1]!}`;
  return found;
}
