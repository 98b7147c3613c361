// One HTTP/1.1 POST to a collector endpoint (a host picked from the tracer's cluster), over a small keep-alive
// pool. Resolves on a 2xx answer; rejects on anything else, a connection error or the timeout.
// The connection honours the cluster's TLS, as Envoy's tracer does for its collector cluster: a DestinationRule
// SIMPLE/MUTUAL origination (the CA and SNI from the rule) or Istio mutual TLS (the workload identity, for a
// collector with a sidecar), verified exactly as the data path verifies upstreams (src/proxy/tls/upstream-tls.ts).
// Loaded only with the tracing runtime, on the first traced request (not by an idle sidecar).
// eslint-disable-next-line @typescript-eslint/no-restricted-imports
import * as http from 'node:http';
import type { ConnectionOptions, SecureContext } from 'node:tls';
import { connectUpstreamTls, tlsConnectOptions, type UpstreamTls } from '../tls/upstream-tls.ts';
import type { SecretStore } from '../tls/secrets.ts';

/** A host of the collector's cluster: its address and, when the cluster originates TLS, how (a cluster Host is one). */
export interface Endpoint {
  address: string;
  port: number;
  /** The cluster's (or matching transport socket's) TLS origination; undefined = plaintext. */
  tls?: UpstreamTls | undefined;
  /** The workload identity, for ISTIO_MUTUAL (SDS `default` / `ROOTCA`). */
  secrets?: SecretStore | undefined;
}

/** How a POST reaches its endpoint: plaintext, or TLS with these options (a secure context built once per config and identity). */
export type Transport = { kind: 'plain' } | { kind: 'tls'; options: ConnectionOptions; context: SecureContext | undefined };

/** The transport for `target`, or why there is none (TLS configured but no workload certificate yet …). */
export function transportFor(target: Endpoint): Transport | string {
  if (!target.tls) return { kind: 'plain' };
  const options = tlsConnectOptions(target.tls, target.secrets);
  if (typeof options === 'string') return options;
  return { kind: 'tls', options, context: options.secureContext };
}

const agentOptions: http.AgentOptions = { keepAlive: true, maxSockets: 2, timeout: 30_000 };

/**
 * Keep-alive connections of one sink (closed with it): one agent for plaintext, one for the current TLS context.
 * A new context (certificate rotation, a changed DestinationRule) gets a fresh agent; the old one is closed, so
 * no connection outlives the identity or trust it was made with by more than one export.
 */
export class Pool {
  private plain: http.Agent | undefined;
  private tls: { context: SecureContext | undefined; agent: http.Agent } | undefined;

  agentFor(t: Transport): http.Agent {
    if (t.kind === 'plain') return (this.plain ??= new http.Agent(agentOptions));
    const current = this.tls;
    if (current && current.context !== undefined && current.context === t.context) return current.agent;
    current?.agent.destroy();
    const agent = new http.Agent(agentOptions);
    const options = t.options;
    // The agent pools sockets per host:port; each new one is a TLS connection with the cluster's settings.
    agent.createConnection = (o: http.ClientRequestArgs) => connectUpstreamTls(options, String(o.host), Number(o.port));
    this.tls = { context: t.context, agent };
    return agent;
  }

  destroy(): void {
    this.plain?.destroy();
    this.tls?.agent.destroy();
    this.plain = undefined;
    this.tls = undefined;
  }
}

/** Keep-alive connections of one sink (closed with it). */
export function newPool(): Pool {
  return new Pool();
}

export function post(pool: Pool, target: Endpoint, host: string, path: string, contentType: string, body: Uint8Array, extraHeaders: ReadonlyArray<readonly [string, string]>, timeoutMs: number): Promise<void> {
  const where = `${target.address}:${target.port}`;
  const transport = transportFor(target);
  if (typeof transport === 'string') return Promise.reject(new Error(`collector ${where}: cannot start TLS: ${transport}`));
  const scheme = transport.kind === 'tls' ? 'https' : 'http';
  return new Promise<void>((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { host, 'content-type': contentType, 'content-length': body.byteLength };
    for (const [k, v] of extraHeaders) headers[k] = v;
    const req = http.request({ host: target.address, port: target.port, method: 'POST', path, headers, agent: pool.agentFor(transport) }, (res) => {
      res.resume();
      res.on('end', () => {
        const s = res.statusCode ?? 0;
        if (s >= 200 && s < 300) resolve();
        else reject(new Error(`collector ${scheme}://${where}${path} answered ${s}`));
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`collector ${scheme}://${where} did not answer within ${timeoutMs} ms`)));
    req.on('error', (e) => reject(transport.kind === 'tls' ? tlsError(e, `${scheme}://${where}`) : e));
    req.end(body);
  });
}

/** A TLS failure said in the terms of the config that caused it (Node's own hint about system CAs does not apply). */
function tlsError(e: Error, where: string): Error {
  const message = e.message.replace(/; if the root CA is installed locally, try running Node\.js with --use-system-ca$/, '');
  const code = (e as NodeJS.ErrnoException).code ?? '';
  const hint = /CERT|SELF_SIGNED|ISSUER|ERR_TLS|SSL/.test(code) || /certificate|subject_alt_names|SPIFFE/i.test(message)
    ? ' — check the collector cluster\'s TLS: the DestinationRule\'s caCertificates, subjectAltNames and sni, or the collector\'s certificate'
    : '';
  return new Error(`collector ${where}: ${message}${hint}`, { cause: e });
}
