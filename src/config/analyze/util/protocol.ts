// Istio's protocol selection for Kubernetes Service ports (kube.ConvertProtocol): appProtocol, else the port
// name's prefix before '-', matched case-insensitively; well-known ports fall back to TCP.

export type Protocol = 'GRPC' | 'GRPC-Web' | 'HTTP' | 'HTTP_PROXY' | 'HTTP2' | 'HTTPS' | 'TCP' | 'TLS' | 'UDP' | 'Mongo' | 'Redis' | 'MySQL' | 'UnsupportedProtocol';

const byName: Record<string, Protocol> = {
  tcp: 'TCP',
  udp: 'UDP',
  grpc: 'GRPC',
  'grpc-web': 'GRPC-Web',
  http: 'HTTP',
  http_proxy: 'HTTP_PROXY',
  http2: 'HTTP2',
  https: 'HTTPS',
  tls: 'TLS',
  mongo: 'Mongo',
  redis: 'Redis',
  mysql: 'MySQL',
};

/** SMTP, DNS, MySQL and MongoDB ports default to TCP when the name says nothing. */
const wellKnownPorts = new Set([25, 53, 3306, 27017]);

export function parseProtocol(s: string): Protocol {
  return byName[s.toLowerCase()] ?? 'UnsupportedProtocol';
}

export function portProtocol(port: number, portName: string, proto: string, appProtocol: string | undefined): Protocol {
  if (proto === 'UDP') return 'UDP';
  let name = portName;
  if (appProtocol !== undefined) {
    name = appProtocol;
    if (name === 'kubernetes.io/h2c') return 'HTTP2';
    if (name === 'kubernetes.io/ws') return 'HTTP';
    if (name === 'kubernetes.io/wss') return 'HTTPS';
  }
  if (name.length >= 8 && name.slice(0, 8).toLowerCase() === 'grpc-web') return 'GRPC-Web';
  const dash = name.indexOf('-');
  if (dash >= 0) name = name.slice(0, dash);
  const p = parseProtocol(name);
  if (p === 'UnsupportedProtocol' && wellKnownPorts.has(port)) return 'TCP';
  return p;
}
