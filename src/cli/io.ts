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

export function processIo(): CliIo {
  return {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
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
