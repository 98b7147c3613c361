// Ports and addresses for workloads on one machine. Every workload gets its own loopback address (127.0.0.0/8 is
// all local on Linux), so its sidecar can take inbound traffic on <address>:<app port> while the app listens on
// 127.0.0.1:<app port> — the two never collide, and the registry sees one distinct endpoint per workload.
// Addresses are claimed with a file per address (holding the claimant's pid) so concurrent `weft run`s agree.
import * as net from 'node:net';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { WeftError } from '../core/errors.ts';

/** Bind `host:port` briefly. Resolves undefined when free, else the error code (EADDRINUSE, EADDRNOTAVAIL …). */
export function probePort(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(undefined)));
  });
}

/** A port that is free on every one of `hosts` right now (the kernel picks it for the first host). */
export async function freePort(hosts: readonly string[] = ['127.0.0.1']): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen({ host: hosts[0] ?? '127.0.0.1', port: 0 }, () => {
        const a = s.address() as net.AddressInfo;
        s.close(() => resolve(a.port));
      });
    });
    let ok = true;
    for (const h of hosts.slice(1)) if ((await probePort(h, port)) !== undefined) ok = false;
    if (ok) return port;
  }
  throw new WeftError('WEFT_ERR_IO', `no free port found on ${hosts.join(', ')} after 20 attempts`);
}

/** Fail with a message naming the port, who wants it and what to do, when `host:port` cannot be bound. */
export async function requirePortFree(host: string, port: number, what: string, flag: string): Promise<void> {
  const code = await probePort(host, port);
  if (code === undefined) return;
  const hint = code === 'EADDRINUSE' ? `another process is listening there (find it with: ss -ltnp 'sport = :${port}'); stop it or choose another port with ${flag}` : `pick another address or port with ${flag}`;
  throw new WeftError('WEFT_ERR_IO', `port ${port} on ${host} (${what}) is not available (${code}): ${hint}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Where loopback-address claims live: one directory per user, shared by every weft on the machine. */
export function claimDir(): string {
  return join(tmpdir(), `weft-${userInfo().uid}`, 'loopback');
}

export interface AddressClaim {
  address: string;
  release(): Promise<void>;
}

/**
 * Claim a loopback address 127.0.<a>.<b> (from 127.0.10.1 up) that no live weft process holds, and that has
 * `port` (or every one of the ports) free. The claim is a file named after the address holding our pid; stale
 * claims (dead pid) are taken over.
 */
export async function claimLoopbackAddress(port?: number | readonly number[], dir: string = claimDir()): Promise<AddressClaim> {
  const ports = port === undefined ? [] : typeof port === 'number' ? [port] : port;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (let i = 0; i < 2500; i++) {
    const address = `127.0.${10 + Math.floor(i / 250)}.${(i % 250) + 1}`;
    const file = join(dir, address);
    const claimed = await tryClaim(file);
    if (!claimed) continue;
    let free = true;
    for (const p of ports) if ((await probePort(address, p)) !== undefined) free = false;
    if (!free) {
      await rm(file, { force: true });
      continue;
    }
    return { address, release: () => rm(file, { force: true }) };
  }
  throw new WeftError('WEFT_ERR_IO', `every loopback address 127.0.10.1–127.0.19.250 is claimed by a running weft (see ${dir}); stop some workloads or pass --ip`);
}

async function tryClaim(file: string): Promise<boolean> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(file, 'wx', 0o600);
      await fh.writeFile(String(process.pid));
      await fh.close();
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) return false;
      await rm(file, { force: true });
    }
  }
  return false;
}
