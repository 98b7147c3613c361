// The proxy's xDS client: one ADS stream to the control plane on Weft's node:http2 gRPC client (src/core/grpc),
// plaintext (15010) or TLS (15012), speaking state of the world (StreamAggregatedResources, sotw.ts) or delta
// (DeltaAggregatedResources, delta.ts). Subscribes to CDS and LDS, then EDS and RDS for what they reference, as Envoy
// does; ACKs and NACKs (a NACK keeps the last good config). When the stream breaks the proxy keeps its config and
// reconnects with capped, jittered backoff; HTTP/2 keepalive pings notice a control plane that vanished silently.
import { GrpcChannel, GrpcStatus, statusName, type GrpcCall, type MethodDescriptor } from '../../core/grpc/index.ts';
import { decodeMessage, encodeMessage, typeShortName, type XdsTypeUrl } from '../../xds/protos.ts';
import { DeltaHandler } from './delta.ts';
import { nodeId, nodeMetadata, toStruct, type NodeIdentity } from './node-info.ts';
import { SotwHandler } from './sotw.ts';
import type { AdsHandler, HandlerHost, TypeStatus, XdsSink } from './types.ts';

export type { XdsSink } from './types.ts';

/** Which ADS variant to speak: state of the world or delta (incremental). */
export type XdsProtocol = 'sotw' | 'delta';

export interface XdsClientOptions {
  /** host:port of the discovery server (15010 plaintext, 15012 TLS). */
  address: string;
  /** TLS to the control plane: root CA (PEM) and optional client certificate chain and key; serverName to verify instead of the host. */
  tls?: { rootCa: Buffer | string; certChain?: Buffer | string; privateKey?: Buffer | string; serverName?: string } | undefined;
  node: NodeIdentity;
  sink: XdsSink;
  /** Reported as ISTIO_VERSION and user_agent_version. */
  version: string;
  /** Default 'sotw'. A control plane that answers delta with UNIMPLEMENTED is then spoken to in state of the world. */
  protocol?: XdsProtocol;
  /** Backoff between reconnects: first delay and cap in ms (Envoy: 500 ms, 30 s). Full jitter. */
  backoff?: { initialMs: number; maxMs: number };
  /** HTTP/2 keepalive: ping interval and answer timeout, ms (default 30 s and 20 s). */
  keepalive?: { timeMs: number; timeoutMs: number };
  random?: () => number;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

export type XdsConnectionState = 'connecting' | 'connected' | 'disconnected' | 'stopped';

const adsService = '/envoy.service.discovery.v3.AggregatedDiscoveryService';

/**
 * The ADS method of a protocol, encoded and decoded with the Envoy protos (src/xds/protos.ts, without protobufjs).
 * Responses come with every field present (defaults) and their resources as undecoded Anys (decodeAny() later).
 */
function adsMethod(protocol: XdsProtocol): MethodDescriptor<Record<string, unknown>, unknown> {
  const [method, req, res] = protocol === 'sotw' ? ['StreamAggregatedResources', 'DiscoveryRequest', 'DiscoveryResponse'] : ['DeltaAggregatedResources', 'DeltaDiscoveryRequest', 'DeltaDiscoveryResponse'];
  return {
    path: `${adsService}/${method}`,
    encode: (o) => encodeMessage(`envoy.service.discovery.v3.${req}`, o),
    decode: (b) => decodeMessage(`envoy.service.discovery.v3.${res}`, b, { defaults: true, expandAny: false }),
  };
}

export class AdsClient {
  private readonly opts: XdsClientOptions;
  /** The protocol spoken (delta falls back to sotw when the control plane does not implement it). */
  protocol: XdsProtocol;
  private readonly channel: GrpcChannel;
  private method: MethodDescriptor<Record<string, unknown>, unknown>;
  private handler: AdsHandler;
  private readonly host: HandlerHost;
  private call: GrpcCall<Record<string, unknown>, unknown> | undefined;
  private sentNode = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  state: XdsConnectionState = 'connecting';
  /** Streams opened so far (1 + reconnects). */
  streams = 0;
  lastError: string | undefined;
  private readyWaiters: (() => void)[] = [];
  /** True once LDS and CDS (and what they reference) have been received at least once. */
  ready = false;

  constructor(opts: XdsClientOptions) {
    this.opts = opts;
    this.protocol = opts.protocol ?? 'sotw';
    const t = opts.tls;
    this.channel = new GrpcChannel(opts.address, {
      tls: t ? { rootsPem: t.rootCa, certChainPem: t.certChain, keyPem: t.privateKey, serverName: t.serverName } : undefined,
      keepaliveTimeMs: opts.keepalive?.timeMs ?? 30_000,
      keepaliveTimeoutMs: opts.keepalive?.timeoutMs ?? 20_000,
      maxReceiveMessageBytes: 64 * 1024 * 1024,
      userAgent: `weft/${opts.version}`,
    });
    this.method = adsMethod(this.protocol);
    this.host = { send: (req: Record<string, unknown>) => this.send(req), sink: opts.sink, log: (level: 'info' | 'warn' | 'error', m: string) => this.log(level, m) };
    this.handler = this.protocol === 'sotw' ? new SotwHandler(this.host) : new DeltaHandler(this.host);
  }

  private log(level: 'info' | 'warn' | 'error', message: string): void {
    this.opts.log?.(level, message);
  }

  start(): void {
    this.connect();
  }

  /** Resolves when the first full configuration has arrived (for readiness). */
  whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((r) => this.readyWaiters.push(r));
  }

  stop(): void {
    this.state = 'stopped';
    clearTimeout(this.timer);
    const call = this.call;
    this.call = undefined;
    call?.cancel('the proxy is stopping');
    this.channel.close();
  }

  /** Per-type status for the admin page and `weft proxy-status`. */
  status(): Record<string, { version: string; nonce: string; names: string[]; acks: number; nacks: number; lastError: string | undefined }> {
    const out: ReturnType<AdsClient['status']> = {};
    for (const [t, s] of this.handler.status()) out[typeShortName[t as XdsTypeUrl]] = pick(s);
    return out;
  }

  /** The protocol handler (tests read the delta client's held versions through it). */
  get protocolHandler(): AdsHandler {
    return this.handler;
  }

  private connect(): void {
    if (this.state === 'stopped') return;
    this.state = 'connecting';
    this.streams++;
    this.sentNode = false;
    const call = this.channel.call(this.method);
    this.call = call;
    call.on('message', (r) => {
      if (this.call !== call) return;
      if (this.state !== 'connected') {
        this.state = 'connected';
        this.log('info', `xDS connected to ${this.opts.address} (${this.protocol})`);
      }
      this.attempt = 0;
      try {
        this.handler.onResponse(r);
      } catch (e) {
        this.log('error', `xDS response handling failed: ${e instanceof Error ? e.message : String(e)}`);
      }
      this.checkReady();
    });
    call.on('status', (s) => {
      if (s.code === GrpcStatus.UNIMPLEMENTED && this.protocol === 'delta' && this.call === call) this.fallBackToSotw(s.details);
      this.onBroken(call, s.code === 0 ? 'stream ended by the server' : `${statusName(s.code)}: ${s.details}`);
    });
    // Re-subscribe everything, with what is already held (so the server may skip unchanged resources).
    this.handler.resubscribe();
  }

  /** An older or SotW-only control plane: speak state of the world from now on (Envoy would keep failing). */
  private fallBackToSotw(details: string): void {
    this.log('warn', `xDS: ${this.opts.address} does not serve delta xDS (UNIMPLEMENTED${details ? `: ${details}` : ''}); using state of the world`);
    this.protocol = 'sotw';
    this.method = adsMethod('sotw');
    this.handler = new SotwHandler(this.host);
  }

  private onBroken(call: GrpcCall<Record<string, unknown>, unknown>, why: string): void {
    if (this.call !== call || this.state === 'stopped') return;
    this.call = undefined;
    this.state = 'disconnected';
    this.lastError = why;
    const cap = this.opts.backoff?.maxMs ?? 30_000;
    const base = this.opts.backoff?.initialMs ?? 500;
    const ceiling = Math.min(cap, base * 2 ** this.attempt);
    this.attempt++;
    const delay = Math.floor((this.opts.random ?? Math.random)() * ceiling) + 1;
    this.log('warn', `xDS stream to ${this.opts.address} broke (${why}); keeping the last good config, reconnecting in ${delay} ms`);
    this.timer = setTimeout(() => this.connect(), delay);
    this.timer.unref?.();
  }

  private send(req: Record<string, unknown>): void {
    const call = this.call;
    if (!call) return;
    if (!this.sentNode) {
      const n = this.opts.node;
      req['node'] = {
        id: nodeId(n),
        cluster: `${n.labels['app'] ?? n.name}.${n.namespace}`,
        metadata: toStruct(nodeMetadata(n, this.opts.version)),
        user_agent_name: 'weft',
        user_agent_version: this.opts.version,
      };
      this.sentNode = true;
    }
    // ADS requests are small and few; HTTP/2 flow control only queues them (write() may return false).
    call.write(req);
  }

  private checkReady(): void {
    if (this.ready || !this.handler.ready()) return;
    this.ready = true;
    for (const w of this.readyWaiters.splice(0)) w();
  }
}

function pick(s: TypeStatus): { version: string; nonce: string; names: string[]; acks: number; nacks: number; lastError: string | undefined } {
  return { version: s.version, nonce: s.nonce, names: s.names, acks: s.acks, nacks: s.nacks, lastError: s.lastError };
}
