// The catalogue of Weft's error classes. Each has a stable code (WEFT_ERR_*) that scripts and tests may rely on,
// and a message that says what failed, the likely cause and the next step. Errors cross a plane boundary
// (HTTP response, NACK, exit code) in exactly one place per plane; everywhere else they carry `cause`.

export type WeftErrorCode =
  | 'WEFT_ERR_USAGE' // bad command line
  | 'WEFT_ERR_IO' // a file or socket could not be read or written
  | 'WEFT_ERR_CONFIG_INVALID' // config failed validation
  | 'WEFT_ERR_CONFIG_CONFLICT' // two resources claim the same kind/namespace/name
  | 'WEFT_ERR_NOT_FOUND' // a named resource, proxy or file does not exist
  | 'WEFT_ERR_XDS' // an xDS protocol violation or rejected resource
  | 'WEFT_ERR_CA' // certificate issuance or verification failed
  | 'WEFT_ERR_AUTH' // a caller could not prove its identity
  | 'WEFT_ERR_PERMISSION' // a proven caller asked for something it may not have
  | 'WEFT_ERR_UNAVAILABLE' // a peer (control plane, CA, upstream) cannot be reached
  | 'WEFT_ERR_INTERNAL'; // a bug: please report it with `weft bug-report`

export class WeftError extends Error {
  readonly code: WeftErrorCode;
  constructor(code: WeftErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'WeftError';
  }
}

export class UsageError extends WeftError {
  constructor(message: string) {
    super('WEFT_ERR_USAGE', message);
    this.name = 'UsageError';
  }
}

/** Exit codes of the weft CLI, documented in the README. */
export const ExitCode = {
  ok: 0,
  /** Input was read but is invalid (validation errors, refused apply). */
  invalid: 1,
  /** Usage or I/O error: bad flags, unreadable file, unreachable control plane. */
  usage: 2,
  /** `weft analyze` found error-level messages (istioctl uses 79). */
  analyzeErrors: 79,
} as const;

export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
