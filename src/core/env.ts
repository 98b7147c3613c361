// The one module that reads process.env. Everything else receives these values as arguments, so that
// translation stays pure and tests can set behaviour without touching the environment.

export interface WeftEnv {
  /** Directory for logs and state when a command is not given --state-dir. */
  stateDir: string | undefined;
  /** Log level: debug, info, warn, error. Default info. */
  logLevel: string;
  /** Regenerate golden files instead of comparing (tests only). */
  updateGolden: boolean;
  /** Bootstrap token for the proxy agent, when not given as a file. */
  bootstrapToken: string | undefined;
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): WeftEnv {
  return {
    stateDir: env['WEFT_STATE_DIR'],
    logLevel: env['WEFT_LOG_LEVEL'] ?? 'info',
    updateGolden: env['WEFT_UPDATE_GOLDEN'] === '1',
    bootstrapToken: env['WEFT_BOOTSTRAP_TOKEN'],
  };
}
