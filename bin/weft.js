#!/usr/bin/env node
// The weft binary. The sources are TypeScript that Node.js runs directly (type stripping, Node >= 22.18).
// When started by an older system Node, re-run under the LTS Node that `npm install` placed in node_modules,
// forwarding signals so that Ctrl-C and SIGTERM reach the real process.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

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
  const { main } = await import('../src/cli/main.ts');
  process.exitCode = await main(process.argv.slice(2));
}
