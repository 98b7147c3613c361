// Regenerates src/xds/xds-descriptor.gen.json, the compact protobufjs descriptor of the xDS messages Weft uses
// (see src/xds/descriptor-build.ts). Run after changing the proto list or upgrading @grpc/grpc-js-xds:
//   node scripts/gen-xds-descriptor.ts
import { writeFileSync } from 'node:fs';
import { descriptorText } from '../src/xds/descriptor-build.ts';

const out = new URL('../src/xds/xds-descriptor.gen.json', import.meta.url);
const json = descriptorText();
writeFileSync(out, json);
console.log(`wrote ${out.pathname} (${json.length} bytes)`);
