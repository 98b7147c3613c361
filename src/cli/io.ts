// The CLI's window on the world: output streams and stdin, injectable so that golden tests capture output
// without spawning a process.

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Reads all of standard input (for `-f -`). */
  readStdin(): Promise<string>;
  /** Working directory that relative paths resolve against. */
  cwd: string;
}

/**
 * A write to stdout/stderr that survives the reader going away (`weft validate -f big/ | head -1`, a closed log
 * pipe): the EPIPE is noted once and later output is dropped, instead of an unhandled 'error' event and a stack trace.
 */
function writer(stream: NodeJS.WriteStream): (text: string) => void {
  let closed = false;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    closed = true;
  });
  return (text) => {
    if (!closed) stream.write(text);
  };
}

let stdoutWriter: ((text: string) => void) | undefined;
let stderrWriter: ((text: string) => void) | undefined;

export function processIo(): CliIo {
  stdoutWriter ??= writer(process.stdout);
  stderrWriter ??= writer(process.stderr);
  const out = stdoutWriter;
  const err = stderrWriter;
  return {
    out: (t) => out(t),
    err: (t) => err(t),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    cwd: process.cwd(),
  };
}

/** An in-memory CliIo for tests: collects what a command prints. */
export function memoryIo(stdin = '', cwd = process.cwd()): CliIo & { stdout: () => string; stderr: () => string } {
  let o = '';
  let e = '';
  return {
    out: (t) => void (o += t),
    err: (t) => void (e += t),
    readStdin: async () => stdin,
    cwd,
    stdout: () => o,
    stderr: () => e,
  };
}
