// reviews: two reviews of the book as JSON at /reviews/<id>, in Istio's three versions: v1 without ratings,
// v2 with black stars and v3 with red stars, both fetched from ratings. When ratings fails, each review carries
// "Ratings service is currently unavailable" instead of stars, as the sample's Java service does.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OutboundClient } from './shared/http-client.ts';
import { describeResult, parseJson } from './shared/http-client.ts';
import type { BookinfoApp, LogFn } from './shared/server.ts';
import { methodNotAllowed, notFound, sendJson } from './shared/server.ts';
import { BACKEND_FORWARDED, forwardHeaders } from './shared/trace-headers.ts';

export const REVIEWS_VERSIONS = ['v1', 'v2', 'v3'] as const;
export type ReviewsVersion = (typeof REVIEWS_VERSIONS)[number];

export const RATINGS_UNAVAILABLE = 'Ratings service is currently unavailable';

export type ReviewRating = { stars: number; color: string } | { error: string };

export interface Review {
  reviewer: string;
  text: string;
  /** Absent in v1. */
  rating?: ReviewRating;
}

/** The JSON document of /reviews/<id>; `id` is a string and `clustername` is "null" when unknown, as the sample's. */
export interface ReviewsDocument {
  id: string;
  podname: string;
  clustername: string;
  reviews: Review[];
}

/** What each version does about ratings: v2 waits 10 s for them, v3 2.5 s (the sample's timeouts). */
const RATINGS_BY_VERSION: Record<ReviewsVersion, { color: string; timeoutMs: number } | undefined> = {
  v1: undefined,
  v2: { color: 'black', timeoutMs: 10_000 },
  v3: { color: 'red', timeoutMs: 2_500 },
};

const REVIEWS = [
  { reviewer: 'Reviewer1', text: 'An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!' },
  { reviewer: 'Reviewer2', text: 'Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.' },
] as const;

export interface ReviewsOptions {
  version: ReviewsVersion;
  /** Base URL of ratings, e.g. http://ratings:9080. */
  ratingsUrl: string;
  client: OutboundClient;
  /** Reported as `podname` (default reviews-<version>). */
  podName?: string;
  /** Reported as `clustername` (default "null"). */
  clusterName?: string;
  log: LogFn;
  /** Override the version's ratings timeout (tests). */
  ratingsTimeoutMs?: number;
}

export function createReviewsApp(options: ReviewsOptions): BookinfoApp {
  const ratings = RATINGS_BY_VERSION[options.version];
  const name = `reviews-${options.version}`;
  const podname = options.podName ?? name;
  const clustername = options.clusterName ?? 'null';

  /** Reviewer → stars, or undefined when ratings could not be had. */
  async function fetchRatings(productId: number, req: IncomingMessage, timeoutMs: number): Promise<Map<string, number> | undefined> {
    const url = new URL(`${options.ratingsUrl}/ratings/${productId}`);
    const result = await options.client.get(url, forwardHeaders(req.headers, BACKEND_FORWARDED), timeoutMs);
    if (result.kind !== 'response' || result.status !== 200) {
      options.log(`${name}: unable to contact ${url.href}: ${describeResult(result)}`);
      return undefined;
    }
    const doc = parseJson(result.body);
    const stars = new Map<string, number>();
    if (typeof doc === 'object' && doc !== null && 'ratings' in doc && typeof doc.ratings === 'object' && doc.ratings !== null) {
      for (const [reviewer, value] of Object.entries(doc.ratings)) if (Number.isInteger(value)) stars.set(reviewer, value as number);
    }
    return stars;
  }

  async function reviewsOf(productId: number, req: IncomingMessage): Promise<ReviewsDocument> {
    const stars = ratings ? await fetchRatings(productId, req, options.ratingsTimeoutMs ?? ratings.timeoutMs) : undefined;
    return {
      id: String(productId),
      podname,
      clustername,
      reviews: REVIEWS.map(({ reviewer, text }): Review => {
        if (!ratings) return { reviewer, text };
        const n = stars?.get(reviewer);
        return { reviewer, text, rating: n === undefined ? { error: RATINGS_UNAVAILABLE } : { stars: n, color: ratings.color } };
      }),
    };
  }

  return {
    name,
    async handle(req: IncomingMessage, res: ServerResponse, url: URL) {
      const path = url.pathname;
      const m = /^\/reviews\/([^/]+)$/.exec(path);
      if (path !== '/health' && !m) return notFound(res, url);
      if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, 'GET');
      if (path === '/health') return sendJson(res, 200, { status: 'Reviews is healthy' });
      // The sample binds the id to a Java int: anything else is not a route.
      const raw = m?.[1] ?? '';
      const id = Number(raw);
      if (!/^[+-]?\d+$/.test(raw) || !Number.isSafeInteger(id) || Math.abs(id) > 2 ** 31 - 1) return notFound(res, url);
      sendJson(res, 200, await reviewsOf(id, req));
    },
    close() {
      options.client.close();
    },
  };
}
