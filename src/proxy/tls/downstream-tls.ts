// TLS termination on LDS listeners (a filter chain's DownstreamTlsContext), as the gateway translation emits it:
// certificates from files (`tls_certificates` with `filename`), from SDS secrets — `default`/`ROOTCA` are the
// workload identity, any other name is a Gateway `credentialName` read from the credentials directory
// (see credentials.ts) — client certificate validation (MUTUAL, OPTIONAL_MUTUAL) and protocol versions.
import { type Errors, type Raw, arr, at, bool, obj, str } from '../config/raw.ts';

/** Where a certificate or a CA bundle comes from. */
export type TlsSource =
  | { kind: 'file'; path: string }
  | { kind: 'inline'; pem: string }
  /** An SDS secret by name: `default`/`ROOTCA` (workload identity) or a credential name. */
  | { kind: 'sds'; name: string };

export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

export interface DownstreamTlsConfig {
  /** Certificate chain and private key (both files, both inline, or one SDS secret for both). */
  cert: { kind: 'pair'; chain: TlsSource; key: TlsSource } | { kind: 'sds'; name: string };
  /** Trusted CA for client certificates; undefined = clients are not asked for one. */
  clientCa: TlsSource | undefined;
  /** Reject clients without a valid certificate (MUTUAL, ISTIO_MUTUAL); false = OPTIONAL_MUTUAL when clientCa is set. */
  requireClientCert: boolean;
  /** ALPN protocols offered (h2, http/1.1); [] = no ALPN. */
  alpn: string[];
  /** tls_params; Envoy's server defaults are TLS 1.2 .. 1.3. */
  minVersion: TlsVersion;
  maxVersion: TlsVersion;
  /** tls_params.cipher_suites as an OpenSSL cipher list (TLS 1.2 and below); undefined = Node's defaults. */
  ciphers: string | undefined;
}

const DOWNSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';

const versions: Record<string, TlsVersion | undefined> = { TLSv1_0: 'TLSv1', TLSv1_1: 'TLSv1.1', TLSv1_2: 'TLSv1.2', TLSv1_3: 'TLSv1.3' };

/** A filter chain's transport_socket: undefined for plaintext (none or raw_buffer). */
export function compileDownstreamTls(raw: unknown, path: string, errors: Errors): DownstreamTlsConfig | undefined {
  const ts = obj(raw);
  if (!ts) return undefined;
  const name = str(ts['name']) ?? '';
  const tc = obj(ts['typed_config']) ?? {};
  const type = str(tc['@type']) ?? '';
  if (name === 'envoy.transport_sockets.raw_buffer' || type.endsWith('RawBuffer')) return undefined;
  if (type !== DOWNSTREAM_TLS) {
    errors.add(path, `transport socket ${name || type} is not supported on listeners (expected a DownstreamTlsContext)`);
    return undefined;
  }
  const cpath = at(at(path, 'typed_config'), 'common_tls_context');
  const ctx = obj(tc['common_tls_context']) ?? {};
  let cert: DownstreamTlsConfig['cert'] | undefined;
  const sds = obj(arr(ctx['tls_certificate_sds_secret_configs'])[0]);
  const files = obj(arr(ctx['tls_certificates'])[0]);
  if (sds && str(sds['name'])) cert = { kind: 'sds', name: str(sds['name'])! };
  else if (files) {
    const chain = dataSource(files['certificate_chain'], at(cpath, 'tls_certificates[0].certificate_chain'), errors);
    const key = dataSource(files['private_key'], at(cpath, 'tls_certificates[0].private_key'), errors);
    if (chain && key) cert = { kind: 'pair', chain, key };
  } else errors.add(cpath, 'a TLS listener needs a certificate: tls_certificates or tls_certificate_sds_secret_configs');
  const combined = obj(ctx['combined_validation_context']);
  const vc = obj(combined?.['default_validation_context']) ?? obj(ctx['validation_context']);
  const sdsCa = obj(combined?.['validation_context_sds_secret_config']) ?? obj(ctx['validation_context_sds_secret_config']);
  let clientCa: TlsSource | undefined;
  if (sdsCa && str(sdsCa['name'])) clientCa = { kind: 'sds', name: str(sdsCa['name'])! };
  else if (vc?.['trusted_ca'] !== undefined) clientCa = dataSource(vc['trusted_ca'], at(cpath, 'validation_context.trusted_ca'), errors);
  if (vc && (arr(vc['match_subject_alt_names']).length > 0 || arr(vc['match_typed_subject_alt_names']).length > 0 || arr(vc['verify_certificate_spki']).length > 0 || arr(vc['verify_certificate_hash']).length > 0)) {
    // Refuse rather than accept any client the CA signed when the config narrows it further.
    errors.add(at(cpath, 'validation_context'), 'client certificate SAN/SPKI/hash restrictions are not implemented on listeners; refusing rather than accepting more clients than configured');
  }
  const requireClientCert = bool(tc['require_client_certificate']) === true;
  if (requireClientCert && !clientCa) errors.add(at(path, 'typed_config.require_client_certificate'), 'require_client_certificate needs a validation context (trusted CA)');
  const params = obj(ctx['tls_params']) ?? {};
  const min = versionOf(params['tls_minimum_protocol_version'], 'TLSv1.2', at(cpath, 'tls_params.tls_minimum_protocol_version'), errors);
  const max = versionOf(params['tls_maximum_protocol_version'], 'TLSv1.3', at(cpath, 'tls_params.tls_maximum_protocol_version'), errors);
  if (!cert) return undefined;
  const suites = arr(params['cipher_suites']).filter((c): c is string => typeof c === 'string');
  return { cert, clientCa, requireClientCert, alpn: arr(ctx['alpn_protocols']).filter((a): a is string => typeof a === 'string'), minVersion: min, maxVersion: max, ciphers: suites.length > 0 ? suites.join(':') : undefined };
}

function versionOf(raw: unknown, dflt: TlsVersion, path: string, errors: Errors): TlsVersion {
  const v = str(raw) ?? 'TLS_AUTO';
  if (v === 'TLS_AUTO') return dflt;
  const out = versions[v];
  if (!out) errors.add(path, `unknown TLS version ${v}`);
  return out ?? dflt;
}

function dataSource(raw: unknown, path: string, errors: Errors): TlsSource | undefined {
  const o: Raw | undefined = obj(raw);
  if (typeof o?.['inline_string'] === 'string') return { kind: 'inline', pem: o['inline_string'] };
  if (typeof o?.['inline_bytes'] === 'string') return { kind: 'inline', pem: Buffer.from(o['inline_bytes'], 'base64').toString() };
  const file = str(o?.['filename']);
  if (file) return { kind: 'file', path: file };
  errors.add(path, 'needs filename, inline_string or inline_bytes');
  return undefined;
}
