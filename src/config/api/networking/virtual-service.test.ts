import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectError, expectValid, expectWarning, run } from './test-helpers.ts';

const dest = (host = 'reviews', extra: object = {}): object => ({ destination: { host, ...extra } });
const vs = (http: object[], extra: object = {}): object => ({ hosts: ['reviews'], http, ...extra });
const route = (extra: object = {}): object => ({ route: [dest()], ...extra });

test('a complete, valid VirtualService passes', () => {
  const v = run('VirtualService', vs([
    {
      name: 'api',
      match: [{ uri: { prefix: '/api' }, headers: { 'end-user': { exact: 'jason' }, 'x-present': {} }, queryParams: { v: { regex: '[0-9]+' } }, port: 9080 }],
      route: [{ destination: { host: 'reviews', subset: 'v2', port: { number: 9080 } }, weight: 80 }, { ...dest('reviews', { subset: 'v3' }), weight: 20 }],
      timeout: '10s',
      retries: { attempts: 3, perTryTimeout: '2s', retryOn: 'gateway-error,connect-failure,503' },
      fault: { delay: { fixedDelay: '7s', percentage: { value: 0.1 } } },
      mirror: { host: 'reviews', subset: 'v1' },
      mirrorPercentage: { value: 50 },
      corsPolicy: { allowOrigins: [{ exact: 'https://a.example.com' }], allowMethods: ['GET', 'POST'], maxAge: '24h' },
      headers: { request: { set: { 'x-id': '%REQ(x-request-id)%' } }, response: { remove: ['server'] } },
      rewrite: { uri: '/v2' },
    },
    { route: [dest()] },
  ]));
  expectValid(v);
  assert.deepEqual(v.warnings, []);
});

test('hosts: required unless delegate, "*" not on mesh, no duplicates, valid names', () => {
  expectError(run('VirtualService', { gateways: ['gw'], http: [route()] }), 'spec.gateways', /delegate VirtualService .* must not list gateways/);
  expectError(run('VirtualService', { hosts: ['*'], http: [route()] }), 'spec.hosts[0]', /"\*" is not allowed when the VirtualService applies to the mesh/);
  expectValid(run('VirtualService', { hosts: ['*'], gateways: ['gw'], http: [route()] }));
  expectError(run('VirtualService', { hosts: ['*.foo.com', 'a.foo.com'], http: [route()] }), 'spec.hosts[1]', /duplicate host/);
  expectError(run('VirtualService', { hosts: ['foo.*.com'], http: [route()] }), 'spec.hosts[0]', /wildcard "\*" is only allowed as the whole first label/);
  expectValid(run('VirtualService', { hosts: ['10.0.0.1'], http: [route()] }));
  expectError(run('VirtualService', { hosts: ['reviews'] }), 'spec', /at least one http, tcp or tls route/);
});

test('gateway names: ns/name, mesh, legacy form warns', () => {
  expectValid(run('VirtualService', vs([route()], { gateways: ['mesh', 'istio-system/gw'] })));
  expectError(run('VirtualService', vs([route()], { gateways: ['ns/Bad_Name'] })), 'spec.gateways[0]', /invalid gateway name "Bad_Name"/);
  expectWarning(run('VirtualService', vs([route()], { gateways: ['gw.istio-system'] })), 'spec.gateways[0]', /legacy FQDN form.*"istio-system\/gw"/);
});

test('http route actions are exclusive and one is required', () => {
  expectError(run('VirtualService', vs([{ ...route(), redirect: { uri: '/x' } }])), 'spec.http[0]', /both route and redirect/);
  expectError(run('VirtualService', vs([{ directResponse: { status: 200 }, route: [dest()] }])), 'spec.http[0]', /both route and directResponse/);
  expectError(run('VirtualService', vs([{ redirect: { uri: '/x' }, rewrite: { uri: '/y' } }])), 'spec.http[0]', /both rewrite and redirect/);
  expectError(run('VirtualService', vs([{ name: 'empty' }])), 'spec.http[0]', /needs one of route, redirect or directResponse/);
  expectError(run('VirtualService', vs([{ ...route(), mirror: { host: 'a' }, mirrors: [{ destination: { host: 'b' } }] }])), 'spec.http[0]', /both mirror and mirrors/);
});

test('delegation: root routes only delegate, delegates cannot delegate again', () => {
  expectValid(run('VirtualService', vs([{ delegate: { name: 'd', namespace: 'ns' } }])));
  expectError(run('VirtualService', vs([{ delegate: { name: 'd' }, route: [dest()] }])), 'spec.http[0].route', /with delegate must not also set route/);
  expectError(run('VirtualService', { http: [{ delegate: { name: 'd' }, route: [dest()] }] }), 'spec.http[0].delegate', /cannot delegate again/);
  expectError(run('VirtualService', { http: [route()], tcp: [{ route: [dest()] }] }), 'spec.tcp', /only http routes can be delegated/);
});

test('destinations and weights', () => {
  expectError(run('VirtualService', vs([{ route: [{ destination: { subset: 'v1' } }] }])), 'spec.http[0].route[0].destination.host', /destination host is required/);
  expectError(run('VirtualService', vs([{ route: [{ destination: { host: '*' } }] }])), 'spec.http[0].route[0].destination.host', /"\*" is not valid/);
  expectError(run('VirtualService', vs([{ route: [dest('reviews', { subset: 'V_1' })] }])), 'spec.http[0].route[0].destination.subset', /DNS-1123 label/);
  expectError(run('VirtualService', vs([{ route: [dest('reviews', { port: { number: 70000 } })] }])), 'spec.http[0].route[0].destination.port.number', /1\.\.65535/);
  expectError(run('VirtualService', vs([{ route: [{ ...dest(), weight: -1 }, { ...dest(), weight: 1 }] }])), 'spec.http[0].route[0].weight', /≥ 0/);
  expectError(run('VirtualService', vs([{ route: [{ ...dest(), weight: 0 }, { ...dest(), weight: 0 }] }])), 'spec.http[0].route', /add up to 0/);
  expectValid(run('VirtualService', vs([{ route: [{ ...dest(), weight: 0 }] }])));
});

test('match conditions: string matchers, RE2 regexes, header names, ports, source namespace', () => {
  const m = (match: object): object => vs([{ match: [match], route: [dest()] }]);
  expectError(run('VirtualService', m({ uri: { regex: '/api/(?=v1)' } })), 'spec.http[0].match[0].uri.regex', /lookahead.*RE2 syntax is required/);
  expectError(run('VirtualService', m({ headers: { 'x-a': { regex: '(a)\\1' } } })), 'spec.http[0].match[0].headers.x-a.regex', /backreferences/);
  expectError(run('VirtualService', m({ method: { prefix: '' } })), 'spec.http[0].match[0].method.prefix', /prefix match must not be empty/);
  expectValid(run('VirtualService', m({ uri: { prefix: '' } })));
  expectError(run('VirtualService', m({ uri: { regex: '' } })), 'spec.http[0].match[0].uri.regex', /regex must not be empty/);
  expectError(run('VirtualService', m({ headers: { 'bad header': { exact: 'x' } } })), 'spec.http[0].match[0].headers.bad header', /not a valid HTTP header name/);
  expectError(run('VirtualService', m({ headers: { 'x-a': null } })), 'spec.http[0].match[0].headers.x-a', /cannot be null/);
  expectValid(run('VirtualService', m({ withoutHeaders: { 'x-a': { regex: '*' } } })));
  expectError(run('VirtualService', m({ port: 0x10000 })), 'spec.http[0].match[0].port', /1\.\.65535/);
  expectError(run('VirtualService', m({ sourceNamespace: 'Not_A_Namespace' })), 'spec.http[0].match[0].sourceNamespace', /not a valid namespace/);
  expectError(run('VirtualService', m({ sourceLabels: { 'app/x/y': 'v' } })), 'spec.http[0].match[0].sourceLabels.app/x/y', /label key/);
  expectError(run('VirtualService', m({ headers: { '@request.auth.claims.sub': { exact: 'x' } } })), 'spec.http[0].match[0].headers.@request.auth.claims.sub', /only supported on gateways/);
  expectValid(run('VirtualService', { ...(m({ headers: { '@request.auth.claims.sub': { exact: 'x' } } }) as object), gateways: ['gw'] }));
});

test('timeouts, retries', () => {
  expectError(run('VirtualService', vs([route({ timeout: '1.5ms' })])), 'spec.http[0].timeout', /sub-millisecond precision.*whole milliseconds/);
  expectError(run('VirtualService', vs([route({ timeout: '10' })])), 'spec.http[0].timeout', /missing unit/);
  expectError(run('VirtualService', vs([route({ retries: { attempts: 3, perTryTimeout: '500us' } })])), 'spec.http[0].retries.perTryTimeout', /too short: it must be at least 1ms/);
  expectError(run('VirtualService', vs([route({ retries: { attempts: -1 } })])), 'spec.http[0].retries.attempts', /cannot be negative/);
  expectError(run('VirtualService', vs([route({ retries: { attempts: 2, retryOn: '5xx,bogus' } })])), 'spec.http[0].retries.retryOn', /"bogus" is not a valid retryOn condition/);
  expectError(run('VirtualService', vs([route({ retries: { attempts: 0, retryOn: '5xx' } })])), 'spec.http[0].retries', /attempts is 0/);
  expectValid(run('VirtualService', vs([route({ retries: { attempts: 0 } })])));
});

test('fault injection', () => {
  const f = (fault: object): object => vs([route({ fault })]);
  expectError(run('VirtualService', f({})), 'spec.http[0].fault', /needs an abort and\/or a delay/);
  expectError(run('VirtualService', f({ abort: { httpStatus: 700 } })), 'spec.http[0].fault.abort.httpStatus', /200\.\.599/);
  expectError(run('VirtualService', f({ abort: { httpStatus: 503, percentage: { value: 101 } } })), 'spec.http[0].fault.abort.percentage.value', /0\.0001\.\.100/);
  expectError(run('VirtualService', f({ abort: { grpcStatus: 'NOPE' } })), 'spec.http[0].fault.abort.grpcStatus', /not supported/);
  expectError(run('VirtualService', f({ abort: { http2Error: 'x' } })), 'spec.http[0].fault.abort.http2Error', /not supported/);
  expectWarning(run('VirtualService', f({ abort: { percentage: { value: 5 } } })), 'spec.http[0].fault.abort', /without an error type/);
  expectError(run('VirtualService', f({ delay: { exponentialDelay: '1s' } })), 'spec.http[0].fault.delay.exponentialDelay', /not supported/);
  expectError(run('VirtualService', f({ delay: { fixedDelay: '0s' } })), 'spec.http[0].fault.delay.fixedDelay', /at least 1ms/);
});

test('mirrors, rewrite, redirect, direct response', () => {
  expectError(run('VirtualService', vs([route({ mirror: { host: 'a' }, mirrorPercentage: { value: 150 } })])), 'spec.http[0].mirrorPercentage.value', /0\.\.100/);
  expectWarning(run('VirtualService', vs([route({ mirror: { host: 'a' }, mirrorPercent: 10 })])), 'spec.http[0].mirrorPercent', /deprecated/);
  expectError(run('VirtualService', vs([route({ mirrors: [{ percentage: { value: 5 } }] })])), 'spec.http[0].mirrors[0].destination', /required/);
  expectError(run('VirtualService', vs([route({ rewrite: { uri: '/a', uriRegexRewrite: { match: 'x', rewrite: 'y' } } })])), 'spec.http[0].rewrite', /only one of uri or uriRegexRewrite/);
  expectError(run('VirtualService', vs([route({ rewrite: {} })])), 'spec.http[0].rewrite', /at least one of uri/);
  expectError(run('VirtualService', vs([route({ rewrite: { uriRegexRewrite: { match: '(?<=a)b', rewrite: 'c' } } })])), 'spec.http[0].rewrite.uriRegexRewrite.match', /lookbehind/);
  expectError(run('VirtualService', vs([{ match: [{ uri: { exact: '/a' } }], redirect: { prefixRewrite: '/b' } }])), 'spec.http[0].redirect.prefixRewrite', /prefix match/);
  expectError(run('VirtualService', vs([{ redirect: { uri: '/b', redirectCode: 200 } }])), 'spec.http[0].redirect.redirectCode', /3xx/);
  expectError(run('VirtualService', vs([{ redirect: { scheme: 'ftp' } }])), 'spec.http[0].redirect.scheme', /"http" or "https"/);
  expectError(run('VirtualService', vs([{ redirect: {} }])), 'spec.http[0].redirect', /at least one of/);
  expectError(run('VirtualService', vs([{ directResponse: { status: 100 } }])), 'spec.http[0].directResponse.status', /200\.\.599/);
  expectError(run('VirtualService', vs([{ directResponse: { status: 200, body: { string: 'x'.repeat(1024 * 1024 + 1) } } }])), 'spec.http[0].directResponse.body', /larger than 1MB/);
  expectWarning(run('VirtualService', vs([{ directResponse: { status: 200, body: { string: 'x'.repeat(200 * 1024) } } }])), 'spec.http[0].directResponse.body', /larger than 100KB/);
});

test('CORS and header operations', () => {
  const c = (corsPolicy: object): object => vs([route({ corsPolicy })]);
  expectError(run('VirtualService', c({ allowOrigins: [{ exact: '' }] })), 'spec.http[0].corsPolicy.allowOrigins[0]', /non-empty/);
  expectError(run('VirtualService', c({ allowMethods: ['FETCH'] })), 'spec.http[0].corsPolicy.allowMethods[0]', /not a supported HTTP method/);
  expectError(run('VirtualService', c({ allowHeaders: ['bad header'] })), 'spec.http[0].corsPolicy.allowHeaders[0]', /not a valid HTTP header name/);
  expectError(run('VirtualService', c({ maxAge: '1.5s' })), 'spec.http[0].corsPolicy.maxAge', /whole seconds/);
  const h = (headers: object): object => vs([route({ headers })]);
  expectError(run('VirtualService', h({ request: { set: { ':path': '/x' } } })), 'spec.http[0].headers.request.set.:path', /cannot start with ":"/);
  expectError(run('VirtualService', h({ response: { remove: ['Host'] } })), 'spec.http[0].headers.response.remove[0]', /Host header/);
  expectError(run('VirtualService', h({ request: { add: { 'x-a': 'bad%' } } })), 'spec.http[0].headers.request.add.x-a', /Envoy header format/);
  expectError(run('VirtualService', vs([route({ rewrite: { authority: 'a' }, headers: { request: { set: { host: 'b' } } } })])), 'spec.http[0].headers.request.set.host', /authority is set more than once/);
  expectError(run('VirtualService', vs([{ route: [{ ...dest(), headers: { request: { remove: [':authority'] } } }] }])), 'spec.http[0].route[0].headers.request.remove[0]', /cannot start with ":"/);
});

test('tls and tcp routes', () => {
  const tlsVs = (sniHosts: string[], hosts = ['*.example.com']): object => ({ hosts, gateways: ['gw'], tls: [{ match: [{ sniHosts, port: 443 }], route: [dest('a.example.com')] }] });
  expectValid(run('VirtualService', tlsVs(['a.example.com'])));
  expectError(run('VirtualService', tlsVs(['a.other.com'])), 'spec.tls[0].match[0].sniHosts[0]', /not covered by any of the VirtualService hosts/);
  expectError(run('VirtualService', { hosts: ['a'], tls: [{ match: [{ sniHosts: [] }], route: [dest()] }] }), 'spec.tls[0].match[0].sniHosts', /at least one SNI host/);
  expectWarning(run('VirtualService', tlsVs(['10.0.0.1'])), 'spec.tls[0].match[0].sniHosts[0]', /IP address/);
  expectError(run('VirtualService', { hosts: ['a'], tcp: [{ match: [{ port: 9000 }] }] }), 'spec.tcp[0].route', /at least one route destination/);
  expectError(run('VirtualService', { hosts: ['a'], tcp: [{ match: [{ destinationSubnets: ['10.0.0.0/33'] }], route: [dest()] }] }), 'spec.tcp[0].match[0].destinationSubnets[0]', /prefix length/);
});

test('exportTo and unreachable rules', () => {
  expectError(run('VirtualService', vs([route()], { exportTo: ['.', 'default'] })), 'spec.exportTo[1]', /duplicate exportTo/);
  expectError(run('VirtualService', vs([route()], { exportTo: ['~'] })), 'spec.exportTo[0]', /only allowed on ServiceEntry/);
  expectWarning(run('VirtualService', vs([route(), route()])), 'spec.http[1]', /not used \(only the last rule can have no matches\)/);
  const dup = { uri: { prefix: '/a' } };
  expectWarning(run('VirtualService', vs([{ match: [dup], route: [dest()] }, { match: [dup], route: [dest()] }])), 'spec.http[1].match[0]', /duplicate\/overlapping match in rule #0/);
  expectWarning(run('VirtualService', vs([{ match: [{ uri: { prefix: '/a' } }], route: [dest()] }, { match: [{ uri: { prefix: '/ab' } }], route: [dest()] }])), 'spec.http', /prefix \/ab is not used/);
});

test('reserved annotations are rejected', () => {
  expectError(run('VirtualService', vs([route()]), { annotations: { 'istio.io/dry-run': 'true' } }), 'metadata.annotations.istio.io/dry-run', /only supported on AuthorizationPolicy/);
  expectError(run('VirtualService', vs([route()]), { annotations: { 'internal.istio.io/parents': 'x' } }), 'metadata.annotations.internal.istio.io/parents', /reserved/);
});

test('never throws on malformed specs', () => {
  for (const spec of [null, 1, 'x', [], { hosts: 'x', http: 'y' }, { http: [null, 1, { route: 'x', match: [null] }] }, { tls: [null], tcp: [{ match: 'x' }] }]) {
    run('VirtualService', spec);
  }
});

test('unreachable-rule warnings are recognisable by isUnreachableRuleWarning', async () => {
  const { isUnreachableRuleWarning } = await import('./index.ts');
  const v = run('VirtualService', vs([route(), route()]));
  assert.ok(v.warnings.length > 0 && v.warnings.every((w) => isUnreachableRuleWarning(w.message)));
  assert.equal(isUnreachableRuleWarning('gateway name "a.b" uses the legacy FQDN form'), false);
});
