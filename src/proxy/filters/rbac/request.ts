// What authorization sees of one request (or one TCP connection): the attributes Envoy's RBAC reads, collected by
// the caller once per request. Paths are already normalised (src/proxy/security/path-normalize.ts).

/** The verified JWT of the request, as the jwt_authn filter leaves it (absent when no token was presented). */
export interface JwtInfo {
  /** `iss/sub`. */
  principal: string;
  /** The verified payload, with space-delimited claims (scope, permission …) split into lists. */
  claims: Readonly<Record<string, unknown>>;
  audiences: readonly string[];
  /** `azp`, or '' when absent. */
  presenter: string;
}

export interface AuthzRequest {
  /** HTTP method; undefined on a TCP connection. */
  method?: string;
  /** Request target (normalised path plus query); undefined on a TCP connection. */
  path?: string;
  /** :authority / Host, as sent. */
  host?: string;
  /** Flat header list: lower-case name, value, name, value … (the proxy's RequestHead.headers). */
  headers?: readonly string[];
  /** Address of the directly connected peer (Envoy's direct_remote_ip). */
  sourceIp: string;
  /** Original client address (X-Forwarded-For / PROXY protocol; Envoy's remote_ip); defaults to sourceIp. */
  remoteIp?: string;
  /** Local address the connection arrived on. */
  destinationIp?: string;
  destinationPort: number;
  /** TLS server name; '' when none. */
  sni?: string;
  /** The mTLS peer's SPIFFE id (`spiffe://td/ns/x/sa/y`); undefined on plaintext connections. */
  peerPrincipal?: string;
  jwt?: JwtInfo;
  /** Other dynamic metadata by filter name (for `experimental.envoy.filters.*` conditions). */
  metadata?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}
