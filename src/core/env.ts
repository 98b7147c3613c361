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
  /** Outbound HTTP proxy of an app in explicit mode (HTTP_PROXY, else http_proxy); `weft run` sets it. */
  httpProxy: string | undefined;
  /** Hosts that bypass httpProxy (NO_PROXY, else no_proxy): comma-separated names, .suffixes, IPs, CIDRs or `*`. */
  noProxy: string | undefined;
  /** Settings of the Bookinfo sample services, with the variable names of Istio's sample. */
  bookinfo: BookinfoEnv;
  /** npm_command: set by npm for what it runs (`exec` under npx / npm exec); src/cli/launcher.ts reads it. */
  npmCommand: string | undefined;
}

/** Environment of the Bookinfo sample (src/samples/bookinfo); each field is unset when its variable is. */
export interface BookinfoEnv {
  /** SERVICES_DOMAIN: appended to every service host name (`details.<domain>`). */
  servicesDomain: string | undefined;
  /** DETAILS_HOSTNAME / DETAILS_SERVICE_PORT (default details:9080). */
  detailsHostname: string | undefined;
  detailsPort: string | undefined;
  /** REVIEWS_HOSTNAME / REVIEWS_SERVICE_PORT (default reviews:9080). */
  reviewsHostname: string | undefined;
  reviewsPort: string | undefined;
  /** RATINGS_HOSTNAME / RATINGS_SERVICE_PORT (default ratings:9080). */
  ratingsHostname: string | undefined;
  ratingsPort: string | undefined;
  /** SERVICE_VERSION: the service version when --version is not given (reviews v1|v2|v3, ratings v1|v-faulty …). */
  serviceVersion: string | undefined;
  /** POD_NAME: the name reviews reports as `podname` (default `reviews-<version>`). */
  podName: string | undefined;
  /** CLUSTER_NAME: the cluster reviews reports as `clustername`. */
  clusterName: string | undefined;
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): WeftEnv {
  return {
    stateDir: env['WEFT_STATE_DIR'],
    logLevel: env['WEFT_LOG_LEVEL'] ?? 'info',
    updateGolden: env['WEFT_UPDATE_GOLDEN'] === '1',
    bootstrapToken: env['WEFT_BOOTSTRAP_TOKEN'],
    httpProxy: env['HTTP_PROXY'] ?? env['http_proxy'],
    noProxy: env['NO_PROXY'] ?? env['no_proxy'],
    bookinfo: {
      servicesDomain: env['SERVICES_DOMAIN'],
      detailsHostname: env['DETAILS_HOSTNAME'],
      detailsPort: env['DETAILS_SERVICE_PORT'],
      reviewsHostname: env['REVIEWS_HOSTNAME'],
      reviewsPort: env['REVIEWS_SERVICE_PORT'],
      ratingsHostname: env['RATINGS_HOSTNAME'],
      ratingsPort: env['RATINGS_SERVICE_PORT'],
      serviceVersion: env['SERVICE_VERSION'],
      podName: env['POD_NAME'],
      clusterName: env['CLUSTER_NAME'],
    },
    npmCommand: env['npm_command'],
  };
}

/**
 * The environment a child process inherits, with `extra` set on top (`weft run` gives its app HTTP_PROXY/NO_PROXY).
 * Entries whose value is undefined are removed.
 */
export function childEnv(extra: Readonly<Record<string, string | undefined>>, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}
