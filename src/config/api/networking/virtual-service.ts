// VirtualService: typed spec (see virtual-service.types.ts) and Istio's webhook rules for it — hosts and gateway
// names, one action per HTTP route, matches, destinations and weights, retries, faults, mirrors, rewrites,
// redirects, CORS, header operations, delegation, TLS/TCP routes, and the unreachable-rule warnings.
import { Reporter, type SemanticValidator, type Validation } from '../validation/report.ts';
import type { Resource } from '../resource.ts';
import { checkDuration } from '../validation/common/duration.ts';
import { hostsOverlap, hostSubsetOf, isDns1123Label, validateFqdn, validateWildcardDomain } from '../validation/common/host.ts';
import { checkIpOrCidr, checkPort, isIP } from '../validation/common/net.ts';
import { checkLabels } from '../validation/common/labels.ts';
import { checkWeight } from '../validation/common/percent.ts';
import { checkExportTo, isJwtClaimRoute, validateMatchHeaderName } from '../validation/common/http.ts';
import { checkMetadata } from '../validation/common/metadata.ts';
import { arr, checkDestination, checkHeaderOperations, checkStringMatch, entries, isSet, num, obj, q, str, type Obj } from './util.ts';
import { checkHttpRetry } from './retry.ts';
import { warnUnreachableRules } from './unreachable-rules.ts';
import { checkCors, checkDirectResponse, checkFault, checkRedirect, checkRewrite, GRPC_STATUS_NAMES } from './http-route-parts.ts';

export { GRPC_STATUS_NAMES };

export type * from './virtual-service.types.ts';

/** The gateway name that means "all sidecars in the mesh". */
export const MESH_GATEWAY = 'mesh';

export const validateVirtualService: SemanticValidator = (resource: Resource): Validation => {
  const root = new Reporter();
  checkMetadata(root, resource.metadata);
  const spec = obj(resource.spec) ?? {};
  const r = root.at('spec');
  const hosts = arr(spec.hosts).map(str);
  const gateways = arr(spec.gateways).map(str);
  const isDelegate = hosts.length === 0;

  if (isDelegate) {
    if (gateways.length > 0) r.at('gateways').error('a delegate VirtualService (one without hosts) must not list gateways: the root VirtualService decides where it applies');
    if (arr(spec.tls).length > 0) r.at('tls').error('a delegate VirtualService (one without hosts) must not have tls routes: only http routes can be delegated');
    if (arr(spec.tcp).length > 0) r.at('tcp').error('a delegate VirtualService (one without hosts) must not have tcp routes: only http routes can be delegated');
  }

  const appliesToGateway = gateways.length > 0 && !gateways.includes(MESH_GATEWAY);
  const appliesToMesh = !appliesToGateway;
  if (gateways.length > 0) checkGatewayNames(r.at('gateways'), gateways);
  if (!appliesToGateway) warnJwtClaimRoutesOutsideGateways(r, spec);

  const sni = arr(spec.tls).some((t) => arr(obj(t)?.match).some((m) => arr(obj(m)?.sniHosts).length > 0));
  let allHostsValid = true;
  hosts.forEach((h, i) => {
    const msg = appliesToGateway ? validateGatewayBoundHost(h, sni) : validateWildcardDomain(h);
    if (msg !== undefined) {
      if (!isIP(h)) {
        r.at('hosts').at(i).error(msg);
        allHostsValid = false;
      }
    } else if (appliesToMesh && h === '*') {
      r.at('hosts').at(i).error('host "*" is not allowed when the VirtualService applies to the mesh: list the service hosts, or bind it to a gateway only');
      allHostsValid = false;
    }
  });
  if (allHostsValid) {
    for (let i = 0; i < hosts.length; i++) {
      for (let j = i + 1; j < hosts.length; j++) {
        const a = hosts[i] ?? '';
        const b = hosts[j] ?? '';
        if (hostsOverlap(a, b)) r.at('hosts').at(j).error(`duplicate host: ${q(a)} and ${q(b)} overlap; list each host once (a wildcard covers its subdomains)`);
      }
    }
  }

  const http = arr(spec.http);
  const tls = arr(spec.tls);
  const tcp = arr(spec.tcp);
  if (http.length === 0 && tcp.length === 0 && tls.length === 0) r.error('a VirtualService needs at least one http, tcp or tls route');
  http.forEach((h, i) => {
    if (!isSet(h)) r.at('http').at(i).error('http route may not be null');
    else checkHttpRoute(r.at('http').at(i), obj(h) ?? {}, isDelegate);
  });
  tls.forEach((t, i) => checkTlsRoute(r.at('tls').at(i), obj(t), hosts, appliesToGateway));
  tcp.forEach((t, i) => checkTcpRoute(r.at('tcp').at(i), obj(t)));
  checkExportTo(r.at('exportTo'), resource.metadata.namespace ?? 'default', spec.exportTo);
  warnUnreachableRules(r, spec);
  return root.out;
};

/** Hosts of a VirtualService bound to gateways; SNI hosts may use the auto-generated `outbound_.PORT_._.HOST` form. */
function validateGatewayBoundHost(h: string, sni: boolean): string | undefined {
  if (sni && h.startsWith('outbound_')) {
    const parts = h.split('_');
    if (parts.length < 4) return `host ${q(h)} is not valid: auto-generated SNI hosts have the form outbound_.PORT_._.HOSTNAME`;
    const port = (parts[1] ?? '').replace(/^\.+|\.+$/g, '');
    const name = (parts[3] ?? '').replace(/^\.+|\.+$/g, '');
    if (parts[0] !== 'outbound') return `host ${q(h)} is not valid: label ${q(parts[0])} must be "outbound"`;
    if (!/[0-9]/.test(port)) return `host ${q(h)} is not valid: ${q(port)} must be a port number (outbound_.PORT_._.HOSTNAME)`;
    if (!/[a-zA-Z]/.test(name)) return `host ${q(h)} is not valid: ${q(name)} must be a host name (outbound_.PORT_._.HOSTNAME)`;
    return undefined;
  }
  return validateWildcardDomain(h);
}

/** Gateway references: `name`, `ns/name`, or the legacy `name.ns` FQDN form (accepted with a warning). */
export function checkGatewayNames(r: Reporter, names: string[]): void {
  for (let i = 0; i < names.length; i++) {
    const g = names[i] ?? '';
    const gr = r.at(i);
    const slash = g.indexOf('/');
    if (slash < 0) {
      if (g.includes('.')) {
        const [name, ns] = g.split('.');
        gr.warn(`gateway name ${q(g)} uses the legacy FQDN form; prefer namespace/name: ${q(`${ns ?? ''}/${name ?? ''}`)}`);
      }
      const m = validateFqdn(g);
      if (m !== undefined) gr.error(`invalid gateway name ${q(g)}: use "name", "namespace/name" or "mesh"`);
      // Istio stops checking the list at the first name without a namespace; do the same to accept what it accepts.
      return;
    }
    const ns = g.slice(0, slash);
    const name = g.slice(slash + 1);
    if (ns === '' || name === '') gr.error(`gateway ${q(g)}: the namespace and the gateway name must both be non-empty`);
    if (!isDns1123Label(ns)) gr.error(`gateway ${q(g)}: invalid namespace ${q(ns)} (must be a DNS-1123 label)`);
    if (!isDns1123Label(name)) gr.error(`gateway ${q(g)}: invalid gateway name ${q(name)} (must be a DNS-1123 label)`);
  }
}

function warnJwtClaimRoutesOutsideGateways(r: Reporter, spec: Obj): void {
  arr(spec.http).forEach((h, i) => {
    arr(obj(h)?.match).forEach((m, j) => {
      for (const field of ['headers', 'withoutHeaders'] as const) {
        for (const [key] of entries(obj(m)?.[field])) {
          if (isJwtClaimRoute(key)) {
            r.at('http').at(i).at('match').at(j).at(field).at(key)
              .error(`JWT claim based routing (${key}) is only supported on gateways: bind the VirtualService to a gateway, or match on a header`);
          }
        }
      }
    });
  });
}

function checkHttpRoute(r: Reporter, h: Obj, inDelegate: boolean): void {
  checkRouteActions(r, h, inDelegate);
  checkMatches(r, h);
  checkHeaderOperations(r.at('headers'), h.headers);
  checkCors(r.at('corsPolicy'), obj(h.corsPolicy));
  checkFault(r.at('fault'), obj(h.fault));
  for (const key of ['mirrorPercent', 'mirror_percent'] as const) {
    if (isSet(h[key])) {
      const v = num(h[key]);
      if (v > 100) r.at(key).error(`mirror percentage must be at most 100 (it is ${v})`);
      r.at(key).warn(`${key} is deprecated: use mirrorPercentage: {value: ${v}}`);
    }
  }
  const mp = obj(h.mirrorPercentage);
  if (mp !== undefined) {
    const v = num(mp.value);
    if (v > 100 || v < 0) r.at('mirrorPercentage').at('value').error(`mirror percentage must be in the range 0..100 (it is ${v})`);
  }
  checkDestination(r.at('mirror'), h.mirror);
  arr(h.mirrors).forEach((m, i) => {
    const mr = r.at('mirrors').at(i);
    const mo = obj(m);
    if (mo === undefined) return mr.error('mirror cannot be null');
    if (!isSet(mo.destination)) return mr.at('destination').error('destination is required for each mirror');
    checkDestination(mr.at('destination'), mo.destination);
    const p = obj(mo.percentage);
    if (p !== undefined && (num(p.value) > 100 || num(p.value) < 0)) mr.at('percentage').at('value').error(`mirror percentage must be in the range 0..100 (it is ${num(p.value)})`);
  });
  checkRedirect(r.at('redirect'), obj(h.redirect), arr(h.match));
  checkDirectResponse(r.at('directResponse'), obj(h.directResponse));
  checkHttpRetry(r.at('retries'), obj(h.retries));
  checkRewrite(r.at('rewrite'), obj(h.rewrite));
  checkAuthorityRewrite(r, h);
  checkHttpRouteDestinations(r.at('route'), arr(h.route));
  if (isSet(h.timeout)) checkDuration(r.at('timeout'), h.timeout);
}

/** Exactly one action: route, redirect, directResponse (or, on a root VirtualService, delegate). */
function checkRouteActions(r: Reporter, h: Obj, inDelegate: boolean): void {
  const has = (k: string): boolean => isSet(h[k]);
  const hasRoute = arr(h.route).length > 0;
  if (!inDelegate && has('delegate')) {
    if (has('redirect')) r.at('redirect').error('an http route with delegate must not also set redirect: the delegate VirtualService decides');
    if (has('route')) r.at('route').error('an http route with delegate must not also set route: the delegate VirtualService decides');
    return;
  }
  if (inDelegate && has('delegate')) r.at('delegate').error('a delegate VirtualService cannot delegate again: only one level of delegation is supported');
  if (has('redirect')) {
    if (hasRoute) r.error('an http route cannot have both route and redirect: choose one');
    if (has('fault')) r.error('an http route cannot have both fault and redirect');
    if (has('rewrite')) r.error('an http route cannot have both rewrite and redirect: put the new path in redirect.uri');
    if (has('directResponse')) r.error('an http route cannot have both directResponse and redirect: choose one');
  } else if (has('directResponse')) {
    if (hasRoute) r.error('an http route cannot have both route and directResponse: choose one');
    if (has('fault')) r.error('an http route cannot have both fault and directResponse');
    if (has('rewrite')) r.error('an http route cannot have both rewrite and directResponse');
  } else if (!hasRoute) {
    r.error('an http route needs one of route, redirect or directResponse (or delegate on a root VirtualService)');
  }
  if (has('mirror') && arr(h.mirrors).length > 0) r.error('an http route cannot have both mirror and mirrors: move mirror into mirrors');
}

function checkMatches(r: Reporter, h: Obj): void {
  arr(h.match).forEach((m, i) => {
    const mo = obj(m);
    if (mo === undefined) return;
    const mr = r.at('match').at(i);
    for (const [name, matcher] of entries(mo.headers)) {
      const hr = mr.at('headers').at(name);
      if (matcher === null) hr.error(`header match ${q(name)} cannot be null: use {} to match presence`);
      const nm = validateMatchHeaderName(name);
      if (nm !== undefined) hr.error(nm);
      checkStringMatch(hr, matcher);
    }
    for (const [name, matcher] of entries(mo.withoutHeaders)) {
      const hr = mr.at('withoutHeaders').at(name);
      const nm = validateMatchHeaderName(name);
      if (nm !== undefined) hr.error(nm);
      if (obj(matcher)?.regex !== '*') checkStringMatch(hr, matcher);
    }
    // An empty uri prefix is allowed (it matches everything); the other fields reject it.
    checkStringMatch(mr.at('uri'), mo.uri, { allowEmptyPrefix: true });
    for (const f of ['scheme', 'method', 'authority'] as const) checkStringMatch(mr.at(f), mo[f]);
    for (const [name, matcher] of entries(mo.queryParams)) checkStringMatch(mr.at('queryParams').at(name), matcher);
    if (isSet(mo.port) && mo.port !== 0) checkPort(mr.at('port'), mo.port);
    checkLabels(mr.at('sourceLabels'), mo.sourceLabels);
    checkGatewayNames(mr.at('gateways'), arr(mo.gateways).map(str));
    const sns = str(mo.sourceNamespace);
    if (sns !== '' && !isDns1123Label(sns)) mr.at('sourceNamespace').error(`sourceNamespace ${q(sns)} is not a valid namespace name`);
  });
}

/** The authority may be rewritten once: by rewrite.authority or by one request header set/add of :authority/Host. */
function checkAuthorityRewrite(r: Reporter, h: Obj): void {
  let current = str(obj(h.rewrite)?.authority);
  const req = obj(obj(h.headers)?.request);
  for (const op of ['set', 'add'] as const) {
    for (const [k, v] of entries(req?.[op])) {
      if (k.toLowerCase() !== ':authority' && k.toLowerCase() !== 'host') continue;
      if (current !== '') {
        r.at('headers').at('request').at(op).at(k).error(`the authority is set more than once (${q(current)}, then ${q(v)}): keep one of rewrite.authority and the header operation`);
        return;
      }
      current = str(v);
    }
  }
}

function checkHttpRouteDestinations(r: Reporter, route: unknown[]): void {
  let total = 0;
  route.forEach((d, i) => {
    const dr = r.at(i);
    const o = obj(d);
    if (o === undefined) return dr.error('route destination may not be null');
    if (!isSet(o.destination)) dr.at('destination').error('destination is required');
    checkHeaderOperations(dr.at('headers'), o.headers);
    checkDestination(dr.at('destination'), o.destination);
    checkWeight(dr.at('weight'), o.weight);
    total += num(o.weight);
  });
  if (route.length > 1 && total === 0) r.error('the weights of the destinations add up to 0: give at least one destination a positive weight');
}

function checkRouteDestinations(r: Reporter, route: unknown[]): void {
  let total = 0;
  route.forEach((d, i) => {
    const dr = r.at(i);
    const o = obj(d);
    if (o === undefined) return dr.error('route destination may not be null');
    if (!isSet(o.destination)) dr.at('destination').error('destination is required');
    checkDestination(dr.at('destination'), o.destination);
    checkWeight(dr.at('weight'), o.weight);
    total += num(o.weight);
  });
  if (route.length > 1 && total === 0) r.error('the weights of the destinations add up to 0: give at least one destination a positive weight');
}

function checkTlsRoute(r: Reporter, t: Obj | undefined, hosts: string[], appliesToGateway: boolean): void {
  if (t === undefined) return;
  const matches = arr(t.match);
  if (matches.length === 0) r.at('match').error('a tls route needs at least one match with sniHosts');
  matches.forEach((m, i) => {
    const mr = r.at('match').at(i);
    const mo = obj(m);
    if (mo === undefined) return mr.error('tls match may not be null');
    const snis = arr(mo.sniHosts).map(str);
    if (snis.length === 0) mr.at('sniHosts').error('a tls match needs at least one SNI host');
    snis.forEach((s, j) => checkSniHost(mr.at('sniHosts').at(j), s, hosts, appliesToGateway));
    arr(mo.destinationSubnets).forEach((s, j) => checkIpOrCidr(mr.at('destinationSubnets').at(j), s));
    if (isSet(mo.port) && mo.port !== 0) checkPort(mr.at('port'), mo.port);
    checkLabels(mr.at('sourceLabels'), mo.sourceLabels);
    checkGatewayNames(mr.at('gateways'), arr(mo.gateways).map(str));
  });
  const route = arr(t.route);
  if (route.length === 0) r.at('route').error('a tls route needs at least one route destination');
  checkRouteDestinations(r.at('route'), route);
}

function checkSniHost(r: Reporter, sni: string, hosts: string[], appliesToGateway: boolean): void {
  const m = appliesToGateway ? validateGatewayBoundHost(sni, true) : validateWildcardDomain(sni);
  if (m !== undefined) {
    if (isIP(sni)) r.warn(`SNI host ${q(sni)} is an IP address: that goes against the SNI specification and most clients do not send it`);
    else r.error(m);
    return;
  }
  if (!hosts.some((h) => hostSubsetOf(sni, h))) {
    r.error(`SNI host ${q(sni)} is not covered by any of the VirtualService hosts [${hosts.join(', ')}]: add it (or a wildcard covering it) to hosts`);
  }
}

function checkTcpRoute(r: Reporter, t: Obj | undefined): void {
  if (t === undefined) return;
  arr(t.match).forEach((m, i) => {
    const mr = r.at('match').at(i);
    const mo = obj(m);
    if (mo === undefined) return mr.error('tcp match may not be null');
    arr(mo.destinationSubnets).forEach((s, j) => checkIpOrCidr(mr.at('destinationSubnets').at(j), s));
    if (isSet(mo.port) && mo.port !== 0) checkPort(mr.at('port'), mo.port);
    checkLabels(mr.at('sourceLabels'), mo.sourceLabels);
    checkGatewayNames(mr.at('gateways'), arr(mo.gateways).map(str));
  });
  const route = arr(t.route);
  if (route.length === 0) r.at('route').error('a tcp route needs at least one route destination');
  checkRouteDestinations(r.at('route'), route);
}
