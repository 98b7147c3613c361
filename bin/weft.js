#!/usr/bin/env node
// The weft binary. The sources are TypeScript that Node.js runs directly (type stripping, Node >= 22.18).
// When started by an older system Node, re-run under the LTS Node that `npm install` placed in node_modules,
// forwarding signals so that Ctrl-C and SIGTERM reach the real process.
// If `npm run build` has written dist/ (the same code with types stripped ahead of time) from exactly the current
// src/, run that instead: a process that loads no .ts file never starts Node's type stripper (~17 MB less RSS).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** True when dist/BUILD.json matches src/ now: same file list (hash) and no file modified since the build. */
function distIsFresh() {
  let info;
  try {
    info = JSON.parse(readFileSync(new URL('../dist/BUILD.json', import.meta.url), 'utf8'));
  } catch {
    return false;
  }
  const src = fileURLToPath(new URL('../src', import.meta.url));
  const files = [];
  let newest = 0;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else {
        files.push(relative(src, p));
        newest = Math.max(newest, statSync(p).mtimeMs);
      }
    }
  };
  walk(src);
  const list = createHash('sha256').update(files.sort().join('\n')).digest('hex');
  return info.list === list && newest <= info.newestMtimeMs;
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  const require = createRequire(import.meta.url);
  let bundled;
  try {
    bundled = require.resolve('node/bin/node');
  } catch {
    process.stderr.write(`weft: Node.js ${process.versions.node} is too old; install Node.js 24 LTS or run 'npm install' in the weft checkout.\n`);
    process.exit(2);
  }
  const child = spawn(bundled, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 15 : 1)));
} else {
  const { main } = distIsFresh() ? await import('../dist/cli/main.js') : await import('../src/cli/main.ts');
  process.exitCode = await main(process.argv.slice(2));
}
