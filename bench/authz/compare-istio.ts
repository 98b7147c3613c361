// Development check, not a benchmark: translate every input of Istio's authz builder tests and compare the result,
// through the real protos (encode → decode), with Istio's own golden output. Needs a checkout of istio/istio:
//   node bench/authz/compare-istio.ts /path/to/istio   (or a bare mirror: reads files with `git show HEAD:`)
import { execFileSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments } from 'yaml';
import type { Resource } from '../../src/config/api/resource.ts';
import { buildAuthzFilters } from '../../src/discovery/translate/security/authz.ts';
import type { ExtensionProvider } from '../../src/discovery/translate/security/ext-authz.ts';
import { applicablePolicies } from '../../src/discovery/translate/security/select.ts';
import { decodeAny, encodeAny } from '../../src/xds/protos.ts';

const repo = process.argv[2] ?? '/work/.mirror/istio+istio/repo';
const base = 'pilot/pkg/security/authz/builder/testdata';
function read(path: string): string | undefined {
  const file = join(repo, path);
  if (existsSync(file)) return readFileSync(file, 'utf8');
  try {
    return execFileSync('git', ['-C', repo, 'show', `HEAD:${path}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

const grpc: ExtensionProvider[] = [{ name: 'default', envoyExtAuthzGrpc: { service: 'foo/my-custom-ext-authz.foo.svc.cluster.local', port: 9000, timeout: '2ms', failOpen: true, statusOnError: '403', includeRequestBodyInCheck: { maxRequestBytes: 4096, allowPartialMessage: true } } }];
const http: ExtensionProvider[] = [{
  name: 'default',
  envoyExtAuthzHttp: {
    service: 'foo/my-custom-ext-authz.foo.svc.cluster.local', port: 9000, timeout: '10s', failOpen: true, statusOnError: '403', pathPrefix: '/check',
    includeRequestHeadersInCheck: ['x-custom-id', 'x-prefix-*', '*-suffix'], includeHeadersInCheck: ['should-not-include-when-IncludeRequestHeadersInCheck-is-set'],
    includeAdditionalHeadersInCheck: { 'x-header-1': 'value-1', 'x-header-2': 'value-2' },
    includeRequestBodyInCheck: { maxRequestBytes: 2048, allowPartialMessage: true, packAsBytes: true },
    headersToUpstreamOnAllow: ['Authorization', 'x-prefix-*', '*-suffix'], headersToDownstreamOnDeny: ['Set-cookie', 'x-prefix-*', '*-suffix'], headersToDownstreamOnAllow: ['Set-cookie', 'x-prefix-*', '*-suffix'],
  },
}];
interface Case { dir: 'http' | 'tcp'; input: string; want: string[]; td?: string[]; providers?: ExtensionProvider[] }
const cases: Case[] = [
  ...['allow-empty-rule', 'allow-full-rule', 'allow-nil-rule', 'allow-path', 'audit-full-rule', 'deny-empty-rule', 'dry-run-allow', 'dry-run-mix', 'multiple-policies', 'single-policy'].map((n) => ({ dir: 'http' as const, input: n, want: [`${n}-out.yaml`] })),
  ...['deny-and-allow', 'dry-run-allow-and-deny'].map((n) => ({ dir: 'http' as const, input: n, want: [`${n}-out1.yaml`, `${n}-out2.yaml`] })),
  { dir: 'http', input: 'custom-simple-http', want: ['custom-http-provider-out1.yaml', 'custom-http-provider-out2.yaml'], providers: http },
  { dir: 'http', input: 'custom-simple-http', want: ['custom-grpc-provider-out1.yaml', 'custom-grpc-provider-out2.yaml'], providers: grpc },
  { dir: 'http', input: 'custom-bad-multiple-providers', want: ['custom-bad-multiple-providers-out1.yaml', 'custom-bad-multiple-providers-out2.yaml'], providers: http },
  { dir: 'http', input: 'simple-policy-td-aliases', want: ['simple-policy-td-aliases-out.yaml'], td: ['td1', 'cluster.local'] },
  { dir: 'http', input: 'simple-policy-multiple-td-aliases', want: ['simple-policy-multiple-td-aliases-out.yaml'], td: ['td1', 'cluster.local', 'some-td'] },
  { dir: 'http', input: 'simple-policy-principal-with-wildcard', want: ['simple-policy-principal-with-wildcard-out.yaml'], td: ['td1', 'foobar'] },
  { dir: 'http', input: 'td-aliases-source-principal', want: ['td-aliases-source-principal-out.yaml'], td: ['new-td', 'old-td', 'some-trustdomain'] },
  { dir: 'http', input: 'trust-domains', want: ['trust-domains-out.yaml'] },
  ...['allow-both-http-tcp', 'allow-only-http', 'audit-both-http-tcp', 'deny-both-http-tcp', 'dry-run-mix'].map((n) => ({ dir: 'tcp' as const, input: n, want: [`${n}-out.yaml`] })),
  { dir: 'tcp', input: 'custom-both-http-tcp', want: ['custom-both-http-tcp-out1.yaml', 'custom-both-http-tcp-out2.yaml'], providers: grpc },
  { dir: 'tcp', input: 'custom-only-http', want: [], providers: http },
];

const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
function toSnake(v: unknown, keepKeys = false): unknown {
  if (Array.isArray(v)) return v.map((x) => toSnake(x));
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const key = keepKeys || k === '@type' ? k : snake(k);
    // Istio's goldens use the proto JSON mapping: wrappers as bare numbers, durations as "1.5s".
    if (key === 'prefix_len' && typeof x === 'number') out[key] = { value: x };
    else if ((key === 'timeout' || key === 'cache_duration') && typeof x === 'string') {
      const secs = Number(x.slice(0, -1));
      const whole = Math.floor(secs);
      const nanos = Math.round((secs - whole) * 1e9);
      out[key] = nanos ? { seconds: whole, nanos } : { seconds: whole };
    } else out[key] = toSnake(x, k === 'policies');
  }
  return out;
}
const norm = (typed: Record<string, unknown>): Record<string, unknown> => decodeAny(encodeAny(String(typed['@type']), typed));

let pass = 0;
let fail = 0;
for (const c of cases) {
  const input = read(`${base}/${c.dir}/${c.input}-in.yaml`);
  if (!input) throw new Error(`missing ${c.input}`);
  const docs = parseAllDocuments(input).map((d) => d.toJS() as Resource | null).filter((d): d is Resource => d !== null);
  const policies = applicablePolicies(docs, 'AuthorizationPolicy', { namespace: 'foo', labels: { app: 'httpbin', version: 'v1' } }, 'istio-config');
  const built = buildAuthzFilters(policies, { trustDomains: c.td ?? ['cluster.local'], extensionProviders: c.providers ?? [] });
  const got = (c.dir === 'tcp' ? built.tcp : built.http).map((f) => ({ name: f['name'], typed: norm(f['typed_config'] as Record<string, unknown>) }));
  const wants = c.want.map((w) => {
    const y = parseAllDocuments(read(`${base}/${c.dir}/${w}`) ?? '')[0]!.toJS() as Record<string, unknown>;
    const s = toSnake(y) as Record<string, unknown>;
    return { name: s['name'], typed: norm(s['typed_config'] as Record<string, unknown>) };
  });
  const ok = isDeepStrictEqual(got, wants);
  if (ok) pass++;
  else fail++;
  console.log(`${ok ? 'SAME ' : 'DIFF '} ${c.dir}/${c.input} → ${c.want.join(', ') || '(no filters)'}`);
  if (!ok && process.argv.includes('-v')) {
    console.log('  got: ', JSON.stringify(got).slice(0, 3000));
    console.log('  want:', JSON.stringify(wants).slice(0, 3000));
  }
}
console.log(`${pass} same, ${fail} different`);
