// The proxy's xDS client: one ADS stream (state of the world) over @grpc/grpc-js, plaintext or TLS. Subscribes to
// CDS and LDS (wildcard), then EDS for the clusters' service names and RDS for the listeners' route names, as Envoy
// does. Every response is ACKed with its version and nonce, or NACKed with error_detail (the last good config keeps
// serving). When the stream breaks the proxy keeps its config and reconnects with capped, jittered backoff.
import * as grpc from '@grpc/grpc-js';
import { TypeUrl, adsGrpcPackage, decodeAny, typeShortName, type AnyMessage, type XdsTypeUrl } from '../../xds/protos.ts';
import { describeErrors, type ResourceError } from '../config/config-state.ts';
import type { Raw } from '../config/raw.ts';
import { nodeId, nodeMetadata, toStruct, type NodeIdentity } from './node-info.ts';

/** Where accepted resources go (the proxy engine) and what it now needs (subscriptions). */
export interface XdsSink {
  apply(typeUrl: string, resources: readonly Raw[], version: string): ResourceError[];
  /** RDS names referenced by current listeners. */
  routeNames(): Set<string>;
  /** EDS names referenced by current clusters. */
  endpointNames(): Set<string>;
}

export interface XdsClientOptions {
  /** host:port of the discovery server (15010 plaintext, 15012 TLS). */
  address: string;
  /** TLS to the control plane: root CA (PEM) and optional client certificate chain and key. */
  tls?: { rootCa: Buffer; certChain?: Buffer; privateKey?: Buffer; serverName?: string } | undefined;
  node: NodeIdentity;
  sink: XdsSink;
  /** Reported as ISTIO_VERSION and user_agent_version. */
  version: string;
  /** Backoff between reconnects: first delay and cap in ms (Envoy: 500 ms, 30 s). Full jitter. */
  backoff?: { initialMs: number; maxMs: number };
  random?: () => number;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

interface DiscoveryResponse {
  version_info: string;
  resources: AnyMessage[];
  type_url: string;
  nonce: string;
}

interface TypeState {
  /** Last accepted version. */
  version: string;
  /** Nonce of the last response (ACK or NACK). */
  nonce: string;
  /** Subscribed names ([] = wildcard for LDS/CDS). */
  names: string[];
  subscribed: boolean;
  acks: number;
  nacks: number;
  lastError: string | undefined;
}

export type XdsConnectionState = 'connecting' | 'connected' | 'disconnected' | 'stopped';

export class AdsClient {
  private readonly opts: XdsClientOptions;
  private readonly client: grpc.Client & { StreamAggregatedResources: () => grpc.ClientDuplexStream<unknown, DiscoveryResponse> };
  private call: grpc.ClientDuplexStream<unknown, DiscoveryResponse> | undefined;
  private readonly types = new Map<string, TypeState>();
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
    const pkg = adsGrpcPackage() as unknown as { envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: grpc.ServiceClientConstructor } } } } };
    const Ctor = pkg.envoy.service.discovery.v3.AggregatedDiscoveryService;
    const creds = opts.tls
      ? grpc.credentials.createSsl(opts.tls.rootCa, opts.tls.privateKey ?? null, opts.tls.certChain ?? null)
      : grpc.credentials.createInsecure();
    const options: grpc.ChannelOptions = { 'grpc.keepalive_time_ms': 30_000, 'grpc.max_receive_message_length': 64 * 1024 * 1024 };
    if (opts.tls?.serverName) options['grpc.ssl_target_name_override'] = opts.tls.serverName;
    this.client = new Ctor(opts.address, creds, options) as unknown as AdsClient['client'];
    for (const t of [TypeUrl.cluster, TypeUrl.endpoint, TypeUrl.listener, TypeUrl.route]) {
      this.types.set(t, { version: '', nonce: '', names: [], subscribed: t === TypeUrl.cluster || t === TypeUrl.listener, acks: 0, nacks: 0, lastError: undefined });
    }
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
    this.call?.cancel();
    this.call = undefined;
    this.client.close();
  }

  /** Per-type status for the admin page and `weft proxy-status`. */
  status(): Record<string, { version: string; nonce: string; names: string[]; acks: number; nacks: number; lastError: string | undefined }> {
    const out: ReturnType<AdsClient['status']> = {};
    for (const [t, s] of this.types) out[typeShortName[t as XdsTypeUrl]] = { version: s.version, nonce: s.nonce, names: s.names, acks: s.acks, nacks: s.nacks, lastError: s.lastError };
    return out;
  }

  private connect(): void {
    if (this.state === 'stopped') return;
    this.state = 'connecting';
    this.streams++;
    this.sentNode = false;
    const call = this.client.StreamAggregatedResources();
    this.call = call;
    call.on('data', (r: DiscoveryResponse) => {
      if (this.call !== call) return;
      if (this.state !== 'connected') {
        this.state = 'connected';
        this.log('info', `xDS connected to ${this.opts.address}`);
      }
      this.attempt = 0;
      try {
        this.onResponse(r);
      } catch (e) {
        this.log('error', `xDS response handling failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
    call.on('error', (e: grpc.ServiceError) => this.onBroken(call, `${grpc.status[e.code] ?? e.code}: ${e.details || e.message}`));
    call.on('end', () => this.onBroken(call, 'stream ended by the server'));
    // Re-subscribe everything, with the versions already accepted (so the server may skip unchanged resources).
    for (const [t, s] of this.types) if (s.subscribed) this.send(t, s.version, '', undefined);
  }

  private onBroken(call: grpc.ClientDuplexStream<unknown, DiscoveryResponse>, why: string): void {
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

  private send(typeUrl: string, version: string, nonce: string, error: string | undefined): void {
    const s = this.types.get(typeUrl)!;
    const req: Record<string, unknown> = { version_info: version, type_url: typeUrl, response_nonce: nonce, resource_names: s.names };
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
    if (error !== undefined) req['error_detail'] = { code: grpc.status.INVALID_ARGUMENT, message: error };
    this.call?.write(req);
  }

  private onResponse(r: DiscoveryResponse): void {
    const s = this.types.get(r.type_url);
    if (!s) {
      this.log('warn', `xDS: ignoring unsubscribed type ${r.type_url}`);
      return;
    }
    const decoded: Raw[] = [];
    let decodeError: string | undefined;
    for (const any of r.resources ?? []) {
      try {
        if (any.type_url !== r.type_url) throw new Error(`resource of type ${any.type_url} in a ${r.type_url} response`);
        decoded.push(decodeAny(any));
      } catch (e) {
        decodeError = `cannot decode resource: ${e instanceof Error ? e.message : String(e)}`;
        break;
      }
    }
    s.nonce = r.nonce;
    const errors: ResourceError[] = decodeError ? [{ typeUrl: r.type_url, name: '', errors: [{ path: '', message: decodeError }] }] : this.opts.sink.apply(r.type_url, decoded, r.version_info);
    // Follow-up subscriptions before the ACK, as Envoy does while warming (CDS → EDS, LDS → RDS).
    if (r.type_url === TypeUrl.cluster) this.resubscribe(TypeUrl.endpoint, this.opts.sink.endpointNames());
    if (r.type_url === TypeUrl.listener) this.resubscribe(TypeUrl.route, this.opts.sink.routeNames());
    if (errors.length === 0) {
      s.version = r.version_info;
      s.acks++;
      s.lastError = undefined;
      this.send(r.type_url, r.version_info, r.nonce, undefined);
    } else {
      const message = describeErrors(errors);
      s.nacks++;
      s.lastError = message;
      this.log('warn', `xDS: NACK ${typeShortName[r.type_url as XdsTypeUrl]} version ${r.version_info}: ${message}`);
      this.send(r.type_url, s.version, r.nonce, message);
    }
    this.checkReady();
  }

  private resubscribe(typeUrl: string, names: Set<string>): void {
    const s = this.types.get(typeUrl)!;
    const sorted = [...names].sort();
    if (s.subscribed && sorted.length === s.names.length && sorted.every((n, i) => n === s.names[i])) return;
    s.names = sorted;
    if (sorted.length === 0 && !s.subscribed) return;
    s.subscribed = true;
    this.send(typeUrl, s.version, s.nonce, undefined);
  }

  private checkReady(): void {
    if (this.ready) return;
    const got = (t: string): boolean => {
      const s = this.types.get(t)!;
      return s.acks + s.nacks > 0 || (t !== TypeUrl.cluster && t !== TypeUrl.listener && s.names.length === 0);
    };
    if ([TypeUrl.cluster, TypeUrl.listener, TypeUrl.endpoint, TypeUrl.route].every(got)) {
      this.ready = true;
      for (const w of this.readyWaiters.splice(0)) w();
    }
  }
}
