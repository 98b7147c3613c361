// A small ADS client on @grpc/grpc-js for tests and benchmarks: state-of-the-world or delta, with explicit
// ACK/NACK control (or automatic ACKs), buffering responses per type so a test can await the next one.
import * as grpc from '@grpc/grpc-js';
import { adsGrpcPackage, decodeAny, type AnyMessage } from '../../src/xds/protos.ts';
import { jsonToStruct, type JsonValue } from '../../src/discovery/serve/node.ts';

export interface ClientNode {
  id: string;
  cluster?: string;
  metadata?: Record<string, JsonValue>;
}

export interface SotwResponse {
  version_info: string;
  resources: AnyMessage[];
  type_url: string;
  nonce: string;
}

export interface DeltaResponse {
  system_version_info: string;
  resources: Array<{ name: string; version: string; resource: AnyMessage }>;
  type_url: string;
  removed_resources: string[];
  nonce: string;
}

type AdsClientCtor = new (address: string, creds: grpc.ChannelCredentials, options?: grpc.ClientOptions) => grpc.Client & {
  StreamAggregatedResources(): grpc.ClientDuplexStream<unknown, SotwResponse>;
  DeltaAggregatedResources(): grpc.ClientDuplexStream<unknown, DeltaResponse>;
};

function adsClientCtor(): AdsClientCtor {
  const pkg = adsGrpcPackage() as unknown as { envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: AdsClientCtor } } } } };
  return pkg.envoy.service.discovery.v3.AggregatedDiscoveryService;
}

function wireNode(n: ClientNode): Record<string, unknown> {
  return { id: n.id, cluster: n.cluster ?? '', metadata: jsonToStruct(n.metadata ?? {}), user_agent_name: 'weft-test-client' };
}

class Inbox<R extends { type_url: string }> {
  readonly #buffered: R[] = [];
  #waiters: Array<{ type: string; resolve: (r: R) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }> = [];
  closedError: Error | undefined;

  put(r: R): void {
    const i = this.#waiters.findIndex((w) => w.type === r.type_url);
    if (i >= 0) {
      const [w] = this.#waiters.splice(i, 1);
      clearTimeout(w!.timer);
      w!.resolve(r);
      return;
    }
    this.#buffered.push(r);
  }

  next(type: string, timeoutMs: number): Promise<R> {
    const i = this.#buffered.findIndex((r) => r.type_url === type);
    if (i >= 0) return Promise.resolve(this.#buffered.splice(i, 1)[0]!);
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.timer !== timer);
        reject(new Error(`no ${type} response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push({ type, resolve, reject, timer });
    });
  }

  /** Responses received and not yet taken, of a type. */
  pending(type: string): number {
    return this.#buffered.filter((r) => r.type_url === type).length;
  }

  fail(e: Error): void {
    this.closedError = e;
    for (const w of this.#waiters) {
      clearTimeout(w.timer);
      w.reject(e);
    }
    this.#waiters = [];
  }
}

/** State-of-the-world client. */
export class SotwClient {
  readonly #client: grpc.Client;
  readonly #call: grpc.ClientDuplexStream<unknown, SotwResponse>;
  readonly #node: ClientNode;
  readonly inbox = new Inbox<SotwResponse>();
  readonly #names = new Map<string, string[]>();
  readonly #acked = new Map<string, string>();
  #first = true;
  /** When set, every response is ACKed as it arrives (benchmarks). */
  autoAck: ((r: SotwResponse) => void) | undefined;
  readonly ended: Promise<grpc.StatusObject>;

  constructor(address: string, node: ClientNode, creds: grpc.ChannelCredentials = grpc.credentials.createInsecure(), options: grpc.ClientOptions = {}) {
    const Ctor = adsClientCtor();
    this.#client = new Ctor(address, creds, options);
    this.#node = node;
    this.#call = (this.#client as InstanceType<AdsClientCtor>).StreamAggregatedResources();
    this.ended = new Promise((resolve) => this.#call.on('status', resolve));
    this.#call.on('data', (r: SotwResponse) => {
      if (this.autoAck) {
        this.ack(r);
        this.autoAck(r);
      } else this.inbox.put(r);
    });
    this.#call.on('error', (e: Error) => this.inbox.fail(e));
    this.#call.on('end', () => this.inbox.fail(new Error('stream ended')));
  }

  #send(req: Record<string, unknown>): void {
    if (this.#first) {
      req['node'] = wireNode(this.#node);
      this.#first = false;
    }
    this.#call.write(req);
  }

  /** Open (or change) a subscription. */
  subscribe(typeUrl: string, names: string[] = [], nonce = ''): void {
    this.#names.set(typeUrl, names);
    this.#send({ type_url: typeUrl, resource_names: names, version_info: this.#acked.get(typeUrl) ?? '', response_nonce: nonce });
  }

  ack(r: SotwResponse, names?: string[]): void {
    if (names) this.#names.set(r.type_url, names);
    this.#acked.set(r.type_url, r.version_info);
    this.#send({ type_url: r.type_url, resource_names: this.#names.get(r.type_url) ?? [], version_info: r.version_info, response_nonce: r.nonce });
  }

  nack(r: SotwResponse, message: string): void {
    this.#send({
      type_url: r.type_url,
      resource_names: this.#names.get(r.type_url) ?? [],
      version_info: this.#acked.get(r.type_url) ?? '',
      response_nonce: r.nonce,
      error_detail: { code: 3, message },
    });
  }

  next(typeUrl: string, timeoutMs = 5000): Promise<SotwResponse> {
    return this.inbox.next(typeUrl, timeoutMs);
  }

  close(): void {
    this.#call.cancel();
    this.#client.close();
  }
}

/** Delta client. */
export class DeltaClient {
  readonly #client: grpc.Client;
  readonly #call: grpc.ClientDuplexStream<unknown, DeltaResponse>;
  readonly #node: ClientNode;
  readonly inbox = new Inbox<DeltaResponse>();
  #first = true;
  readonly ended: Promise<grpc.StatusObject>;

  constructor(address: string, node: ClientNode, creds: grpc.ChannelCredentials = grpc.credentials.createInsecure(), options: grpc.ClientOptions = {}) {
    const Ctor = adsClientCtor();
    this.#client = new Ctor(address, creds, options);
    this.#node = node;
    this.#call = (this.#client as InstanceType<AdsClientCtor>).DeltaAggregatedResources();
    this.ended = new Promise((resolve) => this.#call.on('status', resolve));
    this.#call.on('data', (r: DeltaResponse) => this.inbox.put(r));
    this.#call.on('error', (e: Error) => this.inbox.fail(e));
  }

  #send(req: Record<string, unknown>): void {
    if (this.#first) {
      req['node'] = wireNode(this.#node);
      this.#first = false;
    }
    this.#call.write(req);
  }

  subscribe(typeUrl: string, subscribe: string[], unsubscribe: string[] = [], initialVersions: Record<string, string> = {}): void {
    this.#send({ type_url: typeUrl, resource_names_subscribe: subscribe, resource_names_unsubscribe: unsubscribe, initial_resource_versions: initialVersions });
  }

  ack(r: DeltaResponse): void {
    this.#send({ type_url: r.type_url, response_nonce: r.nonce });
  }

  nack(r: DeltaResponse, message: string): void {
    this.#send({ type_url: r.type_url, response_nonce: r.nonce, error_detail: { code: 3, message } });
  }

  next(typeUrl: string, timeoutMs = 5000): Promise<DeltaResponse> {
    return this.inbox.next(typeUrl, timeoutMs);
  }

  close(): void {
    this.#call.cancel();
    this.#client.close();
  }
}

/** Decode the resources of a SotW response. */
export function decodeAll(r: SotwResponse): Array<Record<string, unknown>> {
  return r.resources.map((a) => decodeAny(a));
}
