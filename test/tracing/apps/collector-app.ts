// A trace collector run as a mesh workload (`weft run … -- node collector-app.ts PORT`): OTLP/HTTP on 127.0.0.1:PORT,
// decoded with the OTLP schema; one stdout line per span (`span <traceId> <spanId> <kind> <service>`), so a test
// reading the process output sees what arrived through the collector's sidecar.
import * as http from 'node:http';
import { ExportTraceServiceRequest } from '../../../src/proxy/tracing/otlp/otlp.ts';

interface Decoded { resource_spans?: Array<{ resource?: { attributes?: Array<{ key: string; value?: { string_value?: string } }> }; scope_spans?: Array<{ spans?: Array<{ trace_id: Buffer; span_id: Buffer; kind: string }> }> }> }

const port = Number(process.argv[2]);
const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.url !== '/v1/traces') return void res.writeHead(404).end();
    const msg = ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(Buffer.concat(chunks)), { enums: String, bytes: Buffer }) as Decoded;
    for (const rs of msg.resource_spans ?? []) {
      const service = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value?.string_value ?? '';
      for (const ss of rs.scope_spans ?? []) for (const s of ss.spans ?? []) console.log(`span ${s.trace_id.toString('hex')} ${s.span_id.toString('hex')} ${s.kind.replace('SPAN_KIND_', '')} ${service} xfcc=${req.headers['x-forwarded-client-cert'] ?? '-'}`);
    }
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
});
server.listen(port, '127.0.0.1', () => console.log(`collector listening on ${port}`));
