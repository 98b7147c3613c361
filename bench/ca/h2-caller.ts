// A lean gRPC caller for the benchmark: CreateCertificate over node:http2 with the request encoded once, so the load
// generator costs a fraction of what a grpc-js client does and the CA, not the caller, is what gets measured.
// It speaks the real gRPC wire protocol (length-prefixed protobuf, grpc-status trailers) to the real server.
import http2 from 'node:http2';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { createCertificatePath } from '../../src/ca/proto/service.ts';

const root = protobuf.loadSync(fileURLToPath(new URL('../../src/ca/proto/ca.proto', import.meta.url)));
const Request = root.lookupType('istio.v1.auth.IstioCertificateRequest');
const Response = root.lookupType('istio.v1.auth.IstioCertificateResponse');

/** gRPC message framing: 1 byte compressed flag (0), 4 bytes big-endian length, the message. */
export function frameRequest(csr: string, validitySeconds: number): Buffer {
  const msg = Request.encode(Request.create({ csr, validityDuration: validitySeconds })).finish();
  const out = Buffer.alloc(5 + msg.length);
  out.writeUInt32BE(msg.length, 1);
  out.set(msg, 5);
  return out;
}

/** Decodes a framed response into its cert_chain (used to check the first answer of each caller). */
export function decodeResponse(framed: Buffer): string[] {
  const len = framed.readUInt32BE(1);
  return (Response.decode(framed.subarray(5, 5 + len)) as unknown as { certChain: string[] }).certChain;
}

export class H2Caller {
  readonly #session: http2.ClientHttp2Session;
  readonly #headers: http2.OutgoingHttpHeaders;
  readonly #body: Buffer;

  constructor(port: number, rootsPem: string, token: string, body: Buffer) {
    this.#session = http2.connect(`https://127.0.0.1:${port}`, { ca: rootsPem });
    this.#session.on('error', () => {});
    this.#headers = {
      ':method': 'POST',
      ':path': createCertificatePath,
      'content-type': 'application/grpc',
      te: 'trailers',
      authorization: `Bearer ${token}`,
    };
    this.#body = body;
  }

  /** One call; resolves with the framed response, rejects on a non-OK grpc-status. */
  call(): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const req = this.#session.request(this.#headers);
      const chunks: Buffer[] = [];
      let status: string | undefined;
      let message = '';
      req.on('response', (h) => {
        // A trailers-only response carries the status in the headers.
        if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
      });
      req.on('trailers', (t) => {
        status = String(t['grpc-status']);
        message = String(t['grpc-message'] ?? '');
      });
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', reject);
      req.on('end', () => (status === '0' ? resolve(Buffer.concat(chunks)) : reject(new Error(`grpc-status ${status ?? '?'}: ${decodeURIComponent(message)}`))));
      req.end(this.#body);
    });
  }

  close(): void {
    this.#session.close();
  }
}
