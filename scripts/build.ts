// Build: writes dist/, a JavaScript copy of src/ with the TypeScript types stripped (Node's own
// module.stripTypeScriptTypes, so the output is the same code Node would run) and relative `.ts` specifiers rewritten
// to `.js`. Other files (JSON, .proto, samples) are copied as they are; tests are skipped. bin/weft.js runs dist/ when
// dist/BUILD.json says it was built from the current sources (same files, same modification times), else src/.
// Why: a process that loads no .ts file never starts Node's type stripper (~17 MB RSS per process; bench/proxy/RESULTS.md).
// `npm install` runs it (package.json "install"; a failure there only leaves weft running from the sources).
// The new tree is written beside dist/ and swapped in with renames, so a weft process starting meanwhile never sees
// a half-written dist/.
//   node scripts/build.ts          (npm run build)
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const src = join(repo, 'src');
const dist = join(repo, 'dist');
const t0 = performance.now();

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

const tmp = `${dist}.tmp-${process.pid}`;
const old = `${dist}.old-${process.pid}`;
rmSync(tmp, { recursive: true, force: true });
try {
  const files = walk(src);
  let newest = 0;
  for (const rel of files) {
    const from = join(src, rel);
    newest = Math.max(newest, statSync(from).mtimeMs);
    if (rel.endsWith('.test.ts') || rel.includes('/testdata/')) continue;
    const to = join(tmp, rel.endsWith('.ts') ? `${rel.slice(0, -3)}.js` : rel);
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
  writeFileSync(join(tmp, 'BUILD.json'), `${JSON.stringify({ files: files.length, list, newestMtimeMs: newest })}\n`);
  // Swap: dist → dist.old, tmp → dist (two renames; a process starting between them finds no dist/ and runs src/).
  let hadDist = true;
  try {
    renameSync(dist, old);
  } catch {
    hadDist = false;
  }
  renameSync(tmp, dist);
  if (hadDist) rmSync(old, { recursive: true, force: true });
  console.log(`dist/: ${files.length} source files, built from src/ as of ${new Date(newest).toISOString()} in ${Math.round(performance.now() - t0)} ms`);
} catch (e) {
  rmSync(tmp, { recursive: true, force: true });
  throw e;
}
