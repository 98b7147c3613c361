// A trace collector for tests: OTLP/HTTP (POST /v1/traces, protobuf decoded with the OTLP schema compiled from
// opentelemetry-proto), OTLP/gRPC (TraceService/Export) and Zipkin v2 JSON (POST /api/v2/spans), on 127.0.0.1
// port 0, in plaintext or over TLS (a server certificate, optionally requiring a client certificate). Every span that
// arrives is normalised to one shape; tests wait for spans by predicate (no sleeps).
import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import type { TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { EXPORT_METHOD, ExportTraceServiceRequest, ExportTraceServiceResponse } from '../../src/proxy/tracing/otlp/otlp.ts';

export interface CollectedSpan {
  via: 'otlp-http' | 'otlp-grpc' | 'zipkin';
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: 'SERVER' | 'CLIENT' | string;
  /** OTLP resource service.name, or Zipkin localEndpoint.serviceName. */
  service: string;
  tags: Record<string, string>;
  startUnixNano: bigint;
  error: boolean;
}

interface OtlpKeyValue { key: string; value?: { string_value?: string } }
interface OtlpSpan { trace_id: Buffer; span_id: Buffer; parent_span_id?: Buffer; name: string; kind: string; start_time_unix_nano: string; attributes?: OtlpKeyValue[]; status?: { code?: string } }
interface OtlpRequest { resource_spans?: Array<{ resource?: { attributes?: OtlpKeyValue[] }; scope_spans?: Array<{ spans?: OtlpSpan[] }> }> }

function fromOtlp(bytes: Uint8Array, via: 'otlp-http' | 'otlp-grpc'): CollectedSpan[] {
  const req = ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(bytes), { enums: String, longs: String, bytes: Buffer }) as OtlpRequest;
  const out: CollectedSpan[] = [];
  for (const rs of req.resource_spans ?? []) {
    const service = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value?.string_value ?? '';
    for (const ss of rs.scope_spans ?? []) {
      for (const s of ss.spans ?? []) {
        const parent = s.parent_span_id && s.parent_span_id.length > 0 ? Buffer.from(s.parent_span_id).toString('hex') : undefined;
        out.push({
          via, service, name: s.name, kind: s.kind.replace('SPAN_KIND_', ''),
          traceId: Buffer.from(s.trace_id).toString('hex'), spanId: Buffer.from(s.span_id).toString('hex'), parentSpanId: parent,
          tags: Object.fromEntries((s.attributes ?? []).map((a) => [a.key, a.value?.string_value ?? ''])),
          startUnixNano: BigInt(s.start_time_unix_nano), error: s.status?.code === 'STATUS_CODE_ERROR',
        });
      }
    }
  }
  return out;
}

/** Serve over TLS: PEM key and chain; with `ca`, clients must present a certificate it signed (mutual TLS). */
export interface CollectorTls {
  key: string;
  cert: string;
  ca?: string;
}

interface ZipkinJson { traceId: string; id: string; parentId?: string; name: string; kind: string; timestamp: number; localEndpoint?: { serviceName?: string }; tags?: Record<string, string> }

export class TestCollector extends EventEmitter {
  readonly spans: CollectedSpan[] = [];
  /** Requests received per path, and their content types. */
  readonly requests: Array<{ path: string; contentType: string; tls?: { protocol: string; servername: string | undefined; peer: string | undefined }; metadata?: Record<string, string> }> = [];
  httpPort = 0;
  grpcPort = 0;
  /** Answer HTTP exports with this status (simulate a failing collector). */
  failWith: number | undefined;
  private server: http.Server | https.Server | undefined;
  private grpcServer: grpc.Server | undefined;

  private add(spans: CollectedSpan[]): void {
    this.spans.push(...spans);
    this.emit('spans');
  }

  async start(tls?: CollectorTls): Promise<this> {
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const sock = req.socket as Partial<TLSSocket>;
        const peerSan = sock.getPeerCertificate?.()?.subjectaltname;
        const tlsInfo = sock.encrypted ? { tls: { protocol: sock.getProtocol?.() ?? '', servername: typeof sock.servername === 'string' ? sock.servername : undefined, peer: peerSan || undefined } } : {};
        this.requests.push({ path: req.url ?? '', contentType: req.headers['content-type'] ?? '', ...tlsInfo });
        if (this.failWith !== undefined) return void res.writeHead(this.failWith).end();
        const body = Buffer.concat(chunks);
        try {
          if (req.url === '/v1/traces') this.add(fromOtlp(body, 'otlp-http'));
          else if (req.url === '/api/v2/spans') {
            const list = JSON.parse(body.toString('utf8')) as ZipkinJson[];
            this.add(list.map((z) => ({
              via: 'zipkin', traceId: z.traceId.padStart(32, '0'), spanId: z.id, parentSpanId: z.parentId, name: z.name, kind: z.kind,
              service: z.localEndpoint?.serviceName ?? '', tags: z.tags ?? {}, startUnixNano: BigInt(z.timestamp) * 1000n, error: z.tags?.['error'] === 'true',
            })));
          } else return void res.writeHead(404).end();
        } catch (e) {
          return void res.writeHead(400).end(String(e));
        }
        res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/x-protobuf' }).end();
      });
    };
    this.server = tls
      ? https.createServer({ key: tls.key, cert: tls.cert, ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}) }, onRequest)
      : http.createServer(onRequest);
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.httpPort = (this.server.address() as { port: number }).port;
    this.grpcServer = new grpc.Server();
    const identity = (b: Buffer): Buffer => b;
    this.grpcServer.register(EXPORT_METHOD, (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const md = Object.fromEntries(Object.entries(call.metadata.getMap()).map(([k, v]) => [k, String(v)]));
      this.requests.push({ path: EXPORT_METHOD, contentType: 'application/grpc', metadata: md });
      this.add(fromOtlp(call.request, 'otlp-grpc'));
      cb(null, Buffer.from(ExportTraceServiceResponse.encode(ExportTraceServiceResponse.create({})).finish()));
    }, identity, identity, 'unary');
    this.grpcPort = await new Promise<number>((resolve, reject) => this.grpcServer!.bindAsync('127.0.0.1:0', grpcCredentials(tls), (e, p) => (e ? reject(e) : resolve(p))));
    return this;
  }

  /** Resolves with the spans matching `pred` once at least `count` have arrived; rejects after `timeoutMs`. */
  waitFor(pred: (s: CollectedSpan) => boolean, count = 1, timeoutMs = 10_000): Promise<CollectedSpan[]> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const got = this.spans.filter(pred);
        if (got.length < count) return false;
        clearTimeout(timer);
        this.off('spans', onSpans);
        resolve(got);
        return true;
      };
      const onSpans = (): void => void check();
      const timer = setTimeout(() => {
        this.off('spans', onSpans);
        reject(new Error(`collector: ${this.spans.filter(pred).length}/${count} matching spans after ${timeoutMs} ms; have ${JSON.stringify(this.spans.map((s) => [s.name, s.kind, s.traceId]))}`));
      }, timeoutMs);
      if (!check()) this.on('spans', onSpans);
    });
  }

  async stop(): Promise<void> {
    this.grpcServer?.forceShutdown();
    if (this.server) {
      this.server.closeAllConnections();
      await new Promise<void>((r) => this.server!.close(() => r()));
    }
  }
}

function grpcCredentials(tls: CollectorTls | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(tls.ca ? Buffer.from(tls.ca) : null, [{ private_key: Buffer.from(tls.key), cert_chain: Buffer.from(tls.cert) }], tls.ca !== undefined);
}
