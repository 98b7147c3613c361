// Structural checks of the Kubernetes kinds the mesh reads (Service, Pod, Deployment, EndpointSlice, Namespace,
// ServiceAccount): the API server's rules for the fields Weft uses — port ranges, names, selectors, addresses.
// Fields the mesh does not read are not judged, so ordinary manifests pass whatever else they carry.
import { isIPv4, isIPv6, isIP } from '../validation/common/net.ts';
import { isDns1123Subdomain } from '../validation/common/host.ts';
import { validateLabelKey, validateLabelValue } from '../validation/common/labels.ts';
import { Reporter, type Validation } from '../validation/report.ts';

/** A reporter for a map entry, printed the Kubernetes way: `metadata.labels[app]`. */
const atKey = (r: Reporter, key: string): Reporter => new Reporter(`${r.path}[${key}]`, r.out);

export type * from './types.ts';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const IANA_SVC_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const PROTOCOLS = ['TCP', 'UDP', 'SCTP'];
const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const q = (v: unknown): string => JSON.stringify(v) ?? String(v);

/** The structural layer for Kubernetes kinds: `body` is the whole object; paths are from its root. */
export function kubeStructure(body: Obj, kind: string): Validation {
  const r = new Reporter();
  switch (kind) {
    case 'Service':
      checkService(r.at('spec'), body['spec']);
      break;
    case 'Pod':
      checkPodSpec(r.at('spec'), body['spec']);
      checkPodStatus(r.at('status'), body['status']);
      break;
    case 'Deployment':
      checkDeployment(r.at('spec'), body['spec']);
      break;
    case 'EndpointSlice':
      checkEndpointSlice(r, body);
      break;
    case 'Namespace': {
      const name = isObj(body['metadata']) ? body['metadata']['name'] : undefined;
      if (typeof name === 'string' && (name.length > 63 || !DNS1123_LABEL.test(name))) {
        r.at('metadata').at('name').error(`${q(name)} is not a valid namespace name: use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit`);
      }
      break;
    }
    case 'ServiceAccount':
      break;
  }
  return r.out;
}

function int(r: Reporter, v: unknown, min: number, max: number, what: string): boolean {
  if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return true;
  r.error(`${what} must be a whole number from ${min} to ${max}, found ${q(v)}`);
  return false;
}

function objectAt(r: Reporter, v: unknown, required: boolean): Obj | undefined {
  if (v === undefined || v === null) {
    if (required) r.error('required');
    return undefined;
  }
  if (!isObj(v)) {
    r.error(`must be an object, found ${q(v)}`);
    return undefined;
  }
  return v;
}

function listAt(r: Reporter, v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    r.error(`must be a list, found ${q(v)}`);
    return [];
  }
  return v;
}

function protocol(r: Reporter, v: unknown): void {
  if (v !== undefined && !PROTOCOLS.includes(v as string)) r.error(`unsupported protocol ${q(v)}: use TCP, UDP or SCTP`);
}

/** IANA service name: ≤ 15 lower-case letters, digits and '-', at least one letter, no '--', no '-' at either end. */
export function ianaNameProblem(name: string): string | undefined {
  if (name.length > 15 || !IANA_SVC_NAME.test(name) || name.includes('--') || !/[a-z]/.test(name)) {
    return `${q(name)} is not a valid port name: use at most 15 lower-case letters, digits and '-', with at least one letter`;
  }
  return undefined;
}

function stringMap(r: Reporter, v: unknown, labels: boolean): void {
  const m = objectAt(r, v, false);
  if (!m) return;
  for (const [k, val] of Object.entries(m)) {
    if (typeof val !== 'string') {
      atKey(r, k).error(`value must be a string, found ${q(val)}; quote it`);
      continue;
    }
    const why = labels ? (validateLabelKey(k) ?? validateLabelValue(val)) : undefined;
    if (why) atKey(r, k).error(why);
  }
}

function checkService(r: Reporter, raw: unknown): void {
  const spec = objectAt(r, raw, false) ?? {};
  const type = spec['type'] ?? 'ClusterIP';
  if (!SERVICE_TYPES.includes(type as string)) r.at('type').error(`unsupported Service type ${q(type)}: use ${SERVICE_TYPES.join(', ')}`);
  const clusterIP = spec['clusterIP'];
  if (clusterIP !== undefined && clusterIP !== '' && clusterIP !== 'None' && !(typeof clusterIP === 'string' && isIP(clusterIP))) {
    r.at('clusterIP').error(`${q(clusterIP)} is not a valid clusterIP: use an IP address, "None" for a headless Service, or leave it unset`);
  }
  listAt(r.at('clusterIPs'), spec['clusterIPs']).forEach((ip, i) => {
    if (ip !== 'None' && !(typeof ip === 'string' && isIP(ip))) r.at('clusterIPs').at(i).error(`${q(ip)} is not a valid IP address`);
  });
  if (type === 'ExternalName') {
    const en = spec['externalName'];
    if (typeof en !== 'string' || !isDns1123Subdomain(en.replace(/\.$/, ''))) {
      r.at('externalName').error(`required for type ExternalName: a DNS name such as "api.example.com", found ${q(en)}`);
    }
  }
  stringMap(r.at('selector'), spec['selector'], true);
  const ports = listAt(r.at('ports'), spec['ports']);
  if (ports.length === 0 && clusterIP !== 'None' && type !== 'ExternalName') {
    r.at('ports').error('required: a Service needs at least one port (unless it is headless, clusterIP: None, or ExternalName)');
  }
  const names = new Set<string>();
  const seen = new Set<string>();
  ports.forEach((p, i) => {
    const pr = r.at('ports').at(i);
    if (!isObj(p)) {
      pr.error(`must be an object with port (and name, targetPort), found ${q(p)}`);
      return;
    }
    const name = p['name'];
    if (name === undefined || name === '') {
      if (ports.length > 1) pr.at('name').error('required when a Service has more than one port: name each port (e.g. "http", "grpc-api")');
    } else if (typeof name !== 'string' || name.length > 63 || !DNS1123_LABEL.test(name)) {
      pr.at('name').error(`${q(name)} is not a valid port name: use at most 63 lower-case letters, digits and '-'`);
    } else if (names.has(name)) {
      pr.at('name').error(`duplicate port name ${q(name)}: port names must be unique within a Service`);
    } else {
      names.add(name);
    }
    int(pr.at('port'), p['port'], 1, 65535, 'port');
    protocol(pr.at('protocol'), p['protocol']);
    const id = `${String(p['port'])}/${String(p['protocol'] ?? 'TCP')}`;
    if (seen.has(id)) pr.error(`duplicate port ${id}: each port and protocol may appear once`);
    seen.add(id);
    const tp = p['targetPort'];
    if (typeof tp === 'string') {
      const why = /^[0-9]+$/.test(tp) ? undefined : ianaNameProblem(tp);
      if (why) pr.at('targetPort').error(why);
    } else if (tp !== undefined) {
      int(pr.at('targetPort'), tp, 1, 65535, 'targetPort');
    }
    if (p['nodePort'] !== undefined) int(pr.at('nodePort'), p['nodePort'], 1, 65535, 'nodePort');
    if (p['appProtocol'] !== undefined && typeof p['appProtocol'] !== 'string') pr.at('appProtocol').error(`must be a string, found ${q(p['appProtocol'])}`);
  });
}

function checkContainers(r: Reporter, raw: unknown, required: boolean, portNames: Set<string>): void {
  const list = listAt(r, raw);
  if (required && list.length === 0) r.error('required: a Pod needs at least one container');
  const names = new Set<string>();
  list.forEach((c, i) => {
    const cr = r.at(i);
    if (!isObj(c)) {
      cr.error(`must be an object with name and image, found ${q(c)}`);
      return;
    }
    const name = c['name'];
    if (typeof name !== 'string' || name.length > 63 || !DNS1123_LABEL.test(name)) {
      cr.at('name').error(`required: a DNS label (lower-case letters, digits and '-'), found ${q(name)}`);
    } else if (names.has(name)) {
      cr.at('name').error(`duplicate container name ${q(name)}`);
    } else {
      names.add(name);
    }
    listAt(cr.at('ports'), c['ports']).forEach((p, j) => {
      const pr = cr.at('ports').at(j);
      if (!isObj(p)) {
        pr.error(`must be an object with containerPort, found ${q(p)}`);
        return;
      }
      int(pr.at('containerPort'), p['containerPort'], 1, 65535, 'containerPort');
      protocol(pr.at('protocol'), p['protocol']);
      const pn = p['name'];
      if (pn !== undefined) {
        const why = typeof pn === 'string' ? ianaNameProblem(pn) : `must be a string, found ${q(pn)}`;
        if (why) pr.at('name').error(why);
        else if (portNames.has(pn as string)) pr.at('name').error(`duplicate port name ${q(pn)} in the Pod`);
        else portNames.add(pn as string);
      }
    });
  });
}

function checkPodSpec(r: Reporter, raw: unknown): void {
  const spec = objectAt(r, raw, true);
  if (!spec) return;
  const sa = spec['serviceAccountName'];
  if (sa !== undefined && sa !== '' && !(typeof sa === 'string' && isDns1123Subdomain(sa))) {
    r.at('serviceAccountName').error(`${q(sa)} is not a valid service account name (a lower-case DNS name)`);
  }
  const portNames = new Set<string>();
  checkContainers(r.at('containers'), spec['containers'], true, portNames);
  checkContainers(r.at('initContainers'), spec['initContainers'], false, portNames);
}

function checkPodStatus(r: Reporter, raw: unknown): void {
  if (!isObj(raw)) return;
  const ip = raw['podIP'];
  if (ip !== undefined && ip !== '' && !(typeof ip === 'string' && isIP(ip))) r.at('podIP').error(`${q(ip)} is not a valid IP address`);
}

function checkDeployment(r: Reporter, raw: unknown): void {
  const spec = objectAt(r, raw, true);
  if (!spec) return;
  if (spec['replicas'] !== undefined) int(r.at('replicas'), spec['replicas'], 0, 2 ** 31 - 1, 'replicas');
  const selector = objectAt(r.at('selector'), spec['selector'], true);
  const template = objectAt(r.at('template'), spec['template'], true);
  const tmeta = template ? objectAt(r.at('template').at('metadata'), template['metadata'], false) : undefined;
  stringMap(r.at('template').at('metadata').at('labels'), tmeta?.['labels'], true);
  if (template) checkPodSpec(r.at('template').at('spec'), template['spec']);
  if (!selector) return;
  const match = objectAt(r.at('selector').at('matchLabels'), selector['matchLabels'], false) ?? {};
  stringMap(r.at('selector').at('matchLabels'), match, true);
  if (Object.keys(match).length === 0 && listAt(r.at('selector').at('matchExpressions'), selector['matchExpressions']).length === 0) {
    r.at('selector').error('empty selector is invalid for a Deployment: set matchLabels to the template labels');
  }
  const labels = isObj(tmeta?.['labels']) ? (tmeta['labels'] as Obj) : {};
  const mismatch = Object.entries(match).find(([k, v]) => labels[k] !== v);
  if (mismatch) {
    r.at('template').at('metadata').at('labels').error(
      `selector does not match template labels: spec.selector.matchLabels has ${mismatch[0]}=${String(mismatch[1])}; add it to the template labels`,
    );
  }
}

function checkEndpointSlice(r: Reporter, body: Obj): void {
  const type = body['addressType'];
  if (type !== 'IPv4' && type !== 'IPv6' && type !== 'FQDN') {
    r.at('addressType').error(`required: IPv4, IPv6 or FQDN, found ${q(type)}`);
  }
  listAt(r.at('endpoints'), body['endpoints']).forEach((ep, i) => {
    const er = r.at('endpoints').at(i);
    if (!isObj(ep)) {
      er.error(`must be an object with addresses, found ${q(ep)}`);
      return;
    }
    const addrs = listAt(er.at('addresses'), ep['addresses']);
    if (addrs.length < 1 || addrs.length > 100) er.at('addresses').error(`must have 1 to 100 addresses, found ${addrs.length}`);
    addrs.forEach((a, j) => {
      const ok = typeof a === 'string' && (type === 'IPv4' ? isIPv4(a) : type === 'IPv6' ? isIPv6(a, false) : isDns1123Subdomain(a));
      if (!ok && (type === 'IPv4' || type === 'IPv6' || type === 'FQDN')) er.at('addresses').at(j).error(`${q(a)} is not a valid ${type} address`);
    });
  });
  listAt(r.at('ports'), body['ports']).forEach((p, i) => {
    const pr = r.at('ports').at(i);
    if (!isObj(p)) {
      pr.error(`must be an object with port, found ${q(p)}`);
      return;
    }
    if (p['port'] !== undefined && p['port'] !== null) int(pr.at('port'), p['port'], 1, 65535, 'port');
    protocol(pr.at('protocol'), p['protocol']);
    const name = p['name'];
    if (name !== undefined && name !== '' && !(typeof name === 'string' && name.length <= 63 && DNS1123_LABEL.test(name))) {
      pr.at('name').error(`${q(name)} is not a valid port name: use at most 63 lower-case letters, digits and '-'`);
    }
  });
}
