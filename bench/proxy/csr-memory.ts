// What building the workload CSR leaves resident, three ways, each in a fresh Node process (RSS and RssAnon from
// /proc/self/status, heap used from process.memoryUsage(), all after a full GC, before and after 3 CSRs):
//   der     src/agent/identity/csr.ts: DER encoded by hand, signed with node:crypto (what the sidecar uses)
//   worker  @peculiar/x509 + reflect-metadata in a worker thread that exits after each CSR (peak sampled while it runs)
//   x509    @peculiar/x509 + reflect-metadata loaded in the process itself (what the sidecar did before)
// Usage: node bench/proxy/csr-memory.ts [--runs 3]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] ?? '3') || 3;
const root = fileURLToPath(new URL('../../', import.meta.url));

// The x509 builder as the sidecar had it (before the DER encoder), used in-process and inside the worker.
const x509Builder = `
const { createRequire } = await import('node:module');
const require = createRequire(${JSON.stringify(`${root}package.json`)});
require('reflect-metadata');
const x509 = require('@peculiar/x509');
const { generateKeyPairSync, webcrypto } = await import('node:crypto');
x509.cryptoProvider.set(webcrypto);
const build = async (uri) => {
  const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = { privateKey: kp.privateKey.toCryptoKey(alg, false, ['sign']), publicKey: kp.publicKey.toCryptoKey(alg, true, ['verify']) };
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ keys, signingAlgorithm: alg, extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: uri }], true)] });
  return csr.toString('pem');
};
`;

const measure = `
const { readFileSync } = await import('node:fs');
const kb = (t, f) => Number(new RegExp('^' + f + ':\\\\s+(\\\\d+) kB', 'm').exec(t)[1]) / 1024;
const settle = async () => { for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); } };
const mem = () => { const s = readFileSync('/proc/self/status', 'utf8'); return { rss: kb(s, 'VmRSS'), anon: kb(s, 'RssAnon'), heap: process.memoryUsage().heapUsed / 1048576 }; };
let peak = 0;
const sampler = setInterval(() => { peak = Math.max(peak, mem().rss); }, 2);
`;

const programs: Record<string, string> = {
  der: `${measure}
const { createKeyAndCsr } = await import(${JSON.stringify(`${root}src/agent/identity/csr.ts`)});
await settle(); const before = mem();
for (let i = 0; i < 3; i++) await createKeyAndCsr('ecdsa-p256', 'spiffe://cluster.local/ns/default/sa/x');
clearInterval(sampler); await settle(); console.log(JSON.stringify({ before, after: mem(), peak }));`,
  worker: `${measure}
const { Worker } = await import('node:worker_threads');
await settle(); const before = mem();
const code = ${JSON.stringify(`${x509Builder}\nconst { parentPort } = await import('node:worker_threads');\nparentPort.postMessage(await build('spiffe://cluster.local/ns/default/sa/x'));`)};
for (let i = 0; i < 3; i++) {
  const w = new Worker(code, { eval: true, type: 'module' });
  await new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
  await new Promise((resolve) => w.once('exit', resolve));
}
clearInterval(sampler); await settle(); console.log(JSON.stringify({ before, after: mem(), peak }));`,
  x509: `${measure}
await settle(); const before = mem();
${x509Builder}
for (let i = 0; i < 3; i++) await build('spiffe://cluster.local/ns/default/sa/x');
clearInterval(sampler); await settle(); console.log(JSON.stringify({ before, after: mem(), peak }));`,
};

interface M {
  rss: number;
  anon: number;
  heap: number;
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log('| CSR built with | +RSS after (GC) | +RssAnon after | +heap used after | peak RSS while building |');
console.log('|---|---:|---:|---:|---:|');
for (const [name, src] of Object.entries(programs)) {
  const results: { before: M; after: M; peak: number }[] = [];
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', src], { encoding: 'utf8', cwd: root });
    results.push(JSON.parse(out) as { before: M; after: M; peak: number });
  }
  const d = (f: (r: (typeof results)[number]) => number): string => median(results.map(f)).toFixed(1);
  console.log(`| ${name} | +${d((r) => r.after.rss - r.before.rss)} MB | +${d((r) => r.after.anon - r.before.anon)} MB | +${d((r) => r.after.heap - r.before.heap)} MB | ${d((r) => r.peak)} MB (from ${d((r) => r.before.rss)}) |`);
}
