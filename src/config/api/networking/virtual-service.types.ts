// VirtualService spec types (networking.istio.io v1 = v1beta1 = v1alpha3): how requests to a set of hosts are
// matched and routed (HTTP, TLS by SNI, TCP), with rewrites, retries, timeouts, faults, mirroring and CORS.
import type { Destination, Duration, Percent, StringMatch } from './shared.ts';

export interface VirtualServiceSpec {
  /** Hosts this rule applies to (FQDN, short name, `*.suffix`, or IP); empty only for a delegate VirtualService. */
  hosts?: string[];
  /** Gateways (`name`, `ns/name`) and/or `mesh` (all sidecars) the rule applies to; default `mesh` only. */
  gateways?: string[];
  /** Ordered HTTP routes; the first match wins. */
  http?: HTTPRoute[];
  /** Ordered TLS routes for unterminated TLS/HTTPS traffic, matched by SNI. */
  tls?: TLSRoute[];
  /** Ordered TCP routes for opaque TCP traffic. */
  tcp?: TCPRoute[];
  /** Namespaces this rule is visible to (`.`, `*`, names); default all (mesh-wide default applies). */
  exportTo?: string[];
}

/** One HTTP routing rule. Exactly one of route, redirect, directResponse or delegate says what happens. */
export interface HTTPRoute {
  /** Name of the route, used in logs and stats and joined with match names. */
  name?: string;
  /** Conditions (ORed) for the rule; none means match everything. */
  match?: HTTPMatchRequest[];
  /** Weighted destinations for the traffic. */
  route?: HTTPRouteDestination[];
  /** Answer with an HTTP redirect instead of forwarding. */
  redirect?: HTTPRedirect;
  /** Answer with a fixed response instead of forwarding. */
  directResponse?: HTTPDirectResponse;
  /** Hand matching requests to another VirtualService (no hosts of its own) for routing. */
  delegate?: Delegate;
  /** Rewrite the path/authority before forwarding; not with redirect. */
  rewrite?: HTTPRewrite;
  /** Total time allowed for the request, including retries; default off (no timeout). */
  timeout?: Duration;
  /** Retry policy; default from mesh config (2 attempts on connect-failure, refused-stream, unavailable, cancelled, retriable-status-codes). */
  retries?: HTTPRetry;
  /** Inject delays or aborts (testing); retries and timeouts do not apply to injected faults. */
  fault?: HTTPFaultInjection;
  /** Send a copy of the traffic to this destination (fire and forget). */
  mirror?: Destination;
  /** Several mirror targets, each with its own percentage; excludes mirror/mirrorPercentage. */
  mirrors?: HTTPMirrorPolicy[];
  /** Deprecated: mirrored percentage as an integer 0–100; use mirrorPercentage. */
  mirrorPercent?: number;
  /** Deprecated alias of mirrorPercent accepted by the schema. */
  mirror_percent?: number;
  /** Percentage of traffic sent to `mirror`; default 100. */
  mirrorPercentage?: Percent;
  /** Cross-origin resource sharing policy. */
  corsPolicy?: CorsPolicy;
  /** Header manipulation on the request and response. */
  headers?: Headers;
}

export interface Delegate {
  /** Name of the delegate VirtualService. */
  name?: string;
  /** Namespace of the delegate; default the root VirtualService's namespace. */
  namespace?: string;
}

/** Header operations applied in order set, add, remove. */
export interface Headers {
  request?: HeaderOperations;
  response?: HeaderOperations;
}

export interface HeaderOperations {
  /** Overwrite these headers. Values may use Envoy's `%VARIABLE%` formatters. */
  set?: Record<string, string>;
  /** Append these values (the header may then occur several times). */
  add?: Record<string, string>;
  /** Remove these headers. */
  remove?: string[];
}

/** Conditions within one match are ANDed. */
export interface HTTPMatchRequest {
  /** Name of the match, joined with the route name in logs. */
  name?: string;
  /** The request path. */
  uri?: StringMatch;
  /** The URI scheme (`http`, `https`). */
  scheme?: StringMatch;
  /** The HTTP method. */
  method?: StringMatch;
  /** The Host/:authority. */
  authority?: StringMatch;
  /** Header name (lower case) → matcher; an empty matcher `{}` means "present". `@request.auth.claims.x` on gateways. */
  headers?: Record<string, StringMatch>;
  /** Destination port of the request; needed when a host has several ports. */
  port?: number;
  /** Labels of the calling workload (sidecars only). */
  sourceLabels?: Record<string, string>;
  /** Gateways this match applies to; overrides the VirtualService's gateways. */
  gateways?: string[];
  /** Query parameter → matcher (exact or regex; prefix is not supported by Envoy here). `{}` means "present". */
  queryParams?: Record<string, StringMatch>;
  /** Match the uri case-insensitively (exact and prefix only); default false. */
  ignoreUriCase?: boolean;
  /** The request matches only if none of these header matchers match. */
  withoutHeaders?: Record<string, StringMatch>;
  /** Namespace of the calling workload (sidecars only). */
  sourceNamespace?: string;
  /** Stats prefix for this route's stats (Envoy `route.stat_prefix`). */
  statPrefix?: string;
}

export interface HTTPRouteDestination {
  /** Where the request goes. Required. */
  destination: Destination;
  /** Relative share of traffic, integer ≥ 0; default 100 when there is only one destination. */
  weight?: number;
  /** Header operations applied when this destination is chosen. */
  headers?: Headers;
}

/** A destination of a TCP or TLS route. */
export interface RouteDestination {
  /** Where the connection goes. Required. */
  destination: Destination;
  /** Relative share of connections, integer ≥ 0. */
  weight?: number;
}

export interface TLSRoute {
  /** SNI-based match conditions (ORed). Required. */
  match: TLSMatchAttributes[];
  /** Weighted destinations for the connection. */
  route?: RouteDestination[];
}

export interface TCPRoute {
  /** Conditions (ORed); none means match everything. */
  match?: L4MatchAttributes[];
  /** Weighted destinations for the connection. */
  route?: RouteDestination[];
}

export interface L4MatchAttributes {
  /** Destination IP addresses or CIDR blocks. */
  destinationSubnets?: string[];
  /** Destination port. */
  port?: number;
  /** Deprecated: source IP or CIDR. */
  sourceSubnet?: string;
  /** Labels of the calling workload. */
  sourceLabels?: Record<string, string>;
  /** Gateways this match applies to. */
  gateways?: string[];
  /** Namespace of the calling workload. */
  sourceNamespace?: string;
}

export interface TLSMatchAttributes {
  /** SNI values to match (wildcards allowed); each must be covered by the VirtualService's hosts. Required. */
  sniHosts: string[];
  /** Destination IP addresses or CIDR blocks. */
  destinationSubnets?: string[];
  /** Destination port. */
  port?: number;
  /** Labels of the calling workload. */
  sourceLabels?: Record<string, string>;
  /** Gateways this match applies to. */
  gateways?: string[];
  /** Namespace of the calling workload. */
  sourceNamespace?: string;
}

export type RedirectPortSelection = 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT';

export interface HTTPRedirect {
  /** Replace the whole path with this value. */
  uri?: string;
  /** Replace the authority (host) with this value. */
  authority?: string;
  /** Port in the Location header; excludes derivePort. */
  port?: number;
  /** Derive the port from the request or the scheme's default; excludes port. */
  derivePort?: RedirectPortSelection;
  /** Scheme of the Location header; default the request's. */
  scheme?: string;
  /** Status code; default 301. */
  redirectCode?: number;
  /** Replace the matched prefix with this value (needs a prefix uri match); excludes uri. */
  prefixRewrite?: string;
}

export interface HTTPDirectResponse {
  /** Status code to answer with, 200–599. Required. */
  status: number;
  /** Response body. */
  body?: HTTPBody;
}

/** Exactly one of string or bytes (base64). */
export interface HTTPBody {
  string?: string;
  /** Base64-encoded body. */
  bytes?: string;
}

export interface HTTPRewrite {
  /** Replace the matched uri prefix (or the whole path for exact matches) with this value. */
  uri?: string;
  /** Replace the Host/:authority header. */
  authority?: string;
  /** Rewrite the path with an RE2 regex; excludes uri. */
  uriRegexRewrite?: RegexRewrite;
}

export interface RegexRewrite {
  /** RE2 pattern matched against the path. */
  match?: string;
  /** Substitution; `\1`… refer to capture groups. */
  rewrite?: string;
}

export interface HTTPRetry {
  /** Number of retries (not counting the first try), ≥ 0; 0 disables retries. */
  attempts?: number;
  /** Timeout per try, including the first; default the route timeout. ≥ 1ms. */
  perTryTimeout?: Duration;
  /** Comma-separated retry conditions (5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, retriable-status-codes, retriable-headers, cancelled, deadline-exceeded, internal, resource-exhausted, unavailable …) or HTTP status codes. */
  retryOn?: string;
  /** Retry on endpoints in other localities; default false. */
  retryRemoteLocalities?: boolean;
  /** Avoid hosts already tried; default true in Istio. */
  retryIgnorePreviousHosts?: boolean;
  /** Base interval of the exponential backoff between retries; default 25ms. */
  backoff?: Duration;
}

export type UnmatchedPreflights = 'UNSPECIFIED' | 'FORWARD' | 'IGNORE';

export interface CorsPolicy {
  /** Deprecated: exact origins; use allowOrigins. */
  allowOrigin?: string[];
  /** Origins allowed to make requests (StringMatch each). */
  allowOrigins?: StringMatch[];
  /** Methods allowed (`GET`, `POST`, … or `*`). */
  allowMethods?: string[];
  /** Request headers allowed (`*` for all). */
  allowHeaders?: string[];
  /** Response headers the browser may read. */
  exposeHeaders?: string[];
  /** How long a preflight result may be cached; whole seconds are used (Access-Control-Max-Age). */
  maxAge?: Duration;
  /** Whether credentials may be sent; default false. */
  allowCredentials?: boolean;
  /** What to do with preflights whose origin does not match: FORWARD (default) to the upstream, or IGNORE. */
  unmatchedPreflights?: UnmatchedPreflights;
}

export interface HTTPFaultInjection {
  /** Delay requests before forwarding. */
  delay?: FaultDelay;
  /** Abort requests with an error. */
  abort?: FaultAbort;
}

export interface FaultDelay {
  /** Deprecated: percentage 0–100 of requests delayed; use percentage. */
  percent?: number;
  /** Fixed delay, ≥ 1ms. One of fixedDelay/exponentialDelay is required. */
  fixedDelay?: Duration;
  /** Exponential delay (not supported by Istio; rejected). */
  exponentialDelay?: Duration;
  /** Percentage of requests delayed; default 100 when unset. */
  percentage?: Percent;
}

export interface FaultAbort {
  /** HTTP status returned, 200–599. One of httpStatus/grpcStatus/http2Error is required. */
  httpStatus?: number;
  /** gRPC status code name (e.g. UNAVAILABLE) or number returned. */
  grpcStatus?: string;
  /** HTTP/2 error (not supported by Istio; rejected). */
  http2Error?: string;
  /** Percentage of requests aborted; default 100 when unset. */
  percentage?: Percent;
}

export interface HTTPMirrorPolicy {
  /** Where the copy goes. Required. */
  destination: Destination;
  /** Percentage of traffic mirrored; default 100. */
  percentage?: Percent;
}
