// Types shared by several networking.istio.io kinds (v1, v1beta1 and v1alpha3 share one schema): destinations,
// string matchers, percentages, connection pools, TLS settings, ports and workload selectors.
// Durations are Go-syntax strings (`"5s"`, `"300ms"`) as written in YAML; parse them with parseGoDuration.

/** A Go-syntax duration string such as `"5s"`, `"300ms"` or `"1h30m"`; Istio requires ≥ 1ms, whole milliseconds. */
export type Duration = string;

/** Exactly one of `exact`, `prefix` or `regex` (RE2, full match). Values are case-sensitive unless a field says otherwise. */
export interface StringMatch {
  /** Matches when the value equals this string. */
  exact?: string;
  /** Matches when the value starts with this string; must not be empty. */
  prefix?: string;
  /** RE2 regular expression that must match the whole value (Envoy safe_regex); at most 1024 characters. */
  regex?: string;
}

/** A percentage as a double, 0 or within [0.0001, 100]. */
export interface Percent {
  /** Percentage value; default 0. */
  value?: number;
}

/** Selects a port of the destination service. */
export interface PortSelector {
  /** Port number 1–65535; required when the service exposes several ports. */
  number?: number;
}

/** Where traffic goes: a service host, optionally a subset and a port. */
export interface Destination {
  /** Service name from the registry (Kubernetes service, ServiceEntry host); short names resolve in the rule's namespace. Required. */
  host: string;
  /** Name of a subset defined in the host's DestinationRule; a DNS-1123 label. */
  subset?: string;
  /** Port on the host; required only when the service has more than one port. */
  port?: PortSelector;
}

/** Labels that select workloads (networking kinds: Sidecar, ServiceEntry). */
export interface NetworkingWorkloadSelector {
  /** Workloads carrying all these labels are selected; no `*`, no empty keys. */
  labels?: Record<string, string>;
}

/** Labels that select workloads (istio.type.v1beta1, used by DestinationRule). */
export interface TypeWorkloadSelector {
  /** Workloads carrying all these labels are selected; no `*`, no empty keys. */
  matchLabels?: Record<string, string>;
}

/** A port a listener or service exposes. */
export interface Port {
  /** Port number 1–65535. Required. */
  number: number;
  /** HTTP, HTTPS, GRPC, GRPC-Web, HTTP2, MONGO, TCP, TLS, … (case-insensitive). Required for gateways. */
  protocol?: string;
  /** Label for the port, unique among the servers of a Gateway. Required for gateways. */
  name?: string;
  /** Deprecated: the port on the workload; ignored by gateways. */
  targetPort?: number;
}

/** TCP connection-pool settings (upstream for DestinationRule, inbound for Sidecar). */
export interface TcpSettings {
  /** Maximum connections to a host; default 2^32-1 (effectively unlimited). */
  maxConnections?: number;
  /** TCP connect timeout; default 10s. */
  connectTimeout?: Duration;
  /** SO_KEEPALIVE settings; keepalive is off unless this is set. */
  tcpKeepalive?: {
    /** Unanswered probes before the connection is dead; default the OS value (9 on Linux). */
    probes?: number;
    /** Idle time before the first probe; default the OS value (2h on Linux). */
    time?: Duration;
    /** Time between probes; default the OS value (75s on Linux). */
    interval?: Duration;
  };
  /** Maximum lifetime of a connection; unset means no limit. */
  maxConnectionDuration?: Duration;
  /** Idle time after which a TCP connection is closed; default 1h. */
  idleTimeout?: Duration;
}

export type H2UpgradePolicy = 'DEFAULT' | 'DO_NOT_UPGRADE' | 'UPGRADE';

/** HTTP connection-pool settings. */
export interface HttpSettings {
  /** Maximum requests queued while waiting for a connection; default 2^32-1. */
  http1MaxPendingRequests?: number;
  /** Maximum active requests to a destination; default 2^32-1. */
  http2MaxRequests?: number;
  /** Maximum requests per connection; 0 means unlimited, 1 disables keep-alive. */
  maxRequestsPerConnection?: number;
  /** Maximum concurrent retries across all hosts of the cluster; default 2^32-1. */
  maxRetries?: number;
  /** Idle time after which an upstream connection with no active requests is closed; default 1h. */
  idleTimeout?: Duration;
  /** Whether HTTP/1.1 is upgraded to HTTP/2 towards the destination; default follows the mesh setting. */
  h2UpgradePolicy?: H2UpgradePolicy;
  /** Use the client's protocol (HTTP/1.1 or HTTP/2) towards the upstream; default false. */
  useClientProtocol?: boolean;
  /** Maximum concurrent streams per HTTP/2 connection; default 2^31-1. */
  maxConcurrentStreams?: number;
  /** HTTP/2 PING keepalive; off unless set. */
  http2KeepAlive?: {
    /** Interval between PINGs; ≥ 1ms. */
    interval?: Duration;
    /** Time to wait for a PING response before closing; ≥ 1ms. */
    timeout?: Duration;
  };
}

/** Volume limits on connections and requests (circuit breaking). */
export interface ConnectionPoolSettings {
  tcp?: TcpSettings;
  http?: HttpSettings;
}

export type ServerTLSMode = 'PASSTHROUGH' | 'SIMPLE' | 'MUTUAL' | 'AUTO_PASSTHROUGH' | 'ISTIO_MUTUAL' | 'OPTIONAL_MUTUAL';
export type TLSProtocolVersion = 'TLS_AUTO' | 'TLSV1_0' | 'TLSV1_1' | 'TLSV1_2' | 'TLSV1_3';

/** TLS served by a Gateway server or a Sidecar ingress listener. */
export interface ServerTLSSettings {
  /** When true (HTTP servers only), plain-HTTP requests get a 301 to HTTPS. */
  httpsRedirect?: boolean;
  /** How TLS is handled; default PASSTHROUGH. */
  mode?: ServerTLSMode;
  /** Path of the server certificate PEM file; required for SIMPLE/MUTUAL unless credentialName(s) or tlsCertificates is set. */
  serverCertificate?: string;
  /** Path of the private key PEM file; required with serverCertificate. */
  privateKey?: string;
  /** Path of the CA bundle used to verify client certificates (MUTUAL). */
  caCertificates?: string;
  /** Path of a certificate revocation list. */
  caCrl?: string;
  /** Name of the secret holding key, certificate and optionally CA (`<name>-cacert` for a separate CA). */
  credentialName?: string;
  /** Up to two secrets (e.g. an RSA and an ECDSA certificate); excludes credentialName. */
  credentialNames?: string[];
  /** Secret holding only the CA used to verify clients (MUTUAL/OPTIONAL_MUTUAL). */
  caCertCredentialName?: string;
  /** Up to two inline file-based certificate sets; excludes serverCertificate/privateKey/credentialName(s). */
  tlsCertificates?: { serverCertificate?: string; privateKey?: string; caCertificates?: string }[];
  /** Subject alternative names accepted in client certificates. */
  subjectAltNames?: string[];
  /** Base64 SHA-256 SPKI hashes accepted for client certificates. */
  verifyCertificateSpki?: string[];
  /** Hex SHA-256 certificate hashes accepted for client certificates. */
  verifyCertificateHash?: string[];
  /** Minimum TLS version; default TLSV1_2. */
  minProtocolVersion?: TLSProtocolVersion;
  /** Maximum TLS version; default TLSV1_3. */
  maxProtocolVersion?: TLSProtocolVersion;
  /** Allowed cipher suites (OpenSSL names); default Envoy's list. */
  cipherSuites?: string[];
  /** ECDH curves offered (e.g. X25519, P-256); default Envoy's list. */
  ecdhCurves?: string[];
  /** Skip verifying the client certificate (MUTUAL/OPTIONAL_MUTUAL testing only). */
  insecureSkipVerify?: boolean;
}

export type ClientTLSMode = 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';

/** TLS originated towards an upstream (DestinationRule trafficPolicy.tls). */
export interface ClientTLSSettings {
  /** DISABLE (plain text), SIMPLE (TLS), MUTUAL (mTLS with given certs), ISTIO_MUTUAL (mesh mTLS); default DISABLE. */
  mode?: ClientTLSMode;
  /** Path of the client certificate PEM; required for MUTUAL unless credentialName is set. */
  clientCertificate?: string;
  /** Path of the client private key PEM; required for MUTUAL unless credentialName is set. */
  privateKey?: string;
  /** Path of the CA bundle used to verify the server. */
  caCertificates?: string;
  /** Secret holding client key/cert/CA (SIMPLE, MUTUAL); excludes the file fields. */
  credentialName?: string;
  /** Names accepted in the server certificate's SAN. */
  subjectAltNames?: string[];
  /** SNI sent in the handshake; default the destination host for SIMPLE/MUTUAL. */
  sni?: string;
  /** Skip verifying the server certificate; default false. */
  insecureSkipVerify?: boolean;
  /** Path of a certificate revocation list. */
  caCrl?: string;
}

/** A workload's address, ports and labels (a WorkloadEntry spec; also ServiceEntry endpoints and WorkloadGroup templates). */
export interface WorkloadEntrySpec {
  /** IP address, DNS name (ServiceEntry DNS resolution only) or `unix:///path`; required except on network-gateway-only entries. */
  address?: string;
  /** Service port name → workload port number; unset means the service's port numbers. */
  ports?: Record<string, number>;
  /** Labels of the workload, used by subsets and selectors. */
  labels?: Record<string, string>;
  /** Network the workload is on; endpoints on the same network are reached directly. */
  network?: string;
  /** `region/zone/subzone` of the workload, for locality load balancing. */
  locality?: string;
  /** Load-balancing weight; default 1. */
  weight?: number;
  /** Service account of the workload (its SPIFFE identity); must be in the entry's namespace. */
  serviceAccount?: string;
}
