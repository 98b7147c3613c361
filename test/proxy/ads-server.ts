// A small but real ADS (state-of-the-world) gRPC server for tests: serves resources per type URL, pushes updates to
// subscribed streams, and records every request so tests can check ACKs, NACKs, nonces and node metadata.
import * as grpc from '@grpc/grpc-js';
import { adsServiceDefinition, encodeAny, TypeUrl } from '../../src/xds/protos.ts';
import { fromStruct, type ProtoStruct } from '../../src/proxy/xds-client/node-info.ts';
import type { Raw } from '../../src/proxy/config/raw.ts';

export interface RecordedRequest {
  typeUrl: string;
  version: string;
  nonce: string;
  names: string[];
  error: string | undefined;
  nodeId: string | undefined;
  metadata: Record<string, unknown> | undefined;
}

interface Sub {
  names: string[];
}

type Call = grpc.ServerDuplexStream<Record<string, unknown>, unknown>;

export class TestAdsServer {
  private readonly server = new grpc.Server();
  private readonly resources = new Map<string, { version: string; list: Raw[] }>();
  private readonly streams = new Map<Call, Map<string, Sub>>();
  readonly requests: RecordedRequest[] = [];
  private nonce = 0;
  private waiters: { pred: (r: RecordedRequest) => boolean; resolve: (r: RecordedRequest) => void }[] = [];
  port = 0;

  constructor() {
    this.server.addService(adsServiceDefinition(), {
      StreamAggregatedResources: (call: Call) => this.onStream(call),
      DeltaAggregatedResources: (call: Call) => call.emit('error', { code: grpc.status.UNIMPLEMENTED }),
    });
  }

  start(port = 0): Promise<number> {
    return new Promise((resolve, reject) =>
      this.server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => {
        if (e) return reject(e);
        this.port = p;
        resolve(p);
      }),
    );
  }

  stop(): void {
    this.server.forceShutdown();
  }

  get streamCount(): number {
    return this.streams.size;
  }

  /** Set the resources of a type and push them to every stream subscribed to it. */
  set(typeUrl: string, version: string, list: Raw[]): void {
    this.resources.set(typeUrl, { version, list });
    for (const [call, subs] of this.streams) {
      const sub = subs.get(typeUrl);
      if (sub) this.push(call, typeUrl, sub);
    }
  }

  /** Wait for a request matching the predicate (already received or future). */
  waitFor(pred: (r: RecordedRequest) => boolean): Promise<RecordedRequest> {
    const found = this.requests.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }

  private onStream(call: Call): void {
    const subs = new Map<string, Sub>();
    this.streams.set(call, subs);
    let nodeId: string | undefined;
    let metadata: Record<string, unknown> | undefined;
    call.on('data', (req: Record<string, unknown>) => {
      const node = req['node'] as { id?: string; metadata?: ProtoStruct } | undefined;
      if (node?.id) {
        nodeId = node.id;
        metadata = fromStruct(node.metadata);
      }
      const typeUrl = String(req['type_url']);
      const err = req['error_detail'] as { message?: string } | undefined | null;
      const rec: RecordedRequest = {
        typeUrl,
        version: String(req['version_info'] ?? ''),
        nonce: String(req['response_nonce'] ?? ''),
        names: (req['resource_names'] as string[]) ?? [],
        error: err && err.message ? err.message : undefined,
        nodeId,
        metadata,
      };
      this.requests.push(rec);
      for (const w of this.waiters.splice(0)) {
        if (w.pred(rec)) w.resolve(rec);
        else this.waiters.push(w);
      }
      const sub = subs.get(typeUrl);
      const namesChanged = !sub || sub.names.join(',') !== rec.names.join(',');
      if (rec.nonce === '' || namesChanged) {
        const s = { names: rec.names };
        subs.set(typeUrl, s);
        this.push(call, typeUrl, s);
      }
    });
    call.on('end', () => {
      this.streams.delete(call);
      call.end();
    });
    call.on('error', () => this.streams.delete(call));
    call.on('cancelled', () => this.streams.delete(call));
  }

  private push(call: Call, typeUrl: string, sub: Sub): void {
    const r = this.resources.get(typeUrl);
    if (!r) return;
    const wildcard = typeUrl === TypeUrl.listener || typeUrl === TypeUrl.cluster;
    const nameOf = (x: Raw): string => String(typeUrl === TypeUrl.endpoint ? x['cluster_name'] : x['name']);
    const list = wildcard ? r.list : r.list.filter((x) => sub.names.includes(nameOf(x)));
    call.write({ version_info: r.version, type_url: typeUrl, nonce: String(++this.nonce), resources: list.map((x) => encodeAny(typeUrl, x)) });
  }
}
