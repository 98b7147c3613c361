// Instructions per request of the proxy process (user space only), counted by valgrind's callgrind: steady under
// the noise of a shared machine, unlike time. Starts nginx and the proxy of each given tree under callgrind
// (instrumentation off), warms it up, then counts instructions over exactly N requests on 32 keep-alive connections.
// Needs Debian packages nginx and valgrind. Start-up under valgrind takes ~1 minute per tree.
//   node_modules/.bin/node bench/proxy/hotpath-callgrind.ts [--requests 20000] [--warmup 20000] [--port 29180] TREE... [--flags 'NODE FLAGS']
// Two runs at once need different --port values (nginx gets PORT, the proxy PORT+2).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, readdirSync, renameSync, unlinkSync } from 'node:fs';
import * as net from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const out = join(root, `bench/out/hotpath-cg-${process.pid}`);
mkdirSync(out, { recursive: true });
const argv = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = argv[i + 1]!;
  argv.splice(i, 2);
  return v;
};
const REQUESTS = Number(opt('requests', '20000'));
const WARMUP = Number(opt('warmup', '20000'));
const FLAGS = opt('flags', '').split(' ').filter(Boolean);
const nginxPort = Number(opt('port', '29180'));
const trees = argv.length > 0 ? argv.map((t) => resolve(t)) : [root];
const node = join(root, 'node_modules/.bin/node');
const proxyPort = nginxPort + 2;

const write = (name: string, text: string): string => {
  const p = join(out, name);
  writeFileSync(p, text);
  return p;
};
const nginxConf = write(
  'nginx.conf',
  `worker_processes 1;\ndaemon off;\npid ${out}/nginx.pid;\nerror_log ${out}/nginx-error.log;\nevents { worker_connections 4096; }\n` +
    `http {\n  access_log off;\n  keepalive_requests 10000000;\n  keepalive_timeout 300s;\n  server { listen 127.0.0.1:${nginxPort}; location / { return 200 "ok"; } }\n}\n`,
);
const bootstrap = write(
  'weft.yaml',
  readFileSync(join(root, 'bench/out/hotpath/weft-29082.yaml'), 'utf8').replace(/port_value: 29082/, `port_value: ${proxyPort}`).replace(/port_value: 29080/, `port_value: ${nginxPort}`),
);
const runner = write('run-src.mjs', "const [tree, ...args] = process.argv.slice(2);\nconst { main } = await import(`${tree}/src/cli/main.ts`);\nprocess.exitCode = await main(args);\n");

const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

/** Exactly `total` GET requests over `conns` keep-alive connections (each waits for its response). */
function drive(total: number, conns = 32): Promise<void> {
  const req = Buffer.from(`GET /bench HTTP/1.1\r\nHost: 127.0.0.1:${proxyPort}\r\nUser-Agent: hotpath\r\nAccept: */*\r\n\r\n`);
  let sent = 0;
  let done = 0;
  return new Promise((res, rej) => {
    for (let i = 0; i < conns; i++) {
      const s = net.connect(proxyPort, '127.0.0.1');
      let buf = '';
      const next = (): void => {
        if (sent >= total) {
          s.end();
          return;
        }
        sent++;
        s.write(req);
      };
      s.on('connect', next);
      s.on('error', rej);
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        // nginx answers `ok` with Content-Length: 2; count complete responses.
        for (;;) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0 || buf.length < end + 6) break;
          buf = buf.slice(end + 6);
          done++;
          if (done === total) res();
          next();
        }
      });
    }
  });
}

async function measure(tree: string, label: number): Promise<number> {
  for (const f of readdirSync(out)) if (f.startsWith('cg.')) unlinkSync(join(out, f));
  const log = join(out, 'proxy.log');
  writeFileSync(log, '');
  const c = spawn('valgrind', ['--tool=callgrind', '--instr-atstart=no', '--smc-check=all-non-file', `--callgrind-out-file=${out}/cg.%p`, node, ...FLAGS, runner, tree, 'proxy', 'router', '--bootstrap', bootstrap, '--admin-port', '-1', '--stats-port', '-1', '--readiness-port', '-1', '--status-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(c);
  let errText = '';
  c.stderr!.on('data', (d: Buffer) => (errText = (errText + d.toString()).slice(-2000)));
  await new Promise<void>((res, rej) => {
    let text = '';
    c.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      if (text.includes('weft proxy ready')) res();
    });
    c.once('exit', (code) => rej(new Error(`proxy under valgrind exited ${code}: ${errText}`)));
  });
  // The listener may bind a moment after the ready line: wait until it accepts.
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(proxyPort, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) break;
    if (i > 600) throw new Error('the proxy never accepted a connection');
    await new Promise((r) => setTimeout(r, 200));
  }
  await drive(WARMUP);
  execFileSync('callgrind_control', ['-i', 'on', String(c.pid)]);
  await drive(REQUESTS);
  execFileSync('callgrind_control', ['-i', 'off', String(c.pid)]);
  execFileSync('callgrind_control', ['-d', String(c.pid)]);
  c.kill('SIGKILL');
  await new Promise((r) => c.once('exit', r));
  let ir = 0;
  for (const f of readdirSync(out)) {
    if (!f.startsWith('cg.')) continue;
    const m = /^totals:\s+(\d+)/m.exec(readFileSync(join(out, f), 'utf8'));
    if (m) ir += Number(m[1]);
    // Kept for callgrind_annotate (named after the tree's position on the command line).
    renameSync(join(out, f), join(out, `kept-${label}-${f}`));
  }
  return ir / REQUESTS;
}

async function main(): Promise<void> {
  const nginx = spawn('nginx', ['-c', nginxConf], { stdio: 'ignore' });
  children.push(nginx);
  await new Promise((r) => setTimeout(r, 500));
  for (const [i, t] of trees.entries()) {
    const ir = await measure(t, i + 1);
    process.stdout.write(`${t}${FLAGS.length ? ` ${FLAGS.join(' ')}` : ''}: ${Math.round(ir)} instructions per request (user space, ${REQUESTS} requests after ${WARMUP} warm-up)\n`);
  }
  nginx.kill('SIGTERM');
}

main().catch((e: unknown) => {
  process.stderr.write(`hotpath-callgrind failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
