// Benchmark: delay from a file write to the DirectoryStore event that reflects it (fs.watch + coalescing +
// re-read + validation + commit), over N sequential writes: median and p99.
//   node_modules/.bin/node bench/config/watch-latency.bench.ts [writes=50] [background-files=200]
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DirectoryStore } from '../../src/config/store/directory.ts';
import { pipelineLoader } from '../../src/config/store/pipeline.ts';

const writes = Number(process.argv[2] ?? 50);
const background = Number(process.argv[3] ?? 200);

const vs = (name: string, host: string): string =>
  `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ${name}, namespace: bench}\nspec:\n  hosts: [${host}]\n  http:\n  - route:\n    - destination: {host: ${host}}\n`;

const dir = await mkdtemp(join(tmpdir(), 'weft-watch-bench-'));
try {
  await mkdir(join(dir, 'bench'));
  for (let i = 0; i < background; i++) await writeFile(join(dir, 'bench', `bg-${i}.yaml`), vs(`bg-${i}`, `bg-${i}`));
  const store = await DirectoryStore.open(dir, { load: pipelineLoader(), log: () => {} });
  const delays: number[] = [];
  const file = join(dir, 'bench', 'target.yaml');
  for (let i = 0; i < writes; i++) {
    const host = `h${i}`;
    const seen = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`write ${i}: no event within 5 s`)), 5000);
      const off = store.subscribe((e) => {
        if ((e.type === 'added' || e.type === 'updated') && e.key.name === 'target') {
          clearTimeout(timer);
          off();
          resolve(performance.now());
        }
      });
    });
    const t0 = performance.now();
    await writeFile(file, vs('target', host));
    delays.push((await seen) - t0);
  }
  await store.close();
  delays.sort((a, b) => a - b);
  const pct = (p: number): number => delays[Math.min(delays.length - 1, Math.ceil((p / 100) * delays.length) - 1)] ?? 0;
  process.stdout.write(
    `watch latency: ${writes} writes, ${background} other files in the directory, quiet period 25 ms\n` +
      `  median ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms, min ${(delays[0] ?? 0).toFixed(1)} ms, max ${(delays[delays.length - 1] ?? 0).toFixed(1)} ms\n`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
