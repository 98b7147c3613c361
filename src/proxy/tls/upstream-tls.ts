// Upstream TLS origination as the control plane describes it (UpstreamTlsContext in a cluster's transport_socket or
// transport_socket_matches): Istio mutual TLS with the workload identity (SDS secrets `default` and `ROOTCA`),
// or certificates from files (DestinationRule SIMPLE / MUTUAL). Peer names are checked as SPIFFE ids or SANs.
import { readFileSync } from 'node:fs';
import type { OnReadOpts as OnReadOptions } from 'node:net';
import { connect, createSecureContext, type ConnectionOptions, type PeerCertificate, type SecureContext, type TLSSocket } from 'node:tls';
import { type Errors, type Raw, arr, at, obj, plainStruct, str } from '../config/raw.ts';
import { compileStringMatcher, type StringTest } from '../router/matchers.ts';
import type { SecretStore, WorkloadSecrets } from './secrets.ts';

export interface UpstreamTls {
  sni: string | undefined;
  /** Client certificate: the workload identity (SDS `default`) or PEM read from files; none for SIMPLE. */
  cert: { kind: 'sds' } | { kind: 'pem'; chain: string; key: string } | undefined;
  /** Trust: the mesh roots (SDS `ROOTCA`), PEM from a file, or the system roots. */
  roots: { kind: 'sds' } | { kind: 'pem'; pem: string } | { kind: 'system' };
  /** match_subject_alt_names: the peer must present a SAN (URI or DNS) accepted by one of them; [] = any. */
  sans: StringTest[];
  alpn: string[];
}

const UPSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';

/** A transport_socket: undefined for plaintext (raw_buffer), an UpstreamTls for TLS. */
export function compileTransportSocket(raw: unknown, path: string, errors: Errors): UpstreamTls | undefined {
  const ts = obj(raw);
  if (!ts) return undefined;
  const name = str(ts['name']) ?? '';
  const tc = obj(ts['typed_config']) ?? {};
  if (name === 'envoy.transport_sockets.raw_buffer' || str(tc['@type'])?.endsWith('RawBuffer')) return undefined;
  if (str(tc['@type']) !== UPSTREAM_TLS && name !== 'envoy.transport_sockets.tls') {
    errors.add(path, `transport socket ${name || String(tc['@type'])} is not supported`);
    return undefined;
  }
  const ctx = obj(tc['common_tls_context']) ?? {};
  const cpath = at(at(path, 'typed_config'), 'common_tls_context');
  let cert: UpstreamTls['cert'];
  const sdsCert = obj(arr(ctx['tls_certificate_sds_secret_configs'])[0]);
  const fileCert = obj(arr(ctx['tls_certificates'])[0]);
  if (sdsCert) {
    if (str(sdsCert['name']) !== 'default') errors.add(at(cpath, 'tls_certificate_sds_secret_configs'), `only the SDS secret "default" (the workload identity) is supported, not "${String(sdsCert['name'])}"`);
    cert = { kind: 'sds' };
  } else if (fileCert) {
    const chain = readDataSource(fileCert['certificate_chain'], at(cpath, 'tls_certificates[0].certificate_chain'), errors);
    const key = readDataSource(fileCert['private_key'], at(cpath, 'tls_certificates[0].private_key'), errors);
    if (chain !== undefined && key !== undefined) cert = { kind: 'pem', chain, key };
  }
  let roots: UpstreamTls['roots'] = { kind: 'system' };
  let sans: StringTest[] = [];
  const combined = obj(ctx['combined_validation_context']);
  const vc = obj(combined?.['default_validation_context']) ?? obj(ctx['validation_context']);
  const sdsRoots = obj(combined?.['validation_context_sds_secret_config']) ?? obj(ctx['validation_context_sds_secret_config']);
  if (sdsRoots) {
    if (str(sdsRoots['name']) !== 'ROOTCA') errors.add(at(cpath, 'combined_validation_context'), `only the SDS secret "ROOTCA" (the mesh roots) is supported, not "${String(sdsRoots['name'])}"`);
    roots = { kind: 'sds' };
  } else if (vc?.['trusted_ca'] !== undefined) {
    const pem = readDataSource(vc['trusted_ca'], at(cpath, 'validation_context.trusted_ca'), errors);
    if (pem !== undefined) roots = { kind: 'pem', pem };
  }
  if (vc) {
    sans = arr(vc['match_subject_alt_names'])
      .map((m, i) => compileStringMatcher(m, at(cpath, `validation_context.match_subject_alt_names[${i}]`), errors))
      .filter((t): t is StringTest => t !== undefined);
    arr(vc['match_typed_subject_alt_names']).forEach((m, i) => {
      const t = compileStringMatcher(obj(m)?.['matcher'], at(cpath, `validation_context.match_typed_subject_alt_names[${i}].matcher`), errors);
      if (t) sans.push(t);
    });
  }
  return { sni: str(tc['sni']), cert, roots, sans, alpn: arr(ctx['alpn_protocols']).filter((a): a is string => typeof a === 'string') };
}

function readDataSource(raw: unknown, path: string, errors: Errors): string | undefined {
  const o = obj(raw);
  if (typeof o?.['inline_string'] === 'string') return o['inline_string'];
  if (typeof o?.['inline_bytes'] === 'string') return Buffer.from(o['inline_bytes'], 'base64').toString();
  const file = str(o?.['filename']);
  if (!file) {
    errors.add(path, 'needs filename, inline_string or inline_bytes');
    return undefined;
  }
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    errors.add(at(path, 'filename'), `cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

/** Envoy's transport_socket_matches: the first entry whose `match` is a subset of the endpoint's metadata. */
export interface TransportMatch {
  name: string;
  match: Record<string, string>;
  tls: UpstreamTls | undefined;
}

export function compileTransportMatches(raw: Raw, errors: Errors): TransportMatch[] {
  return arr(raw['transport_socket_matches']).map((m, i) => {
    const o = obj(m) ?? {};
    const match: Record<string, string> = {};
    for (const [k, v] of Object.entries(plainStruct(o['match']))) if (typeof v === 'string') match[k] = v;
    return { name: str(o['name']) ?? '', match, tls: compileTransportSocket(o['transport_socket'], at(at('transport_socket_matches', i), 'transport_socket'), errors) };
  });
}

/**
 * Client contexts, built once per transport socket config and identity (a rotation replaces the WorkloadSecrets
 * object, so the next connection gets a context with the new certificate). Building one parses the key, the chain
 * and the roots: ~0.3 ms of CPU that would otherwise be spent on every new upstream connection.
 */
const contexts = new WeakMap<UpstreamTls, WeakMap<WorkloadSecrets | UpstreamTls, SecureContext>>();

function clientContext(t: UpstreamTls, id: WorkloadSecrets | undefined): SecureContext | string {
  let byId = contexts.get(t);
  if (!byId) contexts.set(t, (byId = new WeakMap()));
  const key = id ?? t;
  let ctx = byId.get(key);
  if (!ctx) {
    const cert = t.cert?.kind === 'sds' ? { cert: id!.certChainPem, key: id!.keyPem } : t.cert?.kind === 'pem' ? { cert: t.cert.chain, key: t.cert.key } : {};
    const ca = t.roots.kind === 'sds' ? { ca: id!.rootsPem } : t.roots.kind === 'pem' ? { ca: t.roots.pem } : {};
    try {
      ctx = createSecureContext({ minVersion: 'TLSv1.2', ...cert, ...ca });
    } catch (e) {
      // A certificate or key the files hold but OpenSSL refuses: the connection fails like a connect failure.
      return `cannot use the upstream TLS certificate: ${e instanceof Error ? e.message : String(e)}`;
    }
    byId.set(key, ctx);
  }
  return ctx;
}

/** Node TLS options for one upstream connection, or why there are none (no workload certificate yet). */
export function tlsConnectOptions(t: UpstreamTls, secrets: SecretStore | undefined): ConnectionOptions | string {
  const usesSds = t.cert?.kind === 'sds' || t.roots.kind === 'sds';
  const id = usesSds ? secrets?.current() : undefined;
  if (usesSds && !id) return 'no workload certificate (SDS "default"/"ROOTCA" not ready)';
  const secureContext = clientContext(t, id);
  if (typeof secureContext === 'string') return secureContext;
  const opts: ConnectionOptions = { rejectUnauthorized: true, secureContext };
  if (t.sni) opts.servername = t.sni;
  if (t.alpn.length > 0 && !t.alpn.includes('istio')) opts.ALPNProtocols = t.alpn;
  const sdsRoots = t.roots.kind === 'sds';
  opts.checkServerIdentity = (_host: string, cert: PeerCertificate): Error | undefined => {
    const sans = (cert.subjectaltname ?? '').split(', ').map((s) => s.replace(/^(URI|DNS):/, ''));
    if (t.sans.length > 0) return sans.some((s) => t.sans.some((m) => m(s))) ? undefined : new Error(`peer certificate SANs [${sans.join(', ')}] match none of match_subject_alt_names`);
    // Istio mutual TLS without explicit names: any identity the mesh roots signed, but it must be a SPIFFE id.
    if (sdsRoots) return sans.some((s) => s.startsWith('spiffe://')) ? undefined : new Error('peer certificate carries no SPIFFE id');
    return undefined;
  };
  return opts;
}

/** Session tickets by client context (one per config and identity), then by server (`address:port|sni|alpn`). */
const sessions = new WeakMap<SecureContext, Map<string, Buffer>>();
/** Servers remembered per client context; the oldest entry goes first past this. */
export const maxSessionsPerContext = 1024;

/**
 * Open an upstream TLS connection with options from tlsConnectOptions, offering the session ticket the same server
 * last gave for the same config and identity (TLS resumption, as Envoy does between sidecars: neither side parses
 * and verifies a certificate chain again; the server still knows the client identity from the ticket). Tickets are
 * kept only from servers that passed verification; a rotation builds a new context, so old tickets are not offered.
 */
export function connectUpstreamTls(opts: ConnectionOptions, host: string, port: number, onread?: OnReadOptions): TLSSocket {
  const ctx = opts.secureContext;
  const key = `${host}:${port}|${opts.servername ?? ''}|${Array.isArray(opts.ALPNProtocols) ? opts.ALPNProtocols.join(',') : ''}`;
  const session = ctx ? sessions.get(ctx)?.get(key) : undefined;
  const socket = connect({ ...opts, host, port, ...(session ? { session } : {}), ...(onread ? { onread } : {}) });
  if (ctx) {
    socket.on('session', (ticket: Buffer) => {
      if (!socket.authorized) return;
      let byServer = sessions.get(ctx);
      if (!byServer) sessions.set(ctx, (byServer = new Map()));
      if (!byServer.has(key) && byServer.size >= maxSessionsPerContext) byServer.delete(byServer.keys().next().value!);
      byServer.set(key, ticket);
    });
  }
  return socket;
}
