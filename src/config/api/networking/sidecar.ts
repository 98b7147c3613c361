// Sidecar: typed spec (see sidecar.types.ts) and Istio's webhook rules — workloadSelector, ingress listeners (port,
// bind, defaultEndpoint forms, TLS limits, connection pools), egress listeners (one catch-all last, unique ports and
// sockets, `namespace/host` hosts), and outboundTrafficPolicy with its egress proxy.
import { Reporter, type SemanticValidator, type Validation } from '../validation/report.ts';
import type { Resource } from '../resource.ts';
import { isDns1123Label, validateFqdn, validateNamespacedHost } from '../validation/common/host.ts';
import { checkPort, isHttpProtocol, isIP, isTlsProtocol, parseProtocol, protocolNames, UNIX_ADDRESS_PREFIX, validateUnixAddress } from '../validation/common/net.ts';
import { checkWorkloadSelector } from '../validation/common/labels.ts';
import { checkMetadata } from '../validation/common/metadata.ts';
import { checkServerTls } from './server-tls.ts';
import { checkConnectionPool } from './traffic-policy.ts';
import { arr, checkDestination, isSet, num, obj, q, str, type Obj } from './util.ts';

export type * from './sidecar.types.ts';

export const validateSidecar: SemanticValidator = (resource: Resource): Validation => {
  const root = new Reporter();
  checkMetadata(root, resource.metadata);
  const spec = obj(resource.spec) ?? {};
  const r = root.at('spec');
  const namespace = resource.metadata.namespace ?? 'default';
  const before = root.out.errors.length;
  checkWorkloadSelector(r.at('workloadSelector'), spec.workloadSelector, 'labels');
  // Istio stops at selector errors and at an empty Sidecar.
  if (root.out.errors.length > before) return root.out;
  const ingress = arr(spec.ingress);
  const egress = arr(spec.egress);
  if (ingress.length === 0 && egress.length === 0 && !isSet(spec.outboundTrafficPolicy) && !isSet(spec.inboundConnectionPool)) {
    r.error('empty Sidecar: configure at least one of ingress, egress, outboundTrafficPolicy or inboundConnectionPool');
    return root.out;
  }
  checkIngress(r.at('ingress'), ingress);
  checkConnectionPool(r.at('inboundConnectionPool'), spec.inboundConnectionPool);
  checkEgress(r.at('egress'), egress, namespace);
  checkOutboundTrafficPolicy(r.at('outboundTrafficPolicy'), obj(spec.outboundTrafficPolicy));
  return root.out;
};

function checkSidecarPort(r: Reporter, port: Obj): void {
  const name = str(port.name);
  if (name !== '' && !isDns1123Label(name)) r.at('name').error(`invalid port name ${q(name)}: it must be a DNS-1123 label`);
  const protocol = str(port.protocol);
  if (protocol !== '' && parseProtocol(protocol) === undefined) r.at('protocol').error(`unsupported protocol ${q(protocol)}: use one of ${protocolNames().join(', ')}`);
  checkPort(r.at('number'), isSet(port.number) ? port.number : 0);
}

/** `127.0.0.1:PORT`, `0.0.0.0:PORT`, `[::1]:PORT`, `[::]:PORT`, `:PORT` or `unix:///path`. */
function checkDefaultEndpoint(r: Reporter, ep: string): void {
  if (ep.startsWith(UNIX_ADDRESS_PREFIX)) {
    const m = validateUnixAddress(ep.slice(UNIX_ADDRESS_PREFIX.length));
    if (m !== undefined) r.error(m);
    return;
  }
  const hostPort = /^(?:\[([^\]]*)\]|([^:[\]]*)):([^:]*)$/.exec(ep);
  const form = 'defaultEndpoint must be 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, [::]:PORT or unix:///path';
  if (hostPort === null) return r.error(`${form} (got ${q(ep)})`);
  const host = hostPort[1] ?? hostPort[2] ?? '';
  const portText = hostPort[3] ?? '';
  if (host !== '' && host !== '127.0.0.1' && host !== '0.0.0.0' && host !== '::1' && host !== '::') r.error(`${form} (got ${q(ep)})`);
  if (!/^[+-]?[0-9]+$/.test(portText)) r.error(`defaultEndpoint port ${q(portText)} is not a number`);
  else checkPort(r, Number(portText));
}

function checkIngress(r: Reporter, ingress: unknown[]): void {
  const ports = new Set<number>();
  ingress.forEach((l, i) => {
    const ir = r.at(i);
    const lo = obj(l);
    if (lo === undefined) return ir.error('ingress listener may not be null');
    const port = obj(lo.port);
    if (port === undefined) return ir.at('port').error('port is required for ingress listeners');
    if (num(port.targetPort) > 0) ir.at('port').at('targetPort').error('targetPort has no effect on Sidecars: remove it');
    checkSidecarPort(ir.at('port'), port);
    const bind = str(lo.bind);
    if (bind !== '' && !isIP(bind)) ir.at('bind').error(`bind ${q(bind)} is not a valid IP address`);
    const n = num(port.number);
    if (ports.has(n)) ir.at('port').at('number').error(`port ${n} is already used by another ingress listener: ports on IP-bound listeners must be unique`);
    ports.add(n);
    const ep = str(lo.defaultEndpoint);
    if (ep !== '') checkDefaultEndpoint(ir.at('defaultEndpoint'), ep);
    const tls = obj(lo.tls);
    if (tls !== undefined) {
      const tr = ir.at('tls');
      if (arr(tls.subjectAltNames).length > 0) tr.at('subjectAltNames').error('subjectAltNames is not supported in Sidecar ingress TLS');
      if (tls.httpsRedirect === true) tr.at('httpsRedirect').error('httpsRedirect is not supported in Sidecar ingress TLS');
      if (str(tls.credentialName) !== '') tr.at('credentialName').error('credentialName is not supported in Sidecar ingress TLS: use serverCertificate and privateKey files');
      if (arr(tls.credentialNames).length > 0) tr.at('credentialNames').error('credentialNames is not supported in Sidecar ingress TLS');
      if (arr(tls.tlsCertificates).length > 0) tr.at('tlsCertificates').error('tlsCertificates is not supported in Sidecar ingress TLS');
      const mode = str(tls.mode) || 'PASSTHROUGH';
      if (mode === 'ISTIO_MUTUAL' || mode === 'AUTO_PASSTHROUGH') tr.at('mode').error(`mode ${mode} cannot be used in Sidecar ingress TLS: use SIMPLE or MUTUAL`);
      const p = parseProtocol(str(port.protocol));
      if (!(p !== undefined && isTlsProtocol(p))) tr.error('TLS settings need an HTTPS or TLS port protocol');
      checkServerTls(tr, tls);
    }
    checkConnectionPool(ir.at('connectionPool'), lo.connectionPool);
    const p = parseProtocol(str(port.protocol));
    if (isSet(obj(lo.connectionPool)?.http) && !(p !== undefined && isHttpProtocol(p))) {
      ir.at('connectionPool').at('http').warn(`HTTP connection pool settings are set for port ${n} (${q(port.name)}) whose protocol is not HTTP (${str(port.protocol)}): only the TCP settings apply`);
    }
  });
}

function checkEgress(r: Reporter, egress: unknown[], namespace: string): void {
  const ports = new Set<number>();
  const sockets = new Set<string>();
  let catchAll = false;
  egress.forEach((l, i) => {
    const er = r.at(i);
    const lo = obj(l);
    if (lo === undefined) return er.error('egress listener may not be null');
    const port = obj(lo.port);
    const bind = str(lo.bind);
    if (port === undefined) {
      if (catchAll) return er.error('only one egress listener may omit the port (the catch-all listener)');
      if (i === egress.length - 1) catchAll = true;
      else er.error('the egress listener without a port (the catch-all) must be the last in the list');
    } else {
      if (num(port.targetPort) > 0) er.at('port').at('targetPort').error('targetPort has no effect on Sidecars: remove it');
      checkEgressPort(er, port, bind, str(lo.captureMode) || 'DEFAULT');
      const n = num(port.number);
      if (n === 0) {
        if (sockets.has(bind)) er.at('bind').error('unix domain socket binds of egress listeners must be unique');
        sockets.add(bind);
      } else {
        if (ports.has(n)) er.at('port').at('number').error(`port ${n} is already used by another egress listener: ports on IP-bound listeners must be unique`);
        ports.add(n);
      }
    }
    checkEgressHosts(er.at('hosts'), arr(lo.hosts).map(str), namespace);
  });
}

function checkEgressPort(r: Reporter, port: Obj, bind: string, captureMode: string): void {
  const pr = r.at('port');
  const name = str(port.name);
  if (name !== '' && !isDns1123Label(name)) pr.at('name').error(`invalid port name ${q(name)}: it must be a DNS-1123 label`);
  const protocol = str(port.protocol);
  if (protocol !== '' && parseProtocol(protocol) === undefined) pr.at('protocol').error(`unsupported protocol ${q(protocol)}: use one of ${protocolNames().join(', ')}`);
  if (num(port.number) === 0) {
    if (!bind.startsWith(UNIX_ADDRESS_PREFIX)) r.at('bind').error('a port number of 0 needs a unix domain socket bind (unix:///path)');
    else {
      const m = validateUnixAddress(bind.slice(UNIX_ADDRESS_PREFIX.length));
      if (m !== undefined) r.at('bind').error(m);
    }
    if (captureMode !== 'DEFAULT' && captureMode !== 'NONE') r.at('captureMode').error('captureMode must be DEFAULT or NONE for unix domain socket listeners');
  } else {
    checkPort(pr.at('number'), port.number);
    if (bind !== '' && !isIP(bind)) r.at('bind').error(`bind ${q(bind)} is not a valid IP address`);
  }
}

function checkEgressHosts(r: Reporter, hosts: string[], namespace: string): void {
  if (hosts.length === 0) return r.error('an egress listener needs at least one host, e.g. "./*" or "istio-system/*"');
  const byNs = new Map<string, Set<string>>();
  hosts.forEach((h, i) => {
    const slash = h.indexOf('/');
    if (slash >= 0 && !h.startsWith('~')) {
      const ns = h.slice(0, slash) === '.' ? namespace : h.slice(0, slash);
      const svc = h.slice(slash + 1);
      const set = byNs.get(ns) ?? new Set<string>();
      byNs.set(ns, set);
      if (svc !== '*' ? set.has(svc) || set.has('*') : set.size > 0) {
        r.at(i).warn(`duplicated egress host ${q(h)}: it is already covered by an earlier entry`);
      }
      set.add(svc);
    }
    for (const m of validateNamespacedHost(h, 'sidecar')) r.at(i).error(m);
  });
  if (byNs.get('*')?.has('*') === true && byNs.size !== 1) r.warn('"*/*" already selects every host: the other entries have no effect');
}

function checkOutboundTrafficPolicy(r: Reporter, tp: Obj | undefined): void {
  if (tp === undefined) return;
  const mode = str(tp.mode) || 'REGISTRY_ONLY';
  if (mode === 'ALLOW_ANY_DYNAMIC_DNS') return r.at('mode').error('ALLOW_ANY_DYNAMIC_DNS is only supported in MeshConfig, not in a Sidecar');
  const proxy = obj(tp.egressProxy);
  if (proxy === undefined) return;
  if (mode !== 'ALLOW_ANY') return r.at('egressProxy').error('egressProxy can only be set with mode ALLOW_ANY');
  const fq = validateFqdn(str(proxy.host));
  if (fq !== undefined) r.at('egressProxy').at('host').error(fq);
  if (!isSet(proxy.port)) return r.at('egressProxy').at('port').error('egressProxy.port is required');
  checkDestination(r.at('egressProxy'), proxy);
}
