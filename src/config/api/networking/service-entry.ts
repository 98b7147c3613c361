// ServiceEntry: typed spec (see service-entry.types.ts) and Istio's webhook rules — hosts and wildcards per
// resolution, addresses (IP or CIDR), unique port names/numbers, endpoints vs workloadSelector, per-resolution
// endpoint rules (NONE, STATIC, DNS, DNS_ROUND_ROBIN, DYNAMIC_DNS), multi-host TCP limits, exportTo.
import { Reporter, type SemanticValidator, type Validation } from '../validation/report.ts';
import type { Resource } from '../resource.ts';
import { isDns1123Label, isWildcardHost, validateFqdn, validatePartialWildcard, validateWildcardDomain } from '../validation/common/host.ts';
import { checkPort, isHttpProtocol, isIP, isTlsProtocol, parseProtocol, protocolNames, checkIpOrCidr, type Protocol } from '../validation/common/net.ts';
import { checkLabels, checkWorkloadSelector } from '../validation/common/labels.ts';
import { checkExportTo } from '../validation/common/http.ts';
import { checkMetadata } from '../validation/common/metadata.ts';
import { checkWorkloadEntry } from './workload-entry.ts';
import { arr, entries, isSet, num, obj, q, str } from './util.ts';

export type * from './service-entry.types.ts';

/** Label that opts a ServiceEntry out of automatic VIP allocation. */
export const AUTOALLOCATE_LABEL = 'networking.istio.io/enable-autoallocate-ip';
const USE_WAYPOINT_LABEL = 'istio.io/use-waypoint';

/** Protocols Istio treats as TCP-based (what a CIDR/VIP match applies to). */
const isTcpBased = (p: Protocol | undefined): boolean => p === 'TCP' || p === 'HTTPS' || p === 'TLS' || p === 'Mongo' || p === 'Redis' || p === 'MySQL';

export const validateServiceEntry: SemanticValidator = (resource: Resource): Validation => {
  const root = new Reporter();
  checkMetadata(root, resource.metadata);
  const spec = obj(resource.spec) ?? {};
  const r = root.at('spec');
  const labels = resource.metadata.labels ?? {};
  const resolution = str(spec.resolution) || 'NONE';
  const hosts = arr(spec.hosts).map(str);
  const rawAddresses = arr(spec.addresses);
  const addresses = rawAddresses.map(str);
  const endpoints = arr(spec.endpoints);
  const ports = arr(spec.ports);
  const hasSelector = isSet(spec.workloadSelector);

  checkWorkloadSelector(r.at('workloadSelector'), spec.workloadSelector, 'labels');
  if (hasSelector && isSet(spec.endpoints)) r.error('only one of workloadSelector or endpoints may be set: endpoints lists addresses, workloadSelector selects workloads');

  if (hosts.length === 0) r.at('hosts').error('a ServiceEntry needs at least one host');
  hosts.forEach((h, i) => {
    const hr = r.at('hosts').at(i);
    if (h === '*') return hr.error('host "*" is not allowed in a ServiceEntry: name the hosts, or use a wildcard like "*.example.com"');
    const m = validateWildcardDomain(h);
    if (m !== undefined) hr.error(m);
    if (resolution !== 'DYNAMIC_DNS') {
      const pw = validatePartialWildcard(h);
      if (pw !== undefined) hr.warn(pw);
    }
  });

  let cidr = false;
  rawAddresses.forEach((a, i) => {
    if (typeof a === 'string' && a.includes('/')) cidr = true;
    checkIpOrCidr(r.at('addresses').at(i), a);
  });
  if (cidr && resolution !== 'NONE' && resolution !== 'STATIC') r.at('addresses').error(`CIDR addresses are only allowed with resolution NONE or STATIC, not ${resolution}`);

  const autoAllocate = resolution !== 'NONE' && (labels[AUTOALLOCATE_LABEL] ?? '').toLowerCase() !== 'false' && addresses.length === 0;
  const portNames = new Set<string>();
  const portNumbers = new Set<number>();
  ports.forEach((p, i) => {
    const pr = r.at('ports').at(i);
    const po = obj(p);
    if (po === undefined) return pr.error('service entry port may not be null');
    const name = str(po.name);
    const number = num(po.number);
    if (portNames.has(name)) pr.at('name').error(`port name ${q(name)} is already defined in this ServiceEntry`);
    portNames.add(name);
    if (portNumbers.has(number)) pr.at('number').error(`port ${number} is already defined in this ServiceEntry`);
    portNumbers.add(number);
    if (num(po.targetPort) !== 0) checkPort(pr.at('targetPort'), po.targetPort);
    const protocol = str(po.protocol);
    if (addresses.length === 0 && !autoAllocate && (protocol === '' || protocol === 'TCP')) {
      pr.warn('a TCP (or unset) protocol port without addresses cannot be told apart from other TCP services: set addresses, or enable IP auto-allocation');
    }
    if (!isDns1123Label(name)) pr.at('name').error(`invalid port name ${q(name)}: it must be a DNS-1123 label`);
    if (protocol !== '' && parseProtocol(protocol) === undefined) pr.at('protocol').error(`unsupported protocol ${q(protocol)}: use one of ${protocolNames().join(', ')}`);
    checkPort(pr.at('number'), po.number);
  });

  const protos = ports.map((p) => parseProtocol(str(obj(p)?.protocol)));
  switch (resolution) {
    case 'NONE':
      if (endpoints.length > 0) r.at('endpoints').error('resolution NONE takes no endpoints: remove them, or use resolution STATIC');
      if (hasSelector) r.at('workloadSelector').warn('workloadSelector has no effect with resolution NONE');
      break;
    case 'STATIC':
      endpoints.forEach((e, i) => {
        const eo = obj(e);
        if (eo === undefined) return r.at('endpoints').at(i).error('endpoint cannot be null');
        checkWorkloadEntry(r.at('endpoints').at(i), eo, { servicePorts: portNames, allowFqdn: false });
      });
      break;
    case 'DNS':
    case 'DNS_ROUND_ROBIN':
      if (endpoints.length === 0) {
        const bad = hosts.findIndex((h) => validateFqdn(h) !== undefined);
        if (bad >= 0) {
          r.at('hosts').at(bad).error(`with resolution ${resolution} and no endpoints, hosts are resolved by DNS and must be FQDNs (no wildcards): ${validateFqdn(hosts[bad] ?? '') ?? ''}`);
        }
      }
      if (resolution === 'DNS_ROUND_ROBIN' && endpoints.length > 1) r.at('endpoints').error('resolution DNS_ROUND_ROBIN takes at most one endpoint');
      endpoints.forEach((e, i) => {
        const er = r.at('endpoints').at(i);
        const eo = obj(e);
        if (eo === undefined) return er.error('endpoint cannot be null');
        const addr = str(eo.address);
        if (!isIP(addr) && validateFqdn(addr) !== undefined) er.at('address').error(`endpoint address ${q(addr)} is not a valid FQDN or IP address`);
        checkLabels(er.at('labels'), eo.labels);
        for (const [name, port] of entries(eo.ports)) {
          const pr = er.at('ports').at(name);
          if (!portNames.has(name)) pr.error(`endpoint port ${q(name)} is not defined by the ServiceEntry: use one of its port names`);
          if (!isDns1123Label(name)) pr.error(`invalid port name ${q(name)}: it must be a DNS-1123 label`);
          checkPort(pr, port);
        }
      });
      if (addresses.length > 0 && hosts.length > 1 && protos.some(isTcpBased)) {
        r.at('hosts').warn('a ServiceEntry with addresses and a TCP port should have only one host: TCP traffic to the address cannot be told apart by host');
      }
      break;
    case 'DYNAMIC_DNS':
      hosts.forEach((h, i) => {
        if (!isWildcardHost(h)) r.at('hosts').at(i).error(`resolution DYNAMIC_DNS needs wildcard hosts (e.g. "*.example.com"), not ${q(h)}`);
      });
      if (addresses.length > 0) r.at('addresses').error('addresses cannot be set with resolution DYNAMIC_DNS: the destination comes from the host name');
      if (endpoints.length > 0) r.at('endpoints').error('endpoints cannot be set with resolution DYNAMIC_DNS: the destination comes from the host name');
      protos.forEach((p, i) => {
        if (p !== 'HTTP' && p !== 'TLS' && p !== 'GRPC' && p !== 'HTTP2') r.at('ports').at(i).at('protocol').error('resolution DYNAMIC_DNS supports only HTTP, TLS, GRPC and HTTP2 ports');
      });
      if (str(spec.location) === 'MESH_INTERNAL' && (labels[USE_WAYPOINT_LABEL] ?? '') !== '' && (labels[USE_WAYPOINT_LABEL] ?? '').toLowerCase() !== 'none') {
        r.at('location').error('location MESH_INTERNAL with resolution DYNAMIC_DNS is not supported when the ServiceEntry uses a waypoint');
      }
      break;
    default:
      r.at('resolution').error(`unsupported resolution ${q(resolution)}: use NONE, STATIC, DNS, DNS_ROUND_ROBIN or DYNAMIC_DNS`);
  }

  // With several hosts, only HTTP (Host header) and TLS (SNI) can tell them apart, unless resolution is NONE.
  if (resolution !== 'NONE' && hosts.length > 1) {
    const i = protos.findIndex((p) => !(p !== undefined && (isHttpProtocol(p) || isTlsProtocol(p))));
    if (i >= 0) r.at('ports').at(i).error('several hosts with a non-HTTP, non-TLS port cannot be told apart: use one host per ServiceEntry, or resolution NONE');
  }
  checkExportTo(r.at('exportTo'), resource.metadata.namespace ?? 'default', spec.exportTo, { serviceEntry: true });
  return root.out;
};
