// Can this machine do transparent capture? One check that lists every missing piece with what to do, so that
// `weft run --capture` stops before it starts anything, and tests skip with the reason.

import { loadAddon } from './addon.ts';
import { findTool, runTool } from './command.ts';
import { WeftError } from '../../core/errors.ts';

/** What is missing; empty when capture can run. */
export async function captureProblems(): Promise<string[]> {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push('not root: transparent capture creates a network namespace and iptables rules (run as root, or use explicit mode)');
  if (!findTool('ip')) problems.push('the `ip` command is missing: install iproute2');
  else {
    const r = await runTool('ip', ['netns', 'list']).catch((e: unknown) => ({ code: 1, stderr: String(e) }));
    if (r.code !== 0) problems.push(`\`ip netns\` does not work here: ${r.stderr.trim()}`);
  }
  for (const tool of ['iptables-restore', 'iptables-save']) if (!findTool(tool)) problems.push(`\`${tool}\` is missing: install iptables`);
  const addon = loadAddon();
  if (addon instanceof WeftError) problems.push(addon.message);
  return problems;
}

/** Throw WEFT_ERR_PERMISSION (not root) or WEFT_ERR_UNAVAILABLE (a tool or the addon is missing) listing every problem. */
export async function assertCaptureSupported(): Promise<void> {
  const problems = await captureProblems();
  if (problems.length === 0) return;
  const code = process.getuid?.() !== 0 ? 'WEFT_ERR_PERMISSION' : 'WEFT_ERR_UNAVAILABLE';
  throw new WeftError(code, `transparent capture (--capture) cannot run on this machine:\n  - ${problems.join('\n  - ')}`);
}
