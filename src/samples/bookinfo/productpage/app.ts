// productpage: Bookinfo's front end. It renders /productpage from details and reviews, signs users in with a
// cookie (and then sends `end-user: <name>` to its backends, which Istio's routing samples match on), and serves
// the same data as JSON under /api/v1/products. Timeouts and the one retry of reviews follow Istio's sample.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OutboundClient } from '../shared/http-client.ts';
import { describeResult, parseJson } from '../shared/http-client.ts';
import type { BookinfoApp, LogFn } from '../shared/server.ts';
import { methodNotAllowed, notFound, readBody, send, sendJson } from '../shared/server.ts';
import { FRONTEND_FORWARDED, forwardHeaders } from '../shared/trace-headers.ts';
import type { DetailsView, Product, ReviewView, ReviewsView, RatingView } from './page.ts';
import { METRICS_CONTENT_TYPE, RequestResults } from './metrics.ts';
import { renderIndex, renderProductPage } from './page.ts';
import { SessionCodec } from './session.ts';

export const DETAILS_UNAVAILABLE = 'Sorry, product details are currently unavailable for this book.';
export const REVIEWS_UNAVAILABLE = 'Sorry, product reviews are currently unavailable for this book.';
export const RATINGS_UNAVAILABLE_PRODUCT = 'Sorry, product ratings are currently unavailable for this book.';

/** Per-attempt deadline of every backend call, and how many times reviews is tried (the sample's 3 s and 2). */
export const BACKEND_TIMEOUT_MS = 3_000;
export const REVIEWS_ATTEMPTS = 2;

const PRODUCTS: readonly Product[] = [
  {
    id: 0,
    title: 'The Comedy of Errors',
    descriptionHtml:
      '<a href="https://en.wikipedia.org/wiki/The_Comedy_of_Errors">Wikipedia Summary</a>: The Comedy of Errors is one of <b>William Shakespeare\'s</b> early plays. It is his shortest and one of his most farcical comedies, with a major part of the humour coming from slapstick and mistaken identity, in addition to puns and word play.',
  },
];

export interface ProductpageOptions {
  /** Base URLs of the backends, e.g. http://details:9080. */
  detailsUrl: string;
  reviewsUrl: string;
  ratingsUrl: string;
  client: OutboundClient;
  log: LogFn;
  /** Secret that signs session cookies (default: random per process). */
  sessionSecret?: Buffer;
  /** Per-attempt backend deadline (default BACKEND_TIMEOUT_MS; tests shorten it). */
  timeoutMs?: number;
}

type Backend = 'details' | 'reviews' | 'ratings';
type Fetched = { status: number; body: unknown };

export function createProductpageApp(options: ProductpageOptions): BookinfoApp {
  const sessions = new SessionCodec(options.sessionSecret);
  const timeoutMs = options.timeoutMs ?? BACKEND_TIMEOUT_MS;
  const results = new RequestResults();
  const base: Record<Backend, string> = { details: options.detailsUrl, reviews: options.reviewsUrl, ratings: options.ratingsUrl };
  const unavailable: Record<Backend, string> = { details: DETAILS_UNAVAILABLE, reviews: REVIEWS_UNAVAILABLE, ratings: RATINGS_UNAVAILABLE_PRODUCT };

  /** Headers for backend calls: the trace and context headers of `req`, plus end-user when someone is signed in. */
  function outboundHeaders(req: IncomingMessage): Record<string, string> {
    const headers = forwardHeaders(req.headers, FRONTEND_FORWARDED);
    const user = sessions.user(req.headers.cookie);
    // Header values travel as bytes: send the name's UTF-8 bytes (node:http writes strings as latin1).
    if (user !== undefined) headers['end-user'] = Buffer.from(user, 'utf8').toString('latin1');
    return headers;
  }

  /** GET <backend>/<backend>/<id>; on failure the status to report (500 without a response) and the sample's message. */
  async function call(backend: Backend, productId: string, headers: Record<string, string>): Promise<Fetched> {
    const url = new URL(`${base[backend]}/${backend}/${encodeURIComponent(productId)}`);
    const attempts = backend === 'reviews' ? REVIEWS_ATTEMPTS : 1;
    let status = 500;
    for (let i = 0; i < attempts; i++) {
      const r = await options.client.get(url, headers, timeoutMs);
      if (r.kind === 'response' && r.status === 200) {
        const body = parseJson(r.body);
        if (body !== undefined) {
          results.inc(backend, 200);
          return { status: 200, body };
        }
      }
      options.log(`productpage: ${backend} attempt ${i + 1}/${attempts} failed: ${describeResult(r)}`);
      status = r.kind === 'response' && r.status !== 200 ? r.status : 500;
    }
    results.inc(backend, status);
    return { status, body: { error: unavailable[backend] } };
  }

  async function productPage(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const product = PRODUCTS[0] as Product;
    const headers = outboundHeaders(req);
    // Sequential, as the sample: details first, then reviews (with its retry).
    const details = await call('details', String(product.id), headers);
    const reviews = await call('reviews', String(product.id), headers);
    const html = renderProductPage({
      product,
      user: sessions.user(req.headers.cookie),
      details: detailsView(details),
      reviews: reviewsView(reviews),
    });
    send(res, 200, 'text/html; charset=utf-8', html);
  }

  async function login(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const body = await readBody(req, 16 * 1024);
    if (body === undefined) return sendJson(res, 413, { error: 'login form larger than 16 KiB' });
    const form = new URLSearchParams(body);
    // Control characters could not travel in the end-user header; a name is printable text.
    const user = (form.get('username') ?? url.searchParams.get('username') ?? '').replace(/[\u0000-\u001f\u007f]/g, '').trim();
    res.setHeader('set-cookie', user === '' ? sessions.signOut() : sessions.signIn(user));
    redirectBack(req, res);
  }

  const tree = {
    name: 'productpage',
    url: 'this page',
    children: [
      { name: 'details', url: options.detailsUrl, children: [] },
      { name: 'reviews', url: options.reviewsUrl, children: [{ name: 'ratings', url: options.ratingsUrl, children: [] }] },
    ],
  };

  return {
    name: 'productpage',
    async handle(req: IncomingMessage, res: ServerResponse, url: URL) {
      const path = url.pathname;
      const get = req.method === 'GET' || req.method === 'HEAD';
      if (path === '/login') return req.method === 'POST' ? login(req, res, url) : methodNotAllowed(res, 'POST');
      const api = /^\/api\/v1\/products(?:\/([^/]+)(?:\/(reviews|ratings))?)?$/.exec(path);
      const known = api !== null || ['/', '/index.html', '/health', '/logout', '/productpage', '/metrics'].includes(path);
      if (!known) return notFound(res, url);
      if (!get) return methodNotAllowed(res, 'GET');
      if (api) {
        const [, id, sub] = api;
        if (id === undefined) return sendJson(res, 200, PRODUCTS);
        const backend: Backend = sub === 'reviews' ? 'reviews' : sub === 'ratings' ? 'ratings' : 'details';
        let productId: string;
        try {
          productId = decodeURIComponent(id);
        } catch {
          return sendJson(res, 400, { error: 'malformed product id' });
        }
        const r = await call(backend, productId, outboundHeaders(req));
        return sendJson(res, r.status, r.body);
      }
      switch (path) {
        case '/':
        case '/index.html':
          return send(res, 200, 'text/html; charset=utf-8', renderIndex(tree));
        case '/health':
          return send(res, 200, 'text/html; charset=utf-8', 'Product page is healthy');
        case '/logout':
          res.setHeader('set-cookie', sessions.signOut());
          return redirectBack(req, res);
        case '/productpage':
          return productPage(req, res);
        case '/metrics':
          return send(res, 200, METRICS_CONTENT_TYPE, results.render());
      }
    },
    close() {
      options.client.close();
    },
  };
}

/** Back to the page the form was on (the sample redirects to the Referer), else to the product page. */
function redirectBack(req: IncomingMessage, res: ServerResponse): void {
  const referer = req.headers.referer;
  res.writeHead(302, { location: referer !== undefined && referer !== '' ? referer : '/productpage', 'content-length': 0 });
  res.end();
}

function detailsView(r: Fetched): DetailsView {
  if (r.status === 200 && typeof r.body === 'object' && r.body !== null) return { ok: true, details: r.body };
  return { ok: false, error: errorText(r.body, DETAILS_UNAVAILABLE) };
}

function reviewsView(r: Fetched): ReviewsView {
  const doc = r.body;
  if (r.status !== 200 || typeof doc !== 'object' || doc === null || !('reviews' in doc) || !Array.isArray(doc.reviews)) {
    return { ok: false, error: errorText(doc, REVIEWS_UNAVAILABLE) };
  }
  const reviews: ReviewView[] = doc.reviews.flatMap((item: unknown) => {
    if (typeof item !== 'object' || item === null) return [];
    const o = item as Record<string, unknown>;
    return [{ reviewer: String(o['reviewer'] ?? ''), text: String(o['text'] ?? ''), rating: ratingOf(o['rating']) }];
  });
  const o = doc as Record<string, unknown>;
  return { ok: true, reviews, podname: String(o['podname'] ?? ''), clustername: String(o['clustername'] ?? 'null') };
}

function ratingOf(raw: unknown): RatingView {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const o = raw as Record<string, unknown>;
  if (typeof o['stars'] === 'number') return { stars: o['stars'], color: String(o['color'] ?? 'black') };
  if (typeof o['error'] === 'string') return { error: o['error'] };
  return undefined;
}

function errorText(body: unknown, fallback: string): string {
  if (typeof body === 'object' && body !== null && 'error' in body && typeof body.error === 'string') return body.error;
  return fallback;
}
