// Regenerates src/proxy/tracing/otlp/otlp-descriptor.gen.json, the protobufjs descriptor of OTLP's trace export
// messages (opentelemetry.proto.collector.trace.v1.TraceService and what it references), compiled from the official
// opentelemetry-proto .proto files with options and comments dropped. The proxy loads it only when a tracer exports OTLP.
//   node scripts/gen-otlp-descriptor.ts /path/to/opentelemetry-proto    (a checkout of open-telemetry/opentelemetry-proto)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node scripts/gen-otlp-descriptor.ts <opentelemetry-proto checkout>');
  process.exit(2);
}
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => join(dir, target);
root.loadSync(['opentelemetry/proto/collector/trace/v1/trace_service.proto'], { keepCase: true });
root.resolveAll();

/** Drop options and comments (validation and Go package options are not needed at run time). */
function strip(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strip);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'options' || k === 'comment' || k === 'comments' || k === 'parsedOptions') continue;
    out[k] = strip(v);
  }
  return out;
}

const out = new URL('../src/proxy/tracing/otlp/otlp-descriptor.gen.json', import.meta.url);
const json = `${JSON.stringify(strip(root.toJSON()))}\n`;
writeFileSync(out, json);
console.log(`wrote ${out.pathname} (${json.length} bytes)`);
