// Rules for DestinationRule traffic policies (also reused for Sidecar connection pools): load balancer, consistent
// hash, locality/zone-aware settings, connection pool, outlier detection, client TLS, tunnel and port-level settings.
import type { Reporter } from '../validation/report.ts';
import { checkDuration, parseGoDuration, NS_PER_MS } from '../validation/common/duration.ts';
import { isIP, checkPort } from '../validation/common/net.ts';
import { validateFqdn } from '../validation/common/host.ts';
import { checkPercentInt } from '../validation/common/percent.ts';
import { arr, entries, isSet, num, obj, q, str, type Obj } from './util.ts';

const TOPOLOGY_LABELS: ReadonlySet<string> = new Set(['topology.kubernetes.io/region', 'topology.kubernetes.io/zone', 'topology.istio.io/subzone']);

/** Check a TrafficPolicy (top level or a subset's), reported at `r`. */
export function checkTrafficPolicy(r: Reporter, namespace: string, v: unknown): void {
  const p = obj(v);
  if (p === undefined) return;
  const fields = ['outlierDetection', 'connectionPool', 'loadBalancer', 'tls', 'portLevelSettings', 'tunnel', 'proxyProtocol', 'retryBudget'];
  if (!fields.some((f) => isSet(p[f]))) return r.error('traffic policy must set at least one field: remove the empty trafficPolicy, or configure loadBalancer, connectionPool, outlierDetection, tls …');
  if (isSet(p.tunnel) && isSet(p.proxyProtocol)) return r.error('tunnel and proxyProtocol cannot be set together: choose one');
  checkOutlierDetection(r.at('outlierDetection'), obj(p.outlierDetection));
  checkConnectionPool(r.at('connectionPool'), p.connectionPool);
  checkLoadBalancer(r.at('loadBalancer'), obj(p.loadBalancer), obj(p.outlierDetection));
  checkClientTls(r.at('tls'), namespace, obj(p.tls));
  checkPortLevelSettings(r.at('portLevelSettings'), namespace, arr(p.portLevelSettings));
  checkTunnel(r.at('tunnel'), obj(p.tunnel));
  const pp = obj(p.proxyProtocol);
  if (pp !== undefined && isSet(pp.version) && pp.version !== 'V1' && pp.version !== 'V2') r.at('proxyProtocol').at('version').error(`proxy protocol version ${q(pp.version)} is not valid: use V1 or V2`);
}

function checkTunnel(r: Reporter, t: Obj | undefined): void {
  if (t === undefined) return;
  const protocol = str(t.protocol);
  if (protocol !== '' && protocol !== 'CONNECT' && protocol !== 'POST') r.at('protocol').error('tunnel protocol must be "CONNECT" or "POST"');
  const host = str(t.targetHost);
  if (validateFqdn(host) !== undefined && !isIP(host)) r.at('targetHost').error(`tunnel targetHost ${q(host)} must be a valid FQDN or IP address`);
  checkPort(r.at('targetPort'), t.targetPort);
}

export function checkOutlierDetection(r: Reporter, o: Obj | undefined): void {
  if (o === undefined) return;
  if (isSet(o.baseEjectionTime)) checkDuration(r.at('baseEjectionTime'), o.baseEjectionTime);
  if (num(o.consecutiveErrors) !== 0) r.at('consecutiveErrors').warn('consecutiveErrors is deprecated: use consecutiveGatewayErrors or consecutive5xxErrors');
  if (o.splitExternalLocalOriginErrors !== true && num(o.consecutiveLocalOriginFailures) > 0) {
    r.at('consecutiveLocalOriginFailures').error('consecutiveLocalOriginFailures is set but splitExternalLocalOriginErrors is false: set splitExternalLocalOriginErrors: true');
  }
  if (isSet(o.interval)) checkDuration(r.at('interval'), o.interval);
  checkPercentInt(r.at('maxEjectionPercent'), num(o.maxEjectionPercent));
  checkPercentInt(r.at('minHealthPercent'), num(o.minHealthPercent));
}

/** ConnectionPoolSettings: at least one of tcp/http, non-negative limits, valid durations. */
export function checkConnectionPool(r: Reporter, v: unknown): void {
  const c = obj(v);
  if (c === undefined) return;
  const http = obj(c.http);
  const tcp = obj(c.tcp);
  if (http === undefined && tcp === undefined) return r.error('connection pool must set at least one of tcp or http');
  if (http !== undefined) {
    const hr = r.at('http');
    for (const f of ['http1MaxPendingRequests', 'http2MaxRequests', 'maxRequestsPerConnection', 'maxRetries', 'maxConcurrentStreams'] as const) {
      if (num(http[f]) < 0) hr.at(f).error(`${f} must not be negative`);
    }
    if (isSet(http.idleTimeout)) checkDuration(hr.at('idleTimeout'), http.idleTimeout);
    if (http.h2UpgradePolicy === 'UPGRADE' && http.useClientProtocol === true) hr.at('useClientProtocol').error('useClientProtocol must not be true when h2UpgradePolicy is UPGRADE: choose one');
    const ka = obj(http.http2KeepAlive);
    if (ka !== undefined) {
      for (const f of ['interval', 'timeout'] as const) {
        if (!isSet(ka[f])) hr.at('http2KeepAlive').at(f).error(`http2KeepAlive.${f} is required`);
        else checkDuration(hr.at('http2KeepAlive').at(f), ka[f]);
      }
    }
  }
  if (tcp !== undefined) {
    const tr = r.at('tcp');
    if (num(tcp.maxConnections) < 0) tr.at('maxConnections').error('maxConnections must not be negative');
    if (isSet(tcp.connectTimeout)) checkDuration(tr.at('connectTimeout'), tcp.connectTimeout);
    if (isSet(tcp.maxConnectionDuration)) checkDuration(tr.at('maxConnectionDuration'), tcp.maxConnectionDuration);
    if (isSet(tcp.idleTimeout)) {
      // 0s (below one whole millisecond) disables the idle timeout and is allowed.
      const p = typeof tcp.idleTimeout === 'string' ? parseGoDuration(tcp.idleTimeout) : undefined;
      if (!(p?.ok === true && p.value / NS_PER_MS === 0n)) checkDuration(tr.at('idleTimeout'), tcp.idleTimeout);
    }
    const ka = obj(tcp.tcpKeepalive);
    if (ka !== undefined) {
      if (isSet(ka.time)) checkDuration(tr.at('tcpKeepalive').at('time'), ka.time);
      if (isSet(ka.interval)) checkDuration(tr.at('tcpKeepalive').at('interval'), ka.interval);
    }
  }
}

/** Envoy's primality test for Maglev table sizes. */
export function isPrime(x: number): boolean {
  if (x !== 0 && x < 4) return true;
  if (x % 2 === 0) return false;
  const limit = Math.floor(Math.sqrt(x));
  for (let f = 3; f <= limit; f += 2) if (x % f === 0) return false;
  return true;
}

export function checkLoadBalancer(r: Reporter, lb: Obj | undefined, outlier: Obj | undefined): void {
  if (lb === undefined) return;
  const ch = obj(lb.consistentHash);
  if (ch !== undefined) {
    const cr = r.at('consistentHash');
    const cookie = obj(ch.httpCookie);
    if (cookie !== undefined) {
      if (str(cookie.name) === '') cr.at('httpCookie').at('name').error('httpCookie.name is required');
      const names = new Set<string>();
      arr(cookie.attributes).forEach((a, i) => {
        const n = str(obj(a)?.name);
        const ar = cr.at('httpCookie').at('attributes').at(i).at('name');
        if (n === '') ar.error('cookie attribute name cannot be empty');
        else if (names.has(n)) ar.error(`duplicate cookie attribute name ${q(n)}`);
        names.add(n);
      });
    }
    const minRing = num(ch.minimumRingSize);
    if (minRing !== 0) cr.at('minimumRingSize').warn('consistentHash.minimumRingSize is deprecated: use consistentHash.ringHash.minimumRingSize');
    if (minRing !== 0 && (isSet(ch.ringHash) || isSet(ch.maglev))) cr.error('only one of minimumRingSize or ringHash/maglev can be set');
    const ml = obj(ch.maglev);
    if (ml !== undefined) {
      const size = num(ml.tableSize);
      const mr = cr.at('maglev').at('tableSize');
      if (size === 0) mr.error('maglev.tableSize must be set (a prime number, e.g. 65537)');
      if (size >= 5000011) mr.error('maglev.tableSize must be less than 5000011');
      if (!isPrime(size)) mr.error(`maglev.tableSize ${size} must be a prime number (e.g. 65537)`);
    }
  }
  if (isSet(lb.localityLbSetting) && isSet(lb.zoneAwareLbSetting)) r.error('only one of localityLbSetting and zoneAwareLbSetting can be set');
  checkLocalityLb(r.at('localityLbSetting'), obj(lb.localityLbSetting), outlier);
  checkZoneAwareLb(r.at('zoneAwareLbSetting'), obj(lb.zoneAwareLbSetting), outlier);
  const warm = obj(lb.warmup);
  if (warm !== undefined) {
    const wr = r.at('warmup');
    if (!isSet(warm.duration)) wr.at('duration').error('warmup.duration is required');
    else checkDuration(wr.at('duration'), warm.duration);
    if (num(warm.minimumPercent) > 100) wr.at('minimumPercent').error('warmup.minimumPercent must be at most 100');
    if (isSet(warm.aggression) && num(warm.aggression) <= 0) wr.at('aggression').error('warmup.aggression must be greater than 0');
  }
}

function checkFailovers(r: Reporter, failover: unknown[], what: string): void {
  failover.forEach((f, i) => {
    const fo = obj(f) ?? {};
    const from = str(fo.from);
    const to = str(fo.to);
    const fr = r.at('failover').at(i);
    if (from === to) fr.error(`${what} failover must go to a different region (from and to are both ${q(from)})`);
    if (from.includes('/') || to.includes('/')) fr.error(`${what} failover takes regions only (no "/zone"): zone and subzone failover happen automatically`);
    if (from.includes('*') || to.includes('*')) fr.error(`${what} failover regions cannot contain the "*" wildcard`);
  });
}

function checkLocalityLb(r: Reporter, lb: Obj | undefined, outlier: Obj | undefined): void {
  if (lb === undefined) return;
  const distribute = arr(lb.distribute);
  const failover = arr(lb.failover);
  const priority = arr(lb.failoverPriority).map(str);
  if (distribute.length > 0 && failover.length > 0) return r.error('distribute and failover cannot be set together: choose one');
  if (failover.length > 0) {
    const topo = priority.find((p) => TOPOLOGY_LABELS.has(p));
    if (topo !== undefined) return r.at('failoverPriority').error(`failover and the topology label ${q(topo)} in failoverPriority cannot be set together`);
  }
  const sources: string[] = [];
  for (let i = 0; i < distribute.length; i++) {
    const d = obj(distribute[i]) ?? {};
    const dr = r.at('distribute').at(i);
    sources.push(str(d.from));
    let total = 0;
    const dest: string[] = [];
    for (const [loc, w] of entries(d.to)) {
      dest.push(loc);
      const weight = num(w);
      if (weight <= 0 || weight > 100) return dr.at('to').at(loc).error('locality weight must be in the range 1..100');
      total += weight;
    }
    if (total !== 100) return dr.at('to').error(`locality weights must add up to 100 (they add up to ${total})`);
    const m = validateLocalities(dest);
    if (m !== undefined) dr.at('to').error(m);
  }
  const m = validateLocalities(sources);
  if (m !== undefined) r.at('distribute').error(m);
  if ((failover.length > 0 || priority.length > 0) && outlier === undefined) {
    r.warn('locality failover has no effect without outlier detection: add trafficPolicy.outlierDetection');
  }
  checkFailovers(r, failover, 'locality');
}

function checkZoneAwareLb(r: Reporter, lb: Obj | undefined, outlier: Obj | undefined): void {
  if (lb === undefined) return;
  const priority = arr(lb.failoverPriority).map(str);
  priority.forEach((p, i) => {
    if (TOPOLOGY_LABELS.has(p)) r.at('failoverPriority').at(i).error(`zone-aware failoverPriority must not use the topology label ${q(p)}: region and zone routing are automatic`);
  });
  const failover = arr(lb.failover);
  if ((failover.length > 0 || priority.length > 0) && outlier === undefined) r.warn('zone-aware failover has no effect without outlier detection: add trafficPolicy.outlierDetection');
  checkFailovers(r, failover, 'zone-aware');
}

/** `region`, `region/zone`, `region/zone/subzone`, at most one trailing `*`, no overlaps. Returns a message or undefined. */
export function validateLocalities(localities: string[]): string | undefined {
  const tree = new Map<string, Map<string, Set<string>>>();
  for (const loc of localities) {
    const stars = loc.split('*').length - 1;
    if (stars > 0 && (stars > 1 || !loc.endsWith('*'))) return `locality ${q(loc)}: the wildcard "*" may appear once, at the end`;
    if (tree.has('*')) return `locality ${q(loc)} overlaps with a previous one`;
    const items = loc.split('/', 3);
    const rest = loc.split('/').slice(2).join('/');
    if (items.length === 3) items[2] = rest;
    if (items.some((s) => s === '')) return `locality ${q(loc)} must not have an empty region, zone or subzone`;
    const [region = '', zone = '', sub = ''] = items;
    const rz = tree.get(region);
    if (items.length === 1) {
      if (rz !== undefined) return `locality ${q(loc)} overlaps with a previous one`;
      tree.set(region, new Map([['*', new Set(['*'])]]));
    } else if (items.length === 2) {
      if (rz === undefined) tree.set(region, new Map([[zone, new Set(['*'])]]));
      else {
        if (rz.has('*') || rz.has(zone)) return `locality ${q(loc)} overlaps with a previous one`;
        rz.set(zone, new Set(['*']));
      }
    } else if (rz === undefined) tree.set(region, new Map([[zone, new Set([sub])]]));
    else {
      if (rz.has('*')) return `locality ${q(loc)} overlaps with a previous one`;
      const zs = rz.get(zone);
      if (zs === undefined) rz.set(zone, new Set([sub]));
      else {
        if (zs.has('*') || zs.has(sub)) return `locality ${q(loc)} overlaps with a previous one`;
        zs.add(sub);
      }
    }
  }
  return undefined;
}

/** ClientTLSSettings: credentialName excludes file certificates; MUTUAL needs a client certificate and key. */
export function checkClientTls(r: Reporter, namespace: string, tls: Obj | undefined): void {
  if (tls === undefined) return;
  const mode = str(tls.mode) || 'DISABLE';
  const credentialName = str(tls.credentialName);
  if (credentialName.startsWith('configmap://')) {
    const rest = credentialName.slice('configmap://'.length);
    const parts = rest.split('/');
    const ns = parts.length === 2 ? parts[0] : namespace;
    if (rest === '' || parts.length > 2 || parts.some((p) => p === '')) r.at('credentialName').error(`invalid configmap:// credentialName ${q(credentialName)}: use configmap://NAME or configmap://NAMESPACE/NAME`);
    else if (ns !== namespace || namespace === '') r.at('credentialName').error(`invalid configmap:// credentialName: the namespace must be the DestinationRule's own namespace ${q(namespace)}`);
  }
  if (tls.insecureSkipVerify === true) {
    if (mode === 'SIMPLE' && (str(tls.caCertificates) !== '' || credentialName !== '' || isSet(tls.subjectAltNames))) {
      r.error('caCertificates, credentialName and subjectAltNames cannot be set when insecureSkipVerify is true');
    }
    if (mode === 'MUTUAL' && (str(tls.caCertificates) !== '' || isSet(tls.subjectAltNames))) {
      r.error('caCertificates and subjectAltNames cannot be set when insecureSkipVerify is true');
    }
  }
  if ((mode === 'SIMPLE' || mode === 'MUTUAL') && credentialName !== '') {
    if (str(tls.clientCertificate) !== '' || str(tls.caCertificates) !== '' || str(tls.privateKey) !== '' || str(tls.caCrl) !== '') {
      r.error('clientCertificate, privateKey, caCertificates and caCrl cannot be set together with credentialName: the secret provides them');
    }
    return;
  }
  if (mode === 'MUTUAL') {
    if (str(tls.clientCertificate) === '') r.at('clientCertificate').error('MUTUAL TLS requires clientCertificate (or credentialName)');
    if (str(tls.privateKey) === '') r.at('privateKey').error('MUTUAL TLS requires privateKey (or credentialName)');
  }
}

function checkPortLevelSettings(r: Reporter, namespace: string, list: unknown[]): void {
  const ports = new Set<number>();
  list.forEach((p, i) => {
    const pr = r.at(i);
    const po = obj(p);
    if (po === undefined) return pr.error('port-level traffic policy may not be null');
    if (!isSet(po.port)) pr.at('port').error('port-level traffic policy must name a port (port.number)');
    const n = num(obj(po.port)?.number);
    // Istio accepts repeated ports and silently uses one of them; Weft says so.
    if (n !== 0 && ports.has(n)) pr.at('port').at('number').warn(`port ${n} already has port-level settings earlier in the list: only one of them takes effect; merge them`);
    ports.add(n);
    if (!isSet(po.outlierDetection) && !isSet(po.connectionPool) && !isSet(po.loadBalancer) && !isSet(po.tls)) {
      return pr.error('port-level traffic policy must set at least one of loadBalancer, connectionPool, outlierDetection or tls');
    }
    checkOutlierDetection(pr.at('outlierDetection'), obj(po.outlierDetection));
    checkConnectionPool(pr.at('connectionPool'), po.connectionPool);
    checkLoadBalancer(pr.at('loadBalancer'), obj(po.loadBalancer), obj(po.outlierDetection));
    checkClientTls(pr.at('tls'), namespace, obj(po.tls));
  });
}
