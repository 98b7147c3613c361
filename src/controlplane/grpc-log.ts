// grpc-js logs through one process-wide logger. When the control plane cannot bind a port, grpc-js prints its own
// "E No address added out of total 1 resolved" before the bind error reaches Weft, which then says what is wrong
// (the port, its role, the flag to change). This logger drops exactly that line — its text is also in the error
// that Weft reports — and prints everything else as grpc-js's default logger does (E/I/D prefix on stderr).
import * as grpc from '@grpc/grpc-js';

/** The line grpc-js logs, at ERROR, right before it rejects a bindAsync whose every address failed. */
const bindFailure = /^No address added out of total \d+ resolved$/;

type Write = (line: string, ...rest: unknown[]) => void;

/** A grpc-js logger that writes through `write` with grpc-js's severity prefixes, without the bind-failure line. */
export function grpcLogger(write: Write): Partial<Console> {
  return {
    error: (message?: unknown, ...rest: unknown[]) => {
      if (typeof message === 'string' && rest.length === 0 && bindFailure.test(message)) return;
      write(`E ${String(message)}`, ...rest);
    },
    info: (message?: unknown, ...rest: unknown[]) => write(`I ${String(message)}`, ...rest),
    debug: (message?: unknown, ...rest: unknown[]) => write(`D ${String(message)}`, ...rest),
  };
}

let installed = false;

/** Installs grpcLogger (writing to stderr) as grpc-js's logger, once per process; the verbosity stays grpc-js's. */
export function quietGrpcBindFailures(): void {
  if (installed) return;
  installed = true;
  grpc.setLogger(grpcLogger((line, ...rest) => console.error(line, ...rest)));
}
