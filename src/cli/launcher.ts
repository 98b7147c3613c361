// Under `npx weft …` (npm exec), npm starts weft through `sh -c`. A SIGTERM to npm (a supervisor stopping the
// command it started, `kill <npx pid>`) ends npm and that shell, but never reaches weft: `weft demo` would run on,
// orphaned, with the control plane and every workload it started. So under npm exec weft watches its parent and,
// once the parent is gone, sends itself the SIGTERM it missed; each command's own handler then stops it in order.
// (Ctrl-C is not affected: the terminal signals the whole foreground process group, weft included.)

/** How often the parent is checked. Re-parenting has no event to wait for; getppid() is one cheap system call. */
const CHECK_MS = 500;

export interface LauncherWatch {
  /** npm_command from the environment (readEnv().npmCommand): the watch runs only under `exec` (npx, npm exec). */
  npmCommand: string | undefined;
  /** Called once when the parent has gone (default: send SIGTERM to this process). */
  onParentGone?: (() => void) | undefined;
}

/** Starts the watch when weft runs under npm exec; returns a function that stops it. The timer never keeps weft alive. */
export function watchLauncher(o: LauncherWatch): () => void {
  if (o.npmCommand !== 'exec') return () => undefined;
  const parent = process.ppid;
  const onGone = o.onParentGone ?? ((): void => void process.kill(process.pid, 'SIGTERM'));
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone();
  }, CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
