// Starts one Bookinfo service from plain values: which service and version, where to listen, where its backends
// are, and the explicit-proxy settings. main.ts (the command line) and the tests both come through here.
import type { BookinfoEnv } from '../../core/env.ts';
import type { DetailsVersion } from './details.ts';
import type { RatingsVersion } from './ratings.ts';
import type { ReviewsVersion } from './reviews.ts';
import { OutboundClient } from './shared/http-client.ts';
import { NoProxy, parseHttpProxy } from './shared/proxy-env.ts';
import type { BookinfoApp, LogFn, RunningApp } from './shared/server.ts';
import { serveApp } from './shared/server.ts';

export const BOOKINFO_SERVICES = ['productpage', 'details', 'reviews', 'ratings'] as const;
export type BookinfoService = (typeof BOOKINFO_SERVICES)[number];

/** The port every Bookinfo service listens on in Istio's sample. */
export const BOOKINFO_PORT = 9080;

export interface ServiceSpec {
  service: BookinfoService;
  /** reviews: v1|v2|v3; ratings: v1|v-faulty|v-delayed|v-unavailable|v-unhealthy; details: v1|v2; productpage: v1. Default v1. */
  version?: string;
  /** Listen port (default 9080; 0 picks a free one). */
  port?: number;
  /** Listen address (default 0.0.0.0). */
  host?: string;
  /** Backend addresses (HOST:PORT or http://HOST:PORT) that override the environment's. */
  backends?: Partial<Record<'details' | 'reviews' | 'ratings', string>>;
  /** Environment values, as read by src/core/env.ts. */
  env: { httpProxy: string | undefined; noProxy: string | undefined; bookinfo: BookinfoEnv };
  log: LogFn;
  /** details v2: the Google Books volumes endpoint to ask (default http://www.googleapis.com/books/v1/volumes). */
  bookService?: string;
  /** productpage's per-attempt backend deadline (tests shorten it). */
  timeoutMs?: number;
}

/** A mistake in the spec (unknown version, bad address, bad HTTP_PROXY); main turns it into exit code 2. */
export class SpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpecError';
  }
}

/** Base URL of a backend: the override, else <NAME>_HOSTNAME[.SERVICES_DOMAIN]:<NAME>_SERVICE_PORT as the sample. */
export function backendUrl(name: 'details' | 'reviews' | 'ratings', env: BookinfoEnv, override?: string): string {
  if (override !== undefined) {
    const text = override.includes('://') ? override : `http://${override}`;
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new SpecError(`--${name} "${override}" is not HOST:PORT or http://HOST:PORT`);
    }
    if (url.protocol !== 'http:') throw new SpecError(`--${name} "${override}": only http:// backends are supported`);
    return `http://${url.host}`;
  }
  const host = { details: env.detailsHostname, reviews: env.reviewsHostname, ratings: env.ratingsHostname }[name] ?? name;
  const port = { details: env.detailsPort, reviews: env.reviewsPort, ratings: env.ratingsPort }[name] ?? String(BOOKINFO_PORT);
  const domain = env.servicesDomain !== undefined && env.servicesDomain !== '' ? `.${env.servicesDomain}` : '';
  return `http://${host}${domain}:${port}`;
}

function outbound(spec: ServiceSpec): OutboundClient {
  const proxy = parseHttpProxy(spec.env.httpProxy);
  if (!proxy.ok) throw new SpecError(proxy.error);
  return new OutboundClient({ proxy: proxy.value, noProxy: new NoProxy(spec.env.noProxy) });
}

function oneOf<T extends string>(what: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new SpecError(`${what} version "${value}" is not one of ${allowed.join(', ')}`);
}

/** Build the app a spec describes, without listening. Each service loads only its own modules (start-up time). */
export async function createApp(spec: ServiceSpec): Promise<BookinfoApp> {
  const version = spec.version ?? spec.env.bookinfo.serviceVersion ?? 'v1';
  const url = (name: 'details' | 'reviews' | 'ratings'): string => backendUrl(name, spec.env.bookinfo, spec.backends?.[name]);
  switch (spec.service) {
    case 'details': {
      const { createDetailsApp, DETAILS_VERSIONS } = await import('./details.ts');
      const v = oneOf<DetailsVersion>('details', version, DETAILS_VERSIONS);
      return createDetailsApp({
        version: v,
        log: spec.log,
        ...(v === 'v2' ? { client: outbound(spec) } : {}),
        ...(spec.bookService !== undefined ? { bookServiceUrl: spec.bookService } : {}),
      });
    }
    case 'ratings': {
      const { createRatingsApp, RATINGS_VERSIONS } = await import('./ratings.ts');
      return createRatingsApp({ version: oneOf<RatingsVersion>('ratings', version, RATINGS_VERSIONS) });
    }
    case 'reviews': {
      const { createReviewsApp, REVIEWS_VERSIONS } = await import('./reviews.ts');
      const v = oneOf<ReviewsVersion>('reviews', version, REVIEWS_VERSIONS);
      return createReviewsApp({
        version: v,
        ratingsUrl: url('ratings'),
        client: outbound(spec),
        podName: spec.env.bookinfo.podName ?? `reviews-${v}`,
        clusterName: spec.env.bookinfo.clusterName ?? 'null',
        log: spec.log,
      });
    }
    case 'productpage': {
      oneOf('productpage', version, ['v1'] as const);
      const { createProductpageApp } = await import('./productpage/app.ts');
      return createProductpageApp({
        detailsUrl: url('details'),
        reviewsUrl: url('reviews'),
        ratingsUrl: url('ratings'),
        client: outbound(spec),
        log: spec.log,
        ...(spec.timeoutMs !== undefined ? { timeoutMs: spec.timeoutMs } : {}),
      });
    }
  }
}

/** Build and start one service; resolves once it listens. */
export async function startService(spec: ServiceSpec): Promise<RunningApp> {
  const app = await createApp(spec);
  return serveApp(app, { port: spec.port ?? BOOKINFO_PORT, host: spec.host ?? '0.0.0.0', log: spec.log }).catch((e: unknown) => {
    app.close();
    throw e;
  });
}
