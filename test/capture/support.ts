// Helpers of the capture tests: when to skip (not root, no `ip netns`), and a child process that reports
// through JSON lines on stdout.

import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runTool } from '../../src/agent/capture/command.ts';

/** Why the capture tests cannot run here, or undefined when they can. Only root and `ip netns` are reasons. */
export async function captureSkipReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'transparent capture tests need root (they create network namespaces and iptables rules)';
  const r = await runTool('ip', ['netns', 'list']).catch((e: unknown) => ({ code: 1, stderr: String(e) }));
  if (r.code !== 0) return `\`ip netns\` is not available here: ${r.stderr.trim()}`;
  return undefined;
}

export const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** Collects a child's stdout JSON lines; `next(pred)` waits for the first matching one (or the child's exit). */
export function jsonLines(child: ChildProcess, timeoutMs = 15_000): { next: (pred: (v: Record<string, unknown>) => boolean) => Promise<Record<string, unknown>>; stderr: () => string } {
  const seen: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  let stderr = '';
  let exited = false;
  let buf = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        seen.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        stderr += `[stdout] ${line}\n`;
      }
      waiters.splice(0).forEach((w) => w());
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.on('exit', () => {
    exited = true;
    waiters.splice(0).forEach((w) => w());
  });
  const next = (pred: (v: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for the child; stderr:\n${stderr}`)), timeoutMs);
      const check = (): void => {
        const hit = seen.find(pred);
        if (hit) {
          clearTimeout(timer);
          resolve(hit);
        } else if (exited) {
          clearTimeout(timer);
          reject(new Error(`the child exited (${child.exitCode ?? child.signalCode}); stderr:\n${stderr}`));
        } else {
          waiters.push(check);
        }
      };
      check();
    });
  return { next, stderr: () => stderr };
}

/** Kill a child and wait for it to be gone. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  await gone;
}
