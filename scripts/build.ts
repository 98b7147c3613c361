// Optional build: writes dist/, a JavaScript copy of src/ with the TypeScript types stripped (Node's own
// module.stripTypeScriptTypes, so the output is the same code Node would run) and relative `.ts` specifiers rewritten
// to `.js`. Other files (JSON, .proto, samples) are copied as they are; tests are skipped. bin/weft.js runs dist/ when
// dist/BUILD.json says it was built from the current sources (same files, same modification times), else src/.
// Why: a process that loads no .ts file never starts Node's type stripper (~17 MB RSS per process; bench/proxy/RESULTS.md).
//   node scripts/build.ts          (npm run build)
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const src = join(repo, 'src');
const dist = join(repo, 'dist');

/** Every file under `dir` (relative paths), sorted the way bin/weft.js sorts them for its freshness check. */
function walk(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p, base));
    else out.push(relative(base, p));
  }
  return out.sort();
}

// Relative module specifiers ('./x.ts', '../y/z.ts') in string literals: imports, dynamic imports, and
// new URL('./main.ts', import.meta.url) paths that are spawned as scripts. Every .ts under src/ has a .js in dist/.
const relativeTs = /(['"])(\.{1,2}\/[^'"\n]*?)\.ts\1/g;

rmSync(dist, { recursive: true, force: true });
const files = walk(src);
let newest = 0;
for (const rel of files) {
  const from = join(src, rel);
  newest = Math.max(newest, statSync(from).mtimeMs);
  if (rel.endsWith('.test.ts') || rel.includes('/testdata/')) continue;
  const to = join(dist, rel.endsWith('.ts') ? `${rel.slice(0, -3)}.js` : rel);
  mkdirSync(dirname(to), { recursive: true });
  if (rel.endsWith('.ts')) {
    const js = stripTypeScriptTypes(readFileSync(from, 'utf8'), { mode: 'strip' }).replace(relativeTs, '$1$2.js$1');
    writeFileSync(to, js);
  } else {
    cpSync(from, to);
  }
}
// bin/weft.js recomputes both from src/ at start-up and runs dist/ only if they match.
const list = createHash('sha256').update(files.join('\n')).digest('hex');
writeFileSync(join(dist, 'BUILD.json'), `${JSON.stringify({ files: files.length, list, newestMtimeMs: newest })}\n`);
console.log(`dist/: ${files.length} source files, built from src/ as of ${new Date(newest).toISOString()}`);
