// Runs the system tools capture needs (ip, iptables-restore) and turns a failure into one WeftError that names
// the command, its exit status and its stderr. Tools are looked up in the sbin directories, which a root PATH
// usually has but a sudo'd or minimal one may not.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { WeftError } from '../../core/errors.ts';

const toolDirs = ['/usr/sbin', '/sbin', '/usr/bin', '/bin', '/usr/local/sbin', '/usr/local/bin'];
const resolved = new Map<string, string | undefined>();

/** Absolute path of a system tool, or undefined when none of the usual directories has it. */
export function findTool(name: string): string | undefined {
  if (!resolved.has(name)) resolved.set(name, toolDirs.map((d) => `${d}/${name}`).find((p) => existsSync(p)));
  return resolved.get(name);
}

/** The outcome of a command that ran to completion. */
export interface CommandResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run a tool to completion, with optional stdin; never throws for a non-zero exit (see `runChecked`). */
export function runTool(tool: string, args: readonly string[], input?: string, timeoutMs = 20_000): Promise<CommandResult> {
  const path = findTool(tool) ?? tool;
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => reject(new WeftError('WEFT_ERR_IO', `${tool}: could not start ${path}: ${e.message}`, { cause: e })));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.on('error', () => {}); // a tool that exits without reading stdin reports through its status
    child.stdin.end(input ?? '');
  });
}

/** Run a tool and throw WEFT_ERR_IO with its stderr when it does not exit 0. */
export async function runChecked(tool: string, args: readonly string[], input?: string): Promise<string> {
  const r = await runTool(tool, args, input);
  if (r.code !== 0) {
    const why = r.stderr.trim() || r.stdout.trim() || (r.signal ? `killed by ${r.signal}` : `exit status ${r.code}`);
    throw new WeftError('WEFT_ERR_IO', `\`${tool} ${args.join(' ')}\` failed: ${why}`);
  }
  return r.stdout;
}
