// Gateway: typed spec (see gateway.types.ts) and Istio's webhook rules for it — servers with valid ports, protocols,
// binds and `namespace/host` hosts, TLS settings by mode (see server-tls.ts), unique port names.
import { Reporter, type SemanticValidator, type Validation } from '../validation/report.ts';
import type { Resource } from '../resource.ts';
import { isDns1123Label, validateNamespacedHost } from '../validation/common/host.ts';
import { checkPort, isHttpProtocol, isIP, isTlsProtocol, parseProtocol, UNIX_ADDRESS_PREFIX, validateUnixAddress } from '../validation/common/net.ts';
import { checkMetadata } from '../validation/common/metadata.ts';
import { checkServerTls } from './server-tls.ts';
import { arr, isSet, num, obj, q, str, type Obj } from './util.ts';

export type * from './gateway.types.ts';

export const validateGateway: SemanticValidator = (resource: Resource): Validation => {
  const root = new Reporter();
  checkMetadata(root, resource.metadata);
  const name = resource.metadata.name;
  if (!isDns1123Label(name)) root.at('metadata').at('name').error(`gateway name ${q(name)} is not valid: it must be a DNS-1123 label (no dots), because VirtualServices refer to it as namespace/name`);
  const spec = obj(resource.spec) ?? {};
  const r = root.at('spec');
  const servers = arr(spec.servers);
  if (servers.length === 0) r.at('servers').error('a Gateway needs at least one server');
  servers.forEach((s, i) => {
    const so = obj(s);
    if (so === undefined) return r.at('servers').at(i).error('server may not be null');
    checkServer(r.at('servers').at(i), so);
  });
  const portNames = new Map<string, number>();
  servers.forEach((s, i) => {
    const port = obj(obj(s)?.port);
    if (port === undefined) return;
    const pn = str(port.name);
    const first = portNames.get(pn);
    if (first !== undefined) r.at('servers').at(i).at('port').at('name').error(`port names in servers must be unique: ${q(pn)} is already used by servers[${first}]`);
    else portNames.set(pn, i);
    const p = parseProtocol(str(port.protocol));
    if (!(p !== undefined && isHttpProtocol(p)) && obj(obj(s)?.tls)?.httpsRedirect === true) {
      r.at('servers').at(i).at('tls').at('httpsRedirect').warn('tls.httpsRedirect only has an effect on HTTP servers');
    }
  });
  return root.out;
};

function checkServer(r: Reporter, s: Obj): void {
  const hosts = arr(s.hosts);
  if (hosts.length === 0) r.at('hosts').error('a server needs at least one host, e.g. "*" or "ns/example.com"');
  hosts.forEach((h, i) => {
    for (const m of validateNamespacedHost(str(h), 'gateway')) r.at('hosts').at(i).error(m);
  });
  const bind = str(s.bind);
  const port = obj(s.port);
  let portOk = false;
  if (port === undefined) r.at('port').error('port is required (number, protocol and name)');
  else portOk = checkServerPort(r.at('port'), port, bind);
  if (bind.startsWith(UNIX_ADDRESS_PREFIX)) {
    const m = validateUnixAddress(bind.slice(UNIX_ADDRESS_PREFIX.length));
    if (m !== undefined) r.at('bind').error(m);
    if (port !== undefined && num(port.number) !== 0) r.at('port').at('number').error('port number must be 0 when binding to a unix domain socket');
  } else if (bind !== '' && !isIP(bind)) {
    r.at('bind').error(`bind ${q(bind)} is not a valid IP address (or unix:// socket)`);
  }
  const tls = obj(s.tls);
  checkServerTls(r.at('tls'), tls);
  if (portOk && port !== undefined) {
    const p = parseProtocol(str(port.protocol));
    if (p !== undefined && isTlsProtocol(p) && tls === undefined) {
      r.at('tls').error(`a ${str(port.protocol)} server needs TLS settings: add tls with mode SIMPLE and a credentialName, or PASSTHROUGH`);
    } else if (p !== undefined && !isTlsProtocol(p) && tls !== undefined) {
      if (isHttpProtocol(p)) {
        const passthrough = tls.mode === undefined || tls.mode === 'PASSTHROUGH' || tls.mode === 'AUTO_PASSTHROUGH';
        if (!passthrough || str(tls.caCertificates) !== '' || str(tls.privateKey) !== '' || str(tls.serverCertificate) !== '') {
          r.at('tls').error('a plain-text HTTP server cannot have TLS settings other than httpsRedirect: use protocol HTTPS to terminate TLS');
        }
      } else {
        r.at('tls').error(`a ${str(port.protocol)} server cannot have TLS settings: use protocol TLS or HTTPS`);
      }
    }
  }
}

/** Returns true when the port has no errors. */
function checkServerPort(r: Reporter, port: Obj, bind: string): boolean {
  const before = r.out.errors.length;
  const protocol = str(port.protocol);
  if (parseProtocol(protocol) === undefined) {
    r.at('protocol').error(`invalid protocol ${q(protocol)}: use one of HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TLS, TCP, MONGO, REDIS, MYSQL`);
  }
  if (num(port.number) > 0 || !bind.startsWith(UNIX_ADDRESS_PREFIX)) checkPort(r.at('number'), isSet(port.number) ? port.number : 0);
  if (num(port.targetPort) > 0) r.at('targetPort').error('targetPort has no effect on Gateways: remove it');
  if (str(port.name) === '') r.at('name').error('port name must be set (e.g. "http" or "https-443")');
  return r.out.errors.length === before;
}
