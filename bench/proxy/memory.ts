// Idle memory and start-up time of `weft up` (Bookinfo config) and of one `weft proxy sidecar` connected to it with
// a workload certificate from the control plane's CA. Prints, per run, the time from spawn to each process's ready line
// and, after 3 s idle, the sidecar's memory as /proc reports it: VmRSS = RssAnon (its own heap, stacks, code space)
// + RssFile (pages of the node binary and of mapped files, shared with every other Node process) + RssShmem; PSS from
// /proc/PID/smaps_rollup (shared pages divided among the processes mapping them) and USS (Private_Clean +
// Private_Dirty: what the process alone holds, i.e. what one more sidecar really adds). Then the medians.
//
// --graph also records the sidecar's module graph (a module.registerHooks preload that logs every resolve/load and,
// on SIGUSR2, writes them out with heap used after a full GC) and measures what each group of modules costs: a fresh
// Node process imports the groups one by one, dependencies first, and reports RSS, RssAnon and heap used after a GC
// after each.
// --heap-snapshot DIR makes the idle sidecar write a V8 heap snapshot into DIR (open it in Chrome DevTools, Memory tab).
// Usage: node bench/proxy/memory.ts [--runs 3] [--idle SECONDS (3)] [--bin bin/weft.js] [--graph [--graph-out FILE.json]] [--sidecar-node-flags "--flag --flag"] [--heap-snapshot DIR]
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { bookinfoMeshConfig } from '../../src/samples/bookinfo/workloads.ts';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
};
const runs = Number(arg('--runs', '3')) || 3;
const idleMs = Number(arg('--idle', '3')) * 1000;
const weft = fileURLToPath(new URL(`../../${arg('--bin', 'bin/weft.js')}`, import.meta.url));
const repo = dirname(dirname(weft));
const graph = process.argv.includes('--graph');
const heapSnapshotDir = arg('--heap-snapshot', '');
const sidecarNodeFlags = [...arg('--sidecar-node-flags', '').split(' ').filter(Boolean), ...(heapSnapshotDir ? ['--heapsnapshot-signal=SIGUSR1', `--diagnostic-dir=${heapSnapshotDir}`] : [])];
const samples = '/work/shared/istio-samples/bookinfo/networking';

/** Memory of a process in MB, from /proc/PID/status and /proc/PID/smaps_rollup. */
export interface Mem {
  rss: number;
  rssAnon: number;
  rssFile: number;
  pss: number;
  pssAnon: number;
  pssFile: number;
  uss: number;
}

function kb(text: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) / 1024 : NaN;
}

function memOf(pid: number | 'self'): Mem {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return {
    rss: kb(status, 'VmRSS'),
    rssAnon: kb(status, 'RssAnon'),
    rssFile: kb(status, 'RssFile'),
    pss: kb(rollup, 'Pss'),
    pssAnon: kb(rollup, 'Pss_Anon'),
    pssFile: kb(rollup, 'Pss_File'),
    uss: kb(rollup, 'Private_Clean') + kb(rollup, 'Private_Dirty'),
  };
}

const fmtMem = (m: Mem): string =>
  `VmRSS ${m.rss.toFixed(1)} MB (anon ${m.rssAnon.toFixed(1)}, file ${m.rssFile.toFixed(1)}), PSS ${m.pss.toFixed(1)} (anon ${m.pssAnon.toFixed(1)}, file ${m.pssFile.toFixed(1)}), USS ${m.uss.toFixed(1)}`;

function start(args: string[], nodeFlags: string[] = [], env: NodeJS.ProcessEnv = process.env): { child: ChildProcess; out: () => string; waitFor: (re: RegExp) => Promise<RegExpMatchArray> } {
  const child = spawn(process.execPath, [...nodeFlags, weft, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const waitFor = (re: RegExp): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${re} in 30 s:\n${out}\n${err}`)), 30_000);
      const check = (): void => {
        const m = re.exec(out);
        if (!m) return;
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(m);
      };
      child.stdout!.on('data', check);
      child.once('exit', (c) => reject(new Error(`exited ${c}:\n${out}\n${err}`)));
      check();
    });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, out: () => out, waitFor };
}

async function run(cmd: string[]): Promise<string> {
  const c = spawn(process.execPath, [weft, ...cmd], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  c.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await once(c, 'close');
  return out;
}

async function stop(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = once(c, 'exit');
  c.kill('SIGTERM');
  await exited;
}

interface Sample {
  upReadyMs: number;
  upRss: number;
  sidecarReadyMs: number;
  sidecar: Mem;
  /** Whether the sidecar ran pre-stripped JavaScript (dist/) rather than the .ts sources. */
  dist: boolean;
}

// The --graph preload: plain JavaScript (a .ts preload would start the type stripper in the measured process).
const hookSource = `import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';
const nodes = new Map();
const edges = [];
registerHooks({
  resolve(specifier, context, next) {
    const r = next(specifier, context);
    edges.push([context.parentURL ?? '', r.url]);
    return r;
  },
  load(url, context, next) {
    const r = next(url, context);
    nodes.set(url, { format: r.format ?? '', bytes: r.source == null ? 0 : typeof r.source === 'string' ? Buffer.byteLength(r.source) : r.source.byteLength });
    return r;
  },
});
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  globalThis.gc?.();
  const m = process.memoryUsage();
  const spaces = getHeapSpaceStatistics().map((x) => [x.space_name, x.space_size, x.space_used_size, x.physical_space_size]);
  writeFileSync(process.env.WEFT_MODULE_GRAPH_OUT, JSON.stringify({ spaces, nodes: [...nodes], edges, builtins: process.moduleLoadList, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers }));
});
`;

interface GraphDump {
  /** [name, size, used, physical] per V8 heap space, after the GC. */
  spaces: [string, number, number, number][];
  nodes: [string, { format: string; bytes: number }][];
  edges: [string, string][];
  builtins: string[];
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

async function once1(dir: string, graphOut?: string): Promise<Sample> {
  const config = join(dir, 'config');
  const state = join(dir, 'state');
  const t0 = performance.now();
  const up = start(['up', '--config-dir', config, '--state-dir', state, '--xds-port', '0', '--xds-tls-port', '0', '--monitoring-port', '0']);
  let sidecar: ReturnType<typeof start> | undefined;
  try {
    const [, tlsPort] = await up.waitFor(/xDS \+ CA \(TLS\) listening on 127\.0\.0\.1:(\d+)/);
    await up.waitFor(/control plane ready/);
    const upReadyMs = performance.now() - t0;
    writeFileSync(join(dir, 'root.pem'), await run(['ca', 'root', '--state-dir', state]));
    writeFileSync(join(dir, 'token'), (await run(['ca', 'token', '--namespace', 'default', '--service-account', 'bookinfo-reviews', '--state-dir', state])).trim());
    const t1 = performance.now();
    const flags = graphOut ? ['--expose-gc', '--import', pathToFileURL(join(dir, 'hook.mjs')).href, ...sidecarNodeFlags] : sidecarNodeFlags;
    sidecar = start(
      ['proxy', 'sidecar', '--discovery-address', `127.0.0.1:${tlsPort}`, '--discovery-ca', join(dir, 'root.pem'),
        '--ca-address', `127.0.0.1:${tlsPort}`, '--ca-root-cert', join(dir, 'root.pem'), '--token-file', join(dir, 'token'),
        '--name', 'reviews-v1', '--labels', 'app=reviews,version=v1', '--service-account', 'bookinfo-reviews',
        '--admin-port', '0', '--outbound-port', '0', '--inbound-port', '0', '--inbound-address', '127.0.0.1', '--stats-port', '0', '--readiness-port', '0', '--status-port', '0'],
      flags,
      graphOut ? { ...process.env, WEFT_MODULE_GRAPH_OUT: graphOut } : process.env,
    );
    await sidecar.waitFor(/weft proxy ready/);
    const sidecarReadyMs = performance.now() - t1;
    await new Promise((r) => setTimeout(r, idleMs)); // idle: let start-up garbage be collected and timers settle
    const pid = sidecar.child.pid!;
    const mem = memOf(pid);
    if (heapSnapshotDir) await heapSnapshot(sidecar.child, heapSnapshotDir);
    if (graphOut) {
      sidecar.child.kill('SIGUSR2');
      const deadline = Date.now() + 10_000;
      while (!existsSync(graphOut) || statSync(graphOut).size === 0) {
        if (Date.now() > deadline) throw new Error('the sidecar wrote no module graph');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return { upReadyMs, upRss: memOf(up.child.pid!).rss, sidecarReadyMs, sidecar: mem, dist: distFresh() };
  } finally {
    if (sidecar) await stop(sidecar.child);
    await stop(up.child);
  }
}

/** --heap-snapshot DIR: the idle sidecar writes a V8 heap snapshot into DIR (Node's --heapsnapshot-signal); waits for it. */
async function heapSnapshot(child: ChildProcess, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const before = new Set(readdirSync(dir));
  child.kill('SIGUSR1');
  const deadline = Date.now() + 60_000;
  for (let last = -1; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
    const file = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (!file) continue;
    const size = statSync(join(dir, file)).size;
    if (size > 0 && size === last) {
      console.log(`heap snapshot: ${join(dir, file)}`);
      return;
    }
    last = size;
  }
  throw new Error(`the sidecar wrote no heap snapshot into ${dir} in 60 s`);
}

/** Whether bin/weft.js runs dist/ (pre-stripped JavaScript) rather than src/: the same check it makes at start. */
function distFresh(): boolean {
  if (!existsSync(join(repo, 'dist', 'BUILD.json'))) return false;
  const code = `const { readdirSync, readFileSync, statSync } = await import('node:fs'); const { createHash } = await import('node:crypto'); const { join, relative } = await import('node:path');
const src = ${JSON.stringify(join(repo, 'src'))}; const files = []; let newest = 0;
const walk = (d) => { for (const e of readdirSync(d, { withFileTypes: true })) { const p = join(d, e.name); if (e.isDirectory()) walk(p); else { files.push(relative(src, p)); newest = Math.max(newest, statSync(p).mtimeMs); } } };
walk(src); const info = JSON.parse(readFileSync(${JSON.stringify(join(repo, 'dist', 'BUILD.json'))}, 'utf8'));
console.log(info.list === createHash('sha256').update(files.sort().join('\\n')).digest('hex') && newest <= info.newestMtimeMs);`;
  return execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' }).trim() === 'true';
}

// ---- module graph ----

/** The group a module URL belongs to: `node:` built-ins, an npm package, or a source directory (two levels). */
function groupOf(url: string): string {
  if (url.startsWith('node:')) return 'node: built-ins';
  if (!url.startsWith('file:')) return url;
  const p = fileURLToPath(url);
  const nm = p.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = p.slice(nm + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const rel = relative(repo, p);
  if (rel.startsWith('bin/')) return 'bin/weft.js';
  const parts = rel.split('/');
  // dist/proxy/http1/x.js → proxy/http1; dist/xds/protos.js → xds
  const inTree = parts.slice(1, -1);
  return `${parts[0]}:${inTree.slice(0, 2).join('/') || '.'}`;
}

interface Group {
  name: string;
  urls: string[];
  bytes: number;
}

/** Groups in dependency order (a group after every group it imports from, cycles broken by first load). */
function orderGroups(dump: GraphDump): Group[] {
  const groups = new Map<string, Group>();
  for (const [url, n] of dump.nodes) {
    const g = groupOf(url);
    const e = groups.get(g) ?? { name: g, urls: [], bytes: 0 };
    e.urls.push(url);
    e.bytes += n.bytes;
    groups.set(g, e);
  }
  const deps = new Map<string, Set<string>>();
  for (const [from, to] of dump.edges) {
    if (!from) continue;
    const a = groupOf(from);
    const b = groupOf(to);
    if (a === b || !groups.has(b)) continue;
    const s = deps.get(a) ?? new Set<string>();
    s.add(b);
    deps.set(a, s);
  }
  const order: Group[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (g: string): void => {
    if (state.has(g)) return;
    state.set(g, 'visiting');
    for (const d of deps.get(g) ?? []) visit(d);
    state.set(g, 'done');
    order.push(groups.get(g)!);
  };
  for (const g of groups.keys()) visit(g);
  return order;
}

interface Step {
  group: string;
  modules: number;
  kb: number;
  rss: number;
  rssAnon: number;
  heapUsed: number;
}

/** Imports the groups one after another in a fresh Node process and reports memory after a GC following each. */
function measureGroups(dir: string, groups: Group[]): Step[] {
  const script = `import { readFileSync } from 'node:fs';
const groups = ${JSON.stringify(groups.filter((g) => g.name !== 'bin/weft.js').map((g) => ({ name: g.name, urls: g.urls, modules: g.urls.length, kb: g.bytes / 1024 })))};
const kb = (t, f) => Number(new RegExp('^' + f + ':\\\\s+(\\\\d+) kB', 'm').exec(t)[1]) / 1024;
const settle = async () => { for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); } };
const measure = (group, modules, kbytes) => { const s = readFileSync('/proc/self/status', 'utf8'); return { group, modules, kb: kbytes, rss: kb(s, 'VmRSS'), rssAnon: kb(s, 'RssAnon'), heapUsed: process.memoryUsage().heapUsed / 1048576 }; };
await settle();
const steps = [measure('empty Node process', 0, 0)];
for (const g of groups) {
  for (const u of g.urls) {
    if (u.endsWith('.json')) await import(u, { with: { type: 'json' } }); else await import(u);
  }
  await settle();
  steps.push(measure(g.name, g.modules, g.kb));
}
console.log(JSON.stringify(steps));
`;
  const file = join(dir, 'groups.mjs');
  writeFileSync(file, script);
  return JSON.parse(execFileSync(process.execPath, ['--expose-gc', file], { encoding: 'utf8', cwd: repo, maxBuffer: 1 << 24 })) as Step[];
}

function reportGraph(dir: string, dump: GraphDump, sidecar: Mem): void {
  const groups = orderGroups(dump);
  const files = dump.nodes.filter(([u]) => u.startsWith('file:'));
  const builtinsPublic = [...new Set(dump.nodes.filter(([u]) => u.startsWith('node:')).map(([u]) => u.slice(5)))].sort();
  console.log(`\nmodule graph: ${files.length} files (${(files.reduce((s, [, n]) => s + n.bytes, 0) / 1024).toFixed(0)} KB of source), ${builtinsPublic.length} node: modules imported (${dump.builtins.filter((b) => b.startsWith('NativeModule ')).length} internal modules loaded)`);
  console.log(`node: ${builtinsPublic.join(' ')}`);
  // An ES import of node:http evaluates http.WebSocket, which loads Node's bundled undici (~4 MB): see docs/proxy.md.
  if (dump.builtins.includes('NativeModule internal/deps/undici/undici')) console.log('WARNING: the sidecar loaded Node\'s bundled undici (an ES import of node:http, or fetch/WebSocket used)');
  // The sidecar decodes xDS with src/xds/wire-codec.ts; protobufjs (~3 MB, plus its types and generated code) is
  // the control plane's. A sidecar module that imports it (or calls messageType()/encodeAny()) brings it back.
  if (files.some(([u]) => /\/node_modules\/protobufjs\//.test(u))) console.log('WARNING: the sidecar loaded protobufjs (a static import, or messageType()/encodeAny()/xdsRoot() called in the sidecar)');
  console.log(`idle sidecar, after a full GC: heap used ${(dump.heapUsed / 1048576).toFixed(1)} MB of ${(dump.heapTotal / 1048576).toFixed(1)} MB, external ${(dump.external / 1048576).toFixed(1)} MB`);
  const mb = (n: number): string => (n / 1048576).toFixed(1);
  console.log(`V8 heap spaces (size / used / resident MB): ${dump.spaces.map(([n, size, used, phys]) => `${n.replace(/_space$/, '')} ${mb(size)}/${mb(used)}/${mb(phys)}`).join(', ')}`);
  const steps = measureGroups(dir, groups);
  console.log('\n| modules (dependencies first) | files | source KB | RSS after | +RSS | +RssAnon | +heap used (after GC) |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    const p = steps[i - 1];
    const d = (a: number, b: number | undefined): string => (b === undefined ? '' : `${a - b >= 0 ? '+' : ''}${(a - b).toFixed(1)}`);
    console.log(`| ${s.group} | ${s.modules || ''} | ${s.kb ? s.kb.toFixed(0) : ''} | ${s.rss.toFixed(1)} | ${d(s.rss, p?.rss)} | ${d(s.rssAnon, p?.rssAnon)} | ${d(s.heapUsed, p?.heapUsed)} |`);
  }
  const last = steps[steps.length - 1]!;
  console.log(`| config, certificate, listeners, connections (idle sidecar) | | | ${sidecar.rss.toFixed(1)} | +${(sidecar.rss - last.rss).toFixed(1)} | +${(sidecar.rssAnon - last.rssAnon).toFixed(1)} | ${(dump.heapUsed / 1048576 - last.heapUsed >= 0 ? '+' : '')}${(dump.heapUsed / 1048576 - last.heapUsed).toFixed(1)} |`);
  console.log('\nfiles per group:');
  const short = (u: string): string => {
    if (!u.startsWith('file:')) return u;
    const p = fileURLToPath(u);
    const nm = p.lastIndexOf('/node_modules/');
    return nm >= 0 ? p.slice(nm + '/node_modules/'.length) : relative(repo, p);
  };
  for (const g of groups) {
    const list = g.urls.map(short);
    console.log(`  ${g.name}: ${list.length > 12 ? `${list.slice(0, 12).join(' ')} … (${list.length} files)` : list.join(' ')}`);
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = mkdtempSync(join(tmpdir(), 'weft-mem-bench-'));
try {
  mkdirSync(join(dir, 'config'));
  writeFileSync(join(dir, 'config', 'bookinfo-mesh.yaml'), bookinfoMeshConfig().map((d) => stringify(d)).join('---\n'));
  for (const f of ['destination-rule-all.yaml', 'virtual-service-all-v1.yaml', 'bookinfo-gateway.yaml']) copyFileSync(join(samples, f), join(dir, 'config', f));
  writeFileSync(join(dir, 'hook.mjs'), hookSource);
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.versions.node}, bin ${weft}, sidecar node flags: ${sidecarNodeFlags.join(' ') || 'none'}`);
  const all: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    const s = await once1(dir);
    all.push(s);
    console.log(`run ${i + 1}: weft up ready ${Math.round(s.upReadyMs)} ms, ${s.upRss.toFixed(1)} MB; sidecar (${s.dist ? 'dist/' : 'src/ .ts'}) ready ${Math.round(s.sidecarReadyMs)} ms, ${fmtMem(s.sidecar)}`);
  }
  const m = (f: (s: Sample) => number): number => median(all.map(f));
  const med: Mem = { rss: m((s) => s.sidecar.rss), rssAnon: m((s) => s.sidecar.rssAnon), rssFile: m((s) => s.sidecar.rssFile), pss: m((s) => s.sidecar.pss), pssAnon: m((s) => s.sidecar.pssAnon), pssFile: m((s) => s.sidecar.pssFile), uss: m((s) => s.sidecar.uss) };
  console.log(`median: weft up ready ${Math.round(m((s) => s.upReadyMs))} ms, idle RSS ${m((s) => s.upRss).toFixed(1)} MB; sidecar ready ${Math.round(m((s) => s.sidecarReadyMs))} ms, idle ${fmtMem(med)}`);
  if (graph) {
    const out = join(dir, 'graph.json');
    await once1(dir, out);
    const save = arg('--graph-out', '');
    if (save) copyFileSync(out, save);
    reportGraph(dir, JSON.parse(readFileSync(out, 'utf8')) as GraphDump, med);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
