// The value rules of AuthorizationPolicy: `when` condition keys (Istio's supported attribute list) and their
// values, ports, path templates (`{*}`, `{**}`), service accounts and trust domains. Each check returns a
// short reason (or undefined) so callers can report it at the exact field path.
import { validateIpOrCidr } from '../validation/common/net.ts';
import type { Reporter } from '../validation/report.ts';
import type { Condition } from './authorization-policy.ts';

/** Keys that take no brackets and accept any non-empty values. */
const PLAIN_KEYS: ReadonlySet<string> = new Set([
  'source.namespace', 'source.principal', 'request.auth.principal', 'request.auth.audiences', 'request.auth.presenter', 'connection.sni',
]);
/** Keys of the form `prefix[name]`. */
const MAP_KEY_PREFIXES: readonly string[] = ['request.headers', 'request.auth.claims', 'experimental.envoy.filters.'];
const IP_KEYS: ReadonlySet<string> = new Set(['source.ip', 'remote.ip', 'destination.ip']);

/** The condition keys Istio accepts, for messages. */
export const SUPPORTED_KEYS =
  'request.headers[<name>], source.ip, remote.ip, source.namespace, source.principal, source.serviceAccount, source.trustDomain, ' +
  'request.auth.principal, request.auth.audiences, request.auth.presenter, request.auth.claims[<name>], destination.ip, destination.port, ' +
  'connection.sni, experimental.envoy.filters.*[<name>]';

/** Valid literal path segment characters (RFC 3986 pchar), as Envoy's URI template matcher accepts them. */
const PATH_LITERAL = /^[a-zA-Z0-9\-._~%!$&'()+,;:@=]+$/;

/** Check one `when` condition: a supported key, at least one of values/notValues, and values valid for the key. */
export function checkCondition(r: Reporter, c: Condition): void {
  const key = typeof c.key === 'string' ? c.key : '';
  if (key === '') {
    r.at('key').error(`required: set key to one of ${SUPPORTED_KEYS}`);
    return;
  }
  const values = c.values ?? [];
  const notValues = c.notValues ?? [];
  if (values.length === 0 && notValues.length === 0) {
    r.error(`at least one of values or notValues must be set for key ${key}`);
    return;
  }
  const keyWhy = keyProblem(key);
  if (keyWhy) {
    r.at('key').error(keyWhy);
    return;
  }
  checkValues(r.at('values'), key, values);
  checkValues(r.at('notValues'), key, notValues);
}

function keyProblem(key: string): string | undefined {
  const prefix = MAP_KEY_PREFIXES.find((p) => key.startsWith(p));
  if (prefix !== undefined) {
    const open = key.indexOf('[');
    if (key.endsWith(']') && open > 0 && open < key.length - 2) return undefined;
    return `bad key ${JSON.stringify(key)}: it must have the form ${prefix.endsWith('.') ? `${prefix}<filter>` : prefix}[<name>]`;
  }
  if (PLAIN_KEYS.has(key) || IP_KEYS.has(key) || key === 'destination.port' || key === 'source.serviceAccount' || key === 'source.trustDomain') return undefined;
  if (key === 'destination.namespace') return `attribute ${key} is replaced by the policy's metadata.namespace: remove the condition and create the policy in that namespace`;
  if (key.startsWith('destination.labels')) return `attribute ${key} is replaced by the workload selector: use spec.selector.matchLabels`;
  if (key === 'destination.name' || key === 'destination.user') return `deprecated attribute ${key} was only supported in v1alpha1: remove it`;
  return `unknown attribute ${JSON.stringify(key)}: use one of ${SUPPORTED_KEYS}`;
}

function checkValues(r: Reporter, key: string, values: string[]): void {
  values.forEach((v, i) => {
    const at = r.at(i);
    if (v === '') {
      at.error(`empty value not allowed for key ${key}`);
      return;
    }
    let why: string | undefined;
    if (IP_KEYS.has(key)) why = validateIpOrCidr(v);
    else if (key === 'destination.port') why = portProblem(v);
    else if (key === 'source.serviceAccount') why = serviceAccountProblem(v);
    else if (key === 'source.trustDomain') why = wildcardProblem(v);
    if (why) at.error(why);
  });
  if (key === 'source.serviceAccount' && values.length > 16) r.error(`at most 16 service accounts may be listed, found ${values.length}`);
}

/** A port as AuthorizationPolicy writes it: a decimal string 0..65535. */
export function portProblem(port: string): string | undefined {
  if (/^[0-9]+$/.test(port) && Number(port) <= 65535) return undefined;
  return `bad port ${JSON.stringify(port)}: use a number from 0 to 65535, as a string (e.g. "8080")`;
}

/** `serviceAccount` or `namespace/serviceAccount`, no wildcard, at most 320 characters. */
export function serviceAccountProblem(value: string): string | undefined {
  if (value.includes('*')) return `wildcard not allowed in service account ${JSON.stringify(value)}: list each service account`;
  const slashes = value.split('/').length - 1;
  const [ns, sa] = value.split('/');
  if (slashes > 1 || (slashes === 1 && (ns === '' || sa === ''))) {
    return `expected format "serviceAccount" or "namespace/serviceAccount", found ${JSON.stringify(value)}`;
  }
  if (value.length > 320) return `service account ${JSON.stringify(value.slice(0, 40))}… is longer than 320 characters`;
  return undefined;
}

/** At most one `*`, and only at the start or end (or the lone `*`). */
function wildcardProblem(value: string): string | undefined {
  const stars = value.split('*').length - 1;
  if (stars > 1) return `at most one wildcard is allowed, found ${JSON.stringify(value)}`;
  if (stars === 1 && value !== '*' && !value.startsWith('*') && !value.endsWith('*')) {
    return `wildcard is only allowed at the start or end, found ${JSON.stringify(value)}`;
  }
  return undefined;
}

/** A trust domain: wildcard rules as above, and no `/`. */
export function trustDomainProblem(value: string): string | undefined {
  return wildcardProblem(value) ?? (value.includes('/') ? `trust domain must not contain '/', found ${JSON.stringify(value)}` : undefined);
}

/**
 * Istio's path-template rules: `{*}` matches one segment and `{**}` any number; `{**}` must be the last operator;
 * no other `{` or `}`; in a templated path every literal segment must be valid URI path characters.
 */
export function pathTemplateProblem(path: string): string | undefined {
  const templated = path.includes('{*}') || path.includes('{**}');
  const segments = path.replace(/^\/+|\/+$/g, '').split('/');
  let sawMatchAny = false;
  for (const seg of segments) {
    if ((seg === '{*}' || seg === '{**}') && sawMatchAny) {
      return `invalid path ${JSON.stringify(path)}: {**} must be the last operator of a path template`;
    }
    if (seg === '{*}') continue;
    if (seg === '{**}') {
      sawMatchAny = true;
      continue;
    }
    if (seg.includes('{') || seg.includes('}')) {
      return `invalid path ${JSON.stringify(path)}: it contains '{' or '}' outside a supported template ({*} for one segment, {**} for the rest)`;
    }
    if (templated && !PATH_LITERAL.test(seg)) {
      return `invalid path ${JSON.stringify(path)}: segment ${JSON.stringify(seg)} is not a valid literal in a path template`;
    }
  }
  return undefined;
}
