#!/usr/bin/env node
// The weft binary. The sources are TypeScript that Node.js runs directly (type stripping, Node >= 22.18).
// When started by an older system Node, re-run under the LTS Node that `npm install` placed in node_modules,
// forwarding signals so that Ctrl-C and SIGTERM reach the real process.
// If dist/ (the same code with types stripped ahead of time; `npm install` and `npm run build` write it) was built
// from exactly the current src/, run that instead (except under the test runner): a process that loads no .ts file never starts Node's type
// stripper (~17 MB less RSS). `weft proxy` re-executes itself (same process id) with a small V8 young generation:
// see PROXY_NODE_FLAGS.
import { createHash } from 'node:crypto';
import { fstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * V8 flags for the long-lived proxy processes (`weft proxy sidecar|router`). The young generation's semi-spaces
 * otherwise grow to 16 MB each during start-up (xDS decoding) and stay resident while the proxy idles; capped at
 * 1 MB, an idle sidecar holds ~12 MB less (bench/proxy/RESULTS.md, "Memory, session 2", with the throughput cost
 * measured there). A user who sets the young generation size (on the command line or in NODE_OPTIONS) keeps theirs.
 */
const PROXY_NODE_FLAGS = ['--max-semi-space-size=1'];

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

/** The flags to re-execute a `weft proxy` process with, or none (other verbs, flags already chosen, no execve). */
function proxyReexecFlags(argv) {
  if (argv[0] !== 'proxy' || typeof process.execve !== 'function') return [];
  // The launcher reads NODE_OPTIONS only to respect a user's own heap settings; weft's configuration is read in src/core/env.ts.
  const chosen = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return PROXY_NODE_FLAGS.filter((f) => !chosen.some((c) => c.split('=')[0].replace(/_/g, '-') === f.split('=')[0]));
}

/**
 * Started by weft itself (`weft run`, `weft demo`: src/runner/process.ts, exitWithParent) with WEFT_EXIT_WITH_PARENT=1
 * and, on stdin, a pipe the parent never writes: its end of file means the parent is gone — even SIGKILLed, when
 * nothing else would ever stop this process. A proxy then exits at once (a drain serves nobody: its runner and app are
 * gone); other verbs (`weft up`, `weft run`) get SIGTERM, their ordinary stop, which stops what they started in turn.
 * The old-Node launcher below arms the same watch with WEFT_EXIT_WITH_PARENT=3: the pipe is fd 3 (stdin stays the
 * user's: `weft apply -f -`), and every verb, a proxy too, gets SIGTERM — the launcher was this same weft, stopped.
 * Never armed for a process a user starts (no variable, or no pipe on that descriptor).
 */
function exitWithParent(verb) {
  const fd = { 1: 0, 3: 3 }[process.env.WEFT_EXIT_WITH_PARENT ?? ''];
  if (fd === undefined) return;
  delete process.env.WEFT_EXIT_WITH_PARENT; // for this process only, not for what it starts
  let pipe;
  try {
    pipe = fstatSync(fd);
  } catch {
    return;
  }
  if (!pipe.isFIFO() && !pipe.isSocket()) return;
  const parent = process.ppid;
  let done = false;
  const gone = () => {
    if (done) return;
    done = true;
    if (verb !== 'proxy' || fd === 3) return void process.kill(process.pid, 'SIGTERM');
    try {
      process.stderr.write(`${new Date().toISOString()} warn the process that started this proxy (pid ${parent}) is gone: exiting without draining\n`);
    } catch {
      // nobody reads our output any more either
    }
    process.exit(1);
  };
  const watched = fd === 0 ? process.stdin : new (process.getBuiltinModule('node:net').Socket)({ fd, readable: true, writable: false });
  watched.on('end', gone).on('error', gone).on('close', gone).resume();
  // Watching must not keep an otherwise finished process alive.
  watched.unref?.();
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  const { createRequire } = await import('node:module');
  const { spawn } = await import('node:child_process');
  const require = createRequire(import.meta.url);
  let bundled;
  try {
    bundled = require.resolve('node/bin/node');
  } catch {
    process.stderr.write(`weft: Node.js ${process.versions.node} is too old; install Node.js 24 LTS or run 'npm install' in the weft checkout.\n`);
    process.exit(2);
  }
  // The child exits when this launcher dies, even by SIGKILL (which it cannot forward): the parent-death watch of
  // exitWithParent, on fd 3 — a pipe this process never writes, whose end of file the kernel delivers when it dies.
  exitWithParent(process.argv[2]);
  const child = spawn(bundled, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    env: { ...process.env, WEFT_EXIT_WITH_PARENT: '3' },
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 15 : 1)));
} else {
  const argv = process.argv.slice(2);
  const flags = proxyReexecFlags(argv);
  // Replaces this process (same pid, same stdio and signals): nothing has been loaded or printed yet.
  if (flags.length > 0) process.execve(process.execPath, [process.execPath, ...flags, ...process.execArgv, fileURLToPath(import.meta.url), ...argv]);
  exitWithParent(argv[0]);
  // Under `node --test` (its children inherit NODE_TEST_CONTEXT), weft runs the sources the tests are about.
  const underTest = process.env.NODE_TEST_CONTEXT !== undefined;
  const { main } = !underTest && distIsFresh() ? await import('../dist/cli/main.js') : await import('../src/cli/main.ts');
  process.exitCode = await main(argv);
}
