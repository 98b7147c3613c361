// A workload's own network namespace, as a pod has one: a veth pair to the host (host end `weft-<id>`, pod end
// `eth0`), addresses from a private link-local /30, a default route back through the host end, and the
// namespace's own /etc files (resolv.conf, hosts) that `ip netns exec` mounts over /etc. Everything is named
// `weft-…` with a random id and recorded under /run/weft/netns, so destroy() and the sweeper can remove it all.

import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { WeftError } from '../../core/errors.ts';
import { captureRules, captureOptions } from './rules.ts';
import type { CaptureOptions, IpFamily } from './rules.ts';
import { findTool, runChecked, runTool } from './command.ts';
import type { CommandResult } from './command.ts';

/** Prefix of every namespace, veth and record Weft creates; the sweeper only touches names with it. */
export const NAME_PREFIX = 'weft-';
/** Where each live namespace's owner (pid and process start time) is recorded. */
export const OWNER_DIR = '/run/weft/netns';

/** How to build the namespace. */
export interface WorkloadNamespaceOptions {
  /** Workload name; becomes part of the namespace name `weft-<name>-<id>` (lower-cased, at most 20 characters). */
  readonly name: string;
  /** Host end of the veth (IPv4). Default: the first address of a free random /30 in 169.254.192.0/18. */
  readonly hostIp?: string;
  /** Pod end of the veth, the workload's pod IP. Default: the second address of the same /30. */
  readonly podIp?: string;
  /** Prefix length of hostIp/podIp. Default 30. */
  readonly prefixLength?: number;
  /** Also give the pod an IPv6 address (a random fd00::/8 /64, pod ::2, host ::1). Default false. */
  readonly ipv6?: boolean;
  /** Contents of the namespace's /etc/resolv.conf (seen by processes started with exec/run). Default: none (the host's). */
  readonly resolvConf?: string;
  /** Contents of the namespace's /etc/hosts. Default: localhost lines and `<podIp> <name>`. */
  readonly hosts?: string;
}

/** Options of a process started inside the namespace: Node's spawn options (uid, gid, env, stdio, cwd …). */
export type NamespaceSpawnOptions = SpawnOptions;

/** A live workload namespace. */
export interface WorkloadNamespace {
  /** Namespace name (`ip netns exec <netns> …`). */
  readonly netns: string;
  /** Host end of the veth pair (in the host's namespace). */
  readonly hostVeth: string;
  /** Pod end of the veth pair (inside the namespace). */
  readonly podVeth: 'eth0';
  readonly podIp: string;
  readonly hostIp: string;
  /** IPv6 pod and host addresses, when created with ipv6. */
  readonly podIp6: string | undefined;
  readonly hostIp6: string | undefined;
  /** Start a process inside the namespace (through `ip netns exec`, so /etc/netns/<netns>/* are its /etc files). */
  exec(command: string, args: readonly string[], options?: NamespaceSpawnOptions): ChildProcess;
  /** Run a command inside the namespace to completion and collect its output. */
  run(command: string, args: readonly string[], options?: { input?: string; timeoutMs?: number }): Promise<CommandResult>;
  /** Write one of the namespace's own /etc files (`resolv.conf`, `hosts`), seen by processes started afterwards. */
  writeEtcFile(file: 'resolv.conf' | 'hosts', contents: string): void;
  /** Install the capture rules (iptables-restore, and ip6tables-restore when the namespace has IPv6). */
  applyCapture(options?: Partial<CaptureOptions>): Promise<void>;
  /** `iptables-save` (or ip6tables-save) inside the namespace: what is installed now. */
  savedRules(family?: IpFamily): Promise<string>;
  /** Remove the namespace, the veth pair and the /etc and /run files. Idempotent; never throws. */
  destroy(): Promise<void>;
}

/** Namespaces this process created and has not destroyed: removed synchronously if the process exits first. */
const live = new Map<string, string>();
let exitHookInstalled = false;

/**
 * Create a workload namespace. Needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and iproute2. On any failure
 * everything created so far is removed before the error (WEFT_ERR_IO or WEFT_ERR_PERMISSION) is thrown.
 */
export async function createWorkloadNamespace(options: WorkloadNamespaceOptions): Promise<WorkloadNamespace> {
  assertCanCreate();
  const id = randomBytes(4).toString('hex');
  const label = options.name.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 20) || 'workload';
  const netns = `${NAME_PREFIX}${label}-${id}`;
  const hostVeth = `${NAME_PREFIX}${id}`;
  const prefix = options.prefixLength ?? 30;
  const addrs = options.hostIp && options.podIp ? { hostIp: options.hostIp, podIp: options.podIp } : await freeLinkLocalPair();
  if (!isIPv4(addrs.hostIp) || !isIPv4(addrs.podIp)) throw new WeftError('WEFT_ERR_USAGE', `hostIp and podIp must be IPv4 addresses, got ${addrs.hostIp} and ${addrs.podIp}`);
  const v6 = options.ipv6 ? ula64() : undefined;

  writeOwner(netns);
  live.set(netns, hostVeth);
  installExitHook();
  try {
    await ip('netns', 'add', netns);
    await ip('link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns);
    await ip('addr', 'add', `${addrs.hostIp}/${prefix}`, 'dev', hostVeth);
    await ip('link', 'set', hostVeth, 'up');
    await ip('-n', netns, 'link', 'set', 'lo', 'up');
    await ip('-n', netns, 'addr', 'add', `${addrs.podIp}/${prefix}`, 'dev', 'eth0');
    await ip('-n', netns, 'link', 'set', 'eth0', 'up');
    await ip('-n', netns, 'route', 'add', 'default', 'via', addrs.hostIp, 'dev', 'eth0');
    if (v6) {
      await ip('-6', 'addr', 'add', `${v6.host}/64`, 'dev', hostVeth, 'nodad');
      await ip('-n', netns, '-6', 'addr', 'add', `${v6.pod}/64`, 'dev', 'eth0', 'nodad');
      await ip('-n', netns, '-6', 'route', 'add', 'default', 'via', v6.host, 'dev', 'eth0');
    }
    writeEtc(netns, 'resolv.conf', options.resolvConf);
    writeEtc(netns, 'hosts', options.hosts ?? `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${addrs.podIp}\t${label}\n`);
  } catch (e) {
    await removeNamespace(netns, hostVeth);
    throw e;
  }

  const ns: WorkloadNamespace = {
    netns,
    hostVeth,
    podVeth: 'eth0',
    podIp: addrs.podIp,
    hostIp: addrs.hostIp,
    podIp6: v6?.pod,
    hostIp6: v6?.host,
    exec: (command, args, spawnOptions = {}) => spawn(ipPath(), ['netns', 'exec', netns, command, ...args], spawnOptions),
    run: (command, args, runOptions = {}) => runTool('ip', ['netns', 'exec', netns, command, ...args], runOptions.input, runOptions.timeoutMs),
    writeEtcFile: (file, contents) => writeEtc(netns, file, contents),
    applyCapture: async (capture = {}) => {
      const opts = captureOptions(capture);
      await applyRules(netns, 'ipv4', captureRules(opts, 'ipv4'));
      if (v6) await applyRules(netns, 'ipv6', captureRules(opts, 'ipv6'));
    },
    savedRules: (family = 'ipv4') => runChecked('ip', ['netns', 'exec', netns, family === 'ipv4' ? 'iptables-save' : 'ip6tables-save']),
    destroy: () => removeNamespace(netns, hostVeth),
  };
  return ns;
}

/** Feed rules to (ip6)tables-restore inside the namespace. Without --noflush, so re-applying replaces them. */
export async function applyRules(netns: string, family: IpFamily, lines: readonly string[]): Promise<void> {
  const tool = family === 'ipv4' ? 'iptables-restore' : 'ip6tables-restore';
  if (!findTool(tool)) throw new WeftError('WEFT_ERR_UNAVAILABLE', `${tool} is not installed: install the iptables package (Debian/Ubuntu: apt-get install iptables)`);
  await runChecked('ip', ['netns', 'exec', netns, tool, '--wait=10'], `${lines.join('\n')}\n`);
}

/** Remove a namespace and everything recorded with it. Never throws: cleanup must finish what it can. */
export async function removeNamespace(netns: string, hostVeth: string | undefined): Promise<void> {
  // The host end first: deleting it removes the pair at once, whereas the kernel tears a deleted namespace's
  // devices down asynchronously (and only once no process is left inside it).
  if (hostVeth) {
    const link = await runTool('ip', ['link', 'show', hostVeth]).catch(() => undefined);
    if (link?.code === 0) await runTool('ip', ['link', 'del', hostVeth]).catch(() => undefined);
  }
  await runTool('ip', ['netns', 'del', netns]).catch(() => undefined);
  removeFiles(netns);
  live.delete(netns);
}

function removeFiles(netns: string): void {
  rmSync(`/etc/netns/${netns}`, { recursive: true, force: true });
  rmSync(`${OWNER_DIR}/${netns}.json`, { force: true });
}

/** Fail early, with what to do, when this process cannot create namespaces. */
function assertCanCreate(): void {
  if (process.getuid?.() !== 0) {
    throw new WeftError('WEFT_ERR_PERMISSION', 'transparent capture needs root (it creates a network namespace and iptables rules): run as root, or use explicit mode (no --capture)');
  }
  if (!findTool('ip')) throw new WeftError('WEFT_ERR_UNAVAILABLE', 'the `ip` command is not installed: install iproute2 (Debian/Ubuntu: apt-get install iproute2)');
}

function ipPath(): string {
  return findTool('ip') ?? 'ip';
}

async function ip(...args: string[]): Promise<void> {
  await runChecked('ip', args);
}

function writeEtc(netns: string, file: string, contents: string | undefined): void {
  if (contents === undefined) return;
  mkdirSync(`/etc/netns/${netns}`, { recursive: true });
  writeFileSync(`/etc/netns/${netns}/${file}`, contents.endsWith('\n') ? contents : `${contents}\n`);
}

/** Record who owns the namespace, before creating it, so that a crash at any point leaves it sweepable. */
function writeOwner(netns: string): void {
  mkdirSync(OWNER_DIR, { recursive: true });
  writeFileSync(`${OWNER_DIR}/${netns}.json`, `${JSON.stringify({ pid: process.pid, start: processStartTime(process.pid) })}\n`);
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks): tells a live owner from a recycled pid. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** On exit, remove what destroy() was not called for (synchronously: nothing async runs in an exit handler). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [netns, hostVeth] of live) {
      for (const args of [['link', 'del', hostVeth], ['netns', 'del', netns]]) {
        try {
          execFileSync(ipPath(), args, { stdio: 'ignore' });
        } catch {
          // already gone
        }
      }
      removeFiles(netns);
    }
  });
}

/** A random /30 in 169.254.192.0/18 that no host address or route overlaps. */
async function freeLinkLocalPair(): Promise<{ hostIp: string; podIp: string }> {
  const routes = (await runTool('ip', ['-4', '-o', 'addr', 'show'])).stdout + (await runTool('ip', ['-4', 'route', 'show'])).stdout;
  for (let attempt = 0; attempt < 64; attempt++) {
    const block = randomBytes(2).readUInt16BE(0) & 0x0fff; // 2^12 /30 blocks in the /18
    const base = (169 << 24) | (254 << 16) | (0xc0 << 8) | 0; // 169.254.192.0
    const net = (base + block * 4) >>> 0;
    const third = (net >>> 8) & 0xff;
    const fourth = net & 0xff;
    const prefix = `169.254.${third}.`;
    const taken = [0, 1, 2, 3].some((i) => routes.includes(`${prefix}${fourth + i}/`) || routes.includes(`${prefix}${fourth + i} `));
    if (!taken) return { hostIp: `${prefix}${fourth + 1}`, podIp: `${prefix}${fourth + 2}` };
  }
  throw new WeftError('WEFT_ERR_UNAVAILABLE', 'no free /30 in 169.254.192.0/18 for the workload namespace: remove stale ones with the sweeper (weft-* namespaces)');
}

/** A random unique-local /64: host ::1, pod ::2. */
function ula64(): { host: string; pod: string } {
  const b = randomBytes(7).toString('hex'); // fdXX:XXXX:XXXX:XXXX::/64, written canonically (no leading zeros)
  const group = (hex: string): string => parseInt(hex, 16).toString(16);
  const p = `fd${b.slice(0, 2)}:${group(b.slice(2, 6))}:${group(b.slice(6, 10))}:${group(b.slice(10, 14))}`;
  return { host: `${p}::1`, pod: `${p}::2` };
}
