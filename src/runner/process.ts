// Supervised child processes for `weft run` and `weft demo`: each child runs in its own process group (so a signal
// reaches everything it started, and the terminal's Ctrl-C reaches only the runner, which stops children in order),
// its output is split into lines for readiness waits and prefixed logs, and stopping escalates SIGTERM → SIGKILL.
// Nothing here restarts a child: an exit is reported to the caller, who decides.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { childEnv } from '../core/env.ts';
import { WeftError } from '../core/errors.ts';

/**
 * The environment for the Node.js processes the runner starts (weft itself, the sample apps): Node's on-disk
 * compile cache halves their module-loading CPU at start-up, which is most of what a demo start costs.
 */
export function nodeChildEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  return childEnv({ NODE_COMPILE_CACHE: join(tmpdir(), `weft-${userInfo().uid}`, 'node-compile-cache'), ...extra });
}

export interface ChildSpec {
  /** Short name used in messages and log prefixes (`productpage-v1/sidecar`). */
  name: string;
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv | undefined;
  cwd?: string | undefined;
  /** pipe (default): output is split into lines for onLine and readiness waits; inherit: straight to our stdout/stderr. */
  stdio?: 'pipe' | 'inherit' | undefined;
  /** How to start it (default: child_process.spawn); e.g. inside a network namespace. */
  spawner?: ((command: string, args: readonly string[], options: SpawnOptions) => ChildProcess) | undefined;
  /** Each complete output line, as it arrives. */
  onLine?: ((line: string, stream: 'stdout' | 'stderr') => void) | undefined;
  /**
   * For weft's own processes (`weft proxy`, `weft up`): exit when this process dies, even by SIGKILL. The child gets
   * a pipe on stdin that this process never writes nor closes, and WEFT_EXIT_WITH_PARENT=1; bin/weft.js treats
   * end-of-file on that pipe (the kernel closes our end when we die) as the parent being gone.
   */
  exitWithParent?: boolean | undefined;
  /**
   * For a command weft does not own (the app): the signal it gets when this process dies, even by SIGKILL
   * (PR_SET_PDEATHSIG, set by util-linux `setpriv --pdeathsig` just before it executes the command: Node cannot run
   * code between fork and exec). Without setpriv installed, the command is started as it is.
   */
  parentDeathSignal?: NodeJS.Signals | undefined;
}

let setprivPath: string | null | undefined;

/** util-linux setpriv, if installed (Linux). */
function setpriv(): string | undefined {
  setprivPath ??= ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv', '/sbin/setpriv'].find((p) => existsSync(p)) ?? null;
  return setprivPath ?? undefined;
}

/** The variable bin/weft.js reads: stdin is a pipe from the parent, and its end of file means the parent is gone. */
export const EXIT_WITH_PARENT_ENV = 'WEFT_EXIT_WITH_PARENT';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The exit code a shell would report: the code, or 128 + signal number. */
export function exitCodeOf(s: ExitStatus): number {
  if (s.code !== null) return s.code;
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };
  return 128 + (s.signal ? (numbers[s.signal] ?? 1) : 1);
}

const MAX_KEPT_LINES = 200;

export class Supervised {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  #status: ExitStatus | undefined;
  /** The last lines of output (both streams), for error messages. */
  readonly recent: string[] = [];
  readonly #waiters = new Set<(line: string) => void>();

  constructor(spec: ChildSpec) {
    this.name = spec.name;
    const env = spec.exitWithParent ? childEnv({ [EXIT_WITH_PARENT_ENV]: '1' }, spec.env) : spec.env;
    const wrapper = spec.parentDeathSignal !== undefined ? setpriv() : undefined;
    const [command, args] = wrapper !== undefined ? [wrapper, ['--pdeathsig', spec.parentDeathSignal!, '--', spec.command, ...spec.args]] : [spec.command, spec.args];
    const child = (spec.spawner ?? ((c: string, a: readonly string[], o: SpawnOptions) => spawn(c, [...a], o)))(command, args, {
      env,
      cwd: spec.cwd,
      // The parent-watch pipe is never written: only its end of file (our death) matters to the child.
      stdio: [spec.exitWithParent ? 'pipe' : 'ignore', spec.stdio ?? 'pipe', spec.stdio ?? 'pipe'],
      // A process group of its own: signals go to the child and everything it starts, never to our siblings.
      detached: true,
    });
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once('error', (e) => {
        this.#keep(`${spec.command}: ${e.message}`);
        this.#status = { code: 127, signal: null };
        resolve(this.#status);
      });
      child.once('close', (code, signal) => {
        this.#status ??= { code, signal };
        resolve(this.#status);
      });
    });
    for (const [stream, readable] of [['stdout', child.stdout], ['stderr', child.stderr]] as const) {
      let partial = '';
      readable?.setEncoding('utf8');
      readable?.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          this.#keep(line);
          spec.onLine?.(line, stream);
          for (const w of this.#waiters) w(line);
        }
      });
      readable?.on('end', () => {
        if (partial !== '') {
          this.#keep(partial);
          spec.onLine?.(partial, stream);
          for (const w of this.#waiters) w(partial);
        }
      });
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The exit status, once exited. */
  get status(): ExitStatus | undefined {
    return this.#status;
  }

  #keep(line: string): void {
    this.recent.push(line);
    if (this.recent.length > MAX_KEPT_LINES) this.recent.shift();
  }

  /** The last `n` output lines, indented, for an error message. */
  tail(n = 15): string {
    return this.recent
      .slice(-n)
      .map((l) => `    ${l}`)
      .join('\n');
  }

  /**
   * Wait for an output line matching `re` (lines already seen count). Rejects when the process exits first, when
   * `failOn` matches a line (with that line as the reason), or after `timeoutMs`.
   */
  waitForLine(re: RegExp, timeoutMs: number, failOn?: { test(line: string): boolean }): Promise<RegExpMatchArray> {
    for (const l of this.recent) {
      const m = re.exec(l);
      if (m) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(onLine);
      };
      const onLine = (line: string): void => {
        const m = re.exec(line);
        if (m) {
          done();
          resolve(m);
        } else if (failOn?.test(line)) {
          done();
          reject(new WeftError('WEFT_ERR_UNAVAILABLE', `${this.name}: ${line.replace(/^\S+ (warn|error|info) /, '')}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new WeftError('WEFT_ERR_UNAVAILABLE', `${this.name} did not become ready within ${Math.round(timeoutMs / 1000)} s; its last output:\n${this.tail()}`));
      }, timeoutMs);
      this.#waiters.add(onLine);
      void this.exited.then((s) => {
        if (!this.#waiters.has(onLine)) return;
        done();
        reject(new WeftError('WEFT_ERR_UNAVAILABLE', `${this.name} exited (${describeExit(s)}) before it was ready; its last output:\n${this.tail()}`));
      });
    });
  }

  /** Send `sig` to the child's whole process group. False when it has already exited. */
  signal(sig: NodeJS.Signals): boolean {
    if (this.#status !== undefined || this.child.pid === undefined) return false;
    try {
      process.kill(-this.child.pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  /** SIGTERM (or `sig`) to the group, then SIGKILL after `graceMs`. Resolves with the exit status. */
  async stop(graceMs: number, sig: NodeJS.Signals = 'SIGTERM'): Promise<ExitStatus> {
    this.signal(sig);
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.signal('SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    const status = await this.exited;
    // Whatever the child started and left behind in its group goes too.
    if (this.child.pid !== undefined) {
      try {
        process.kill(-this.child.pid, 'SIGKILL');
      } catch {
        // the group is already empty
      }
    }
    return status;
  }
}

export function describeExit(s: ExitStatus): string {
  return s.signal ? `signal ${s.signal}` : `exit code ${s.code ?? '?'}`;
}
