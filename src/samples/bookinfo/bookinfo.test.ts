// The six Bookinfo services started together on 127.0.0.1 (port 0), pointing at each other directly, and once more
// behind a small forward proxy standing in for the sidecar in explicit mode. Checks what a user of Istio's sample
// would see: stars by reviews version, sign-in and end-user, the failure messages, and trace-header forwarding.
import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { ServiceSpec } from './launch.ts';
import { backendUrl, startService } from './launch.ts';
import { DETAILS_UNAVAILABLE, REVIEWS_UNAVAILABLE } from './productpage/app.ts';
import { RATINGS_UNAVAILABLE } from './reviews.ts';
import type { RunningApp } from './shared/server.ts';
import { TRACE_HEADERS } from './shared/trace-headers.ts';

const NO_ENV: ServiceSpec['env'] = {
  httpProxy: undefined,
  noProxy: undefined,
  bookinfo: {
    servicesDomain: undefined, detailsHostname: undefined, detailsPort: undefined, reviewsHostname: undefined,
    reviewsPort: undefined, ratingsHostname: undefined, ratingsPort: undefined, serviceVersion: undefined,
    podName: undefined, clusterName: undefined,
  },
};

interface Started {
  app: RunningApp;
  /** host:port, for another service's backend flag. */
  addr: string;
  logs: string[];
  /** Resolves with the first log line (already written or still to come) that matches. */
  logLine(match: (line: string) => boolean): Promise<string>;
}

const running: RunningApp[] = [];

async function start(spec: Omit<ServiceSpec, 'env' | 'log'> & { env?: ServiceSpec['env'] }): Promise<Started> {
  const logs: string[] = [];
  const waiting: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  const log = (line: string): void => {
    logs.push(line);
    for (const w of waiting.filter((x) => x.match(line))) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve(line);
    }
  };
  const app = await startService({ port: 0, host: '127.0.0.1', env: NO_ENV, log, ...spec });
  running.push(app);
  const logLine = (match: (line: string) => boolean): Promise<string> => {
    const found = logs.find(match);
    return found !== undefined ? Promise.resolve(found) : new Promise((resolve) => waiting.push({ match, resolve }));
  };
  return { app, addr: `127.0.0.1:${app.port}`, logs, logLine };
}

after(async () => {
  await Promise.all(running.map((r) => r.stop(1000)));
});

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function call(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

/** A backend that accepts requests and never answers; `seen` counts them. */
async function blackHole(): Promise<{ addr: string; seen: IncomingMessage[]; close(): Promise<void> }> {
  const seen: IncomingMessage[] = [];
  const s = createServer((req) => seen.push(req));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    addr: `127.0.0.1:${(s.address() as AddressInfo).port}`,
    seen,
    close: () => {
      s.closeAllConnections();
      return new Promise((r) => s.close(() => r()));
    },
  };
}

const count = (text: string, needle: string): number => text.split(needle).length - 1;
const BLACK_STAR = '<span class="glyphicon glyphicon-star" style="color: black"';
const RED_STAR = '<span class="glyphicon glyphicon-star" style="color: red"';
const ANY_STAR = 'glyphicon-star';

describe('Bookinfo, services calling each other directly', () => {
  let details: Started;
  let ratings: Started;
  const reviews: Record<'v1' | 'v2' | 'v3', Started> = {} as Record<'v1' | 'v2' | 'v3', Started>;
  const productpage: Record<'v1' | 'v2' | 'v3', Started> = {} as Record<'v1' | 'v2' | 'v3', Started>;

  before(async () => {
    details = await start({ service: 'details' });
    ratings = await start({ service: 'ratings' });
    for (const v of ['v1', 'v2', 'v3'] as const) {
      reviews[v] = await start({ service: 'reviews', version: v, backends: { ratings: ratings.addr } });
      productpage[v] = await start({
        service: 'productpage',
        backends: { details: details.addr, reviews: reviews[v].addr, ratings: ratings.addr },
      });
    }
  });

  test('details, ratings and reviews serve the sample\'s JSON', async () => {
    const d = await call(`${details.app.url}/details/0`);
    assert.equal(d.status, 200);
    assert.equal(d.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(d.body), {
      id: 0, author: 'William Shakespeare', year: 1595, type: 'paperback', pages: 200, publisher: 'PublisherA',
      language: 'English', 'ISBN-10': '1234567890', 'ISBN-13': '123-1234567890',
    });
    assert.deepEqual(Object.keys(JSON.parse(d.body) as object), ['id', 'author', 'year', 'type', 'pages', 'publisher', 'language', 'ISBN-10', 'ISBN-13']);

    const r = await call(`${ratings.app.url}/ratings/0`);
    assert.deepEqual(JSON.parse(r.body), { id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } });

    const v1 = JSON.parse((await call(`${reviews.v1.app.url}/reviews/0`)).body) as { id: string; podname: string; clustername: string; reviews: object[] };
    assert.equal(v1.id, '0');
    assert.equal(v1.podname, 'reviews-v1');
    assert.equal(v1.clustername, 'null');
    assert.deepEqual(v1.reviews.map((x) => Object.keys(x)), [['reviewer', 'text'], ['reviewer', 'text']]);

    const v2 = JSON.parse((await call(`${reviews.v2.app.url}/reviews/0`)).body) as { reviews: { reviewer: string; rating: unknown }[] };
    assert.deepEqual(v2.reviews.map((x) => [x.reviewer, x.rating]), [['Reviewer1', { stars: 5, color: 'black' }], ['Reviewer2', { stars: 4, color: 'black' }]]);
    const v3 = JSON.parse((await call(`${reviews.v3.app.url}/reviews/0`)).body) as { reviews: { rating: unknown }[] };
    assert.deepEqual(v3.reviews.map((x) => x.rating), [{ stars: 5, color: 'red' }, { stars: 4, color: 'red' }]);
  });

  test('health endpoints and bad ids answer as the sample does', async () => {
    assert.deepEqual(JSON.parse((await call(`${details.app.url}/health`)).body), { status: 'Details is healthy' });
    assert.deepEqual(JSON.parse((await call(`${ratings.app.url}/health`)).body), { status: 'Ratings is healthy' });
    assert.deepEqual(JSON.parse((await call(`${reviews.v2.app.url}/health`)).body), { status: 'Reviews is healthy' });
    assert.equal((await call(`${productpage.v1.app.url}/health`)).body, 'Product page is healthy');

    const d = await call(`${details.app.url}/details/abc`);
    assert.equal(d.status, 400);
    assert.deepEqual(JSON.parse(d.body), { error: 'please provide numeric product id' });
    const r = await call(`${ratings.app.url}/ratings/abc`);
    assert.equal(r.status, 400);
    assert.deepEqual(JSON.parse(r.body), { error: 'please provide numeric product ID' });
    assert.equal((await call(`${reviews.v1.app.url}/reviews/abc`)).status, 404);
    assert.equal((await call(`${productpage.v1.app.url}/nowhere`)).status, 404);
    assert.equal((await call(`${productpage.v1.app.url}/login`)).status, 405);
    assert.equal((await call(`${details.app.url}/details/0`, { method: 'DELETE' })).status, 405);
  });

  test('ratings v1 keeps POSTed ratings in memory', async () => {
    const posted = await call(`${ratings.app.url}/ratings/7`, { method: 'POST', body: JSON.stringify({ Reviewer1: 1, Reviewer2: 2 }) });
    assert.equal(posted.status, 200);
    assert.deepEqual(JSON.parse(posted.body), { id: 7, ratings: { Reviewer1: 1, Reviewer2: 2 } });
    assert.deepEqual(JSON.parse((await call(`${ratings.app.url}/ratings/7`)).body), { id: 7, ratings: { Reviewer1: 1, Reviewer2: 2 } });
    assert.equal((await call(`${ratings.app.url}/ratings/7`, { method: 'POST', body: 'not json' })).status, 400);
  });

  test('reviews v1 → no stars; v2 → black stars; v3 → red stars', async () => {
    const p1 = (await call(`${productpage.v1.app.url}/productpage`)).body;
    assert.match(p1, /The Comedy of Errors/);
    assert.match(p1, /Book Details/);
    assert.match(p1, /PublisherA/);
    assert.match(p1, /An extremely entertaining play by Shakespeare/);
    assert.match(p1, /Reviewer2/);
    assert.equal(count(p1, ANY_STAR), 0);
    assert.match(p1, /Reviews served by: <u id="podname">reviews-v1<\/u>/);

    const p2 = (await call(`${productpage.v2.app.url}/productpage`)).body;
    assert.equal(count(p2, BLACK_STAR), 9); // 5 + 4 full stars
    assert.equal(count(p2, 'glyphicon-star-empty'), 1);
    assert.equal(count(p2, 'color: red'), 0);

    const p3 = (await call(`${productpage.v3.app.url}/productpage`)).body;
    assert.equal(count(p3, RED_STAR), 9);
    assert.equal(count(p3, 'color: black'), 0);
  });

  test('a signed-in user sees their name and productpage sends end-user to reviews, which passes it to ratings', async () => {
    const pp = productpage.v2;
    const login = await call(`${pp.app.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', referer: `${pp.app.url}/productpage` },
      body: 'username=jason&passwd=secret',
    });
    assert.equal(login.status, 302);
    assert.equal(login.headers.location, `${pp.app.url}/productpage`);
    const setCookie = login.headers['set-cookie']?.[0] ?? '';
    assert.match(setCookie, /^session=/);
    const cookie = setCookie.split(';')[0] ?? '';

    const rid = 'signed-in-request-1';
    const page = (await call(`${pp.app.url}/productpage`, { headers: { cookie, 'x-request-id': rid } })).body;
    assert.match(page, /Signed in as <b id="user">jason<\/b>/);
    // The access-log line of each backend shows the header it received (written when its response ends).
    assert.match(await reviews.v2.logLine((l) => l.includes(`x-request-id=${rid}`)), / end-user=jason$/);
    assert.match(await ratings.logLine((l) => l.includes(`x-request-id=${rid}`)), / end-user=jason$/);

    // A client cannot sign itself in by sending end-user: productpage sets it only from its session.
    const rid2 = 'anonymous-request-1';
    const anon = (await call(`${pp.app.url}/productpage`, { headers: { 'end-user': 'jason', 'x-request-id': rid2 } })).body;
    assert.doesNotMatch(anon, /Signed in as/);
    assert.doesNotMatch(await reviews.v2.logLine((l) => l.includes(`x-request-id=${rid2}`)), /end-user=/);

    const logout = await call(`${pp.app.url}/logout`, { headers: { cookie } });
    assert.equal(logout.status, 302);
    assert.equal(logout.headers.location, '/productpage');
    assert.match(logout.headers['set-cookie']?.[0] ?? '', /^session=;.*Max-Age=0/);
  });

  test('a user name is shown as text, never as markup', async () => {
    const pp = productpage.v1;
    const login = await call(`${pp.app.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `username=${encodeURIComponent('<script>alert(1)</script>')}`,
    });
    const cookie = (login.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '';
    const page = (await call(`${pp.app.url}/productpage`, { headers: { cookie } })).body;
    assert.ok(page.includes('Signed in as <b id="user">&lt;script&gt;alert(1)&lt;/script&gt;</b>'));
    assert.ok(!page.includes('<script>'));

    // A name outside ASCII travels to the backends as its UTF-8 bytes and the page still renders in full.
    const v2 = productpage.v2;
    const login2 = await call(`${v2.app.url}/login`, { method: 'POST', body: `username=${encodeURIComponent('łukasz\r\nx-evil: 1')}` });
    const cookie2 = (login2.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '';
    const page2 = (await call(`${v2.app.url}/productpage`, { headers: { cookie: cookie2, 'x-request-id': 'utf8-user' } })).body;
    assert.ok(page2.includes('Signed in as <b id="user">łukaszx-evil: 1</b>'));
    assert.equal(count(page2, BLACK_STAR), 9);
    const line = await reviews.v2.logLine((l) => l.includes('x-request-id=utf8-user'));
    assert.equal(Buffer.from(/end-user=(.*)$/.exec(line)?.[1] ?? '', 'latin1').toString('utf8'), 'łukaszx-evil: 1');
  });

  test('the JSON API: products, details, reviews and ratings of a product', async () => {
    const url = productpage.v3.app.url;
    const products = JSON.parse((await call(`${url}/api/v1/products`)).body) as { id: number; title: string }[];
    assert.deepEqual(products.map((p) => [p.id, p.title]), [[0, 'The Comedy of Errors']]);
    assert.equal((JSON.parse((await call(`${url}/api/v1/products/0`)).body) as { 'ISBN-13': string })['ISBN-13'], '123-1234567890');
    assert.equal((JSON.parse((await call(`${url}/api/v1/products/0/reviews`)).body) as { podname: string }).podname, 'reviews-v3');
    assert.deepEqual(JSON.parse((await call(`${url}/api/v1/products/0/ratings`)).body), { id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } });
    const bad = await call(`${url}/api/v1/products/x`);
    assert.equal(bad.status, 400);
    assert.deepEqual(JSON.parse(bad.body), { error: DETAILS_UNAVAILABLE });
  });

  test('the index page lists the services and links the product page', async () => {
    const index = await call(`${productpage.v1.app.url}/`);
    assert.equal(index.status, 200);
    assert.match(index.body, /href="\/productpage\?u=normal"/);
    assert.ok(index.body.includes(`http://${reviews.v1.addr}`));
  });

  test('productpage counts backend results in /metrics', async () => {
    const m = (await call(`${productpage.v1.app.url}/metrics`)).body;
    assert.match(m, /^# TYPE request_result_total counter$/m);
    assert.match(m, /^request_result_total\{destination_app="reviews",response_code="200"\} [1-9]\d*$/m);
    assert.match(m, /^request_result_created\{destination_app="details",response_code="200"\} \d+(\.\d+)?$/m);
  });
});

describe('Bookinfo when backends fail', () => {
  test('ratings down: reviews v2 and v3 carry "Ratings service is currently unavailable", no stars', async () => {
    const details = await start({ service: 'details' });
    const down = `127.0.0.1:${await closedPort()}`;
    for (const v of ['v2', 'v3'] as const) {
      const reviews = await start({ service: 'reviews', version: v, backends: { ratings: down } });
      const doc = JSON.parse((await call(`${reviews.app.url}/reviews/0`)).body) as { reviews: { rating: unknown }[] };
      assert.deepEqual(doc.reviews.map((r) => r.rating), [{ error: RATINGS_UNAVAILABLE }, { error: RATINGS_UNAVAILABLE }]);
      const pp = await start({ service: 'productpage', backends: { details: details.addr, reviews: reviews.addr, ratings: down } });
      const page = (await call(`${pp.app.url}/productpage`)).body;
      assert.equal(count(page, RATINGS_UNAVAILABLE), 2);
      assert.equal(count(page, ANY_STAR), 0);
      assert.match(page, /Book Reviews/);
      const api = await call(`${pp.app.url}/api/v1/products/0/ratings`);
      assert.equal(api.status, 500);
      assert.deepEqual(JSON.parse(api.body), { error: 'Sorry, product ratings are currently unavailable for this book.' });
    }
  });

  test('ratings answering an error status (a fault-injected 500) is ratings unavailable too', async () => {
    const failing = createServer((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('fault filter abort');
    });
    await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
    try {
      const reviews = await start({ service: 'reviews', version: 'v2', backends: { ratings: `127.0.0.1:${(failing.address() as AddressInfo).port}` } });
      const doc = JSON.parse((await call(`${reviews.app.url}/reviews/0`)).body) as { reviews: { rating: unknown }[] };
      assert.deepEqual(doc.reviews.map((r) => r.rating), [{ error: RATINGS_UNAVAILABLE }, { error: RATINGS_UNAVAILABLE }]);
    } finally {
      failing.close();
    }
  });

  test('ratings too slow: reviews gives up at its deadline and reports ratings unavailable', async () => {
    const hole = await blackHole();
    try {
      const { createReviewsApp } = await import('./reviews.ts');
      const { OutboundClient } = await import('./shared/http-client.ts');
      const { NoProxy } = await import('./shared/proxy-env.ts');
      const { serveApp } = await import('./shared/server.ts');
      const logs: string[] = [];
      const app = await serveApp(
        createReviewsApp({
          version: 'v3', ratingsUrl: `http://${hole.addr}`, log: (l) => logs.push(l), ratingsTimeoutMs: 200,
          client: new OutboundClient({ proxy: undefined, noProxy: new NoProxy(undefined) }),
        }),
        { port: 0, host: '127.0.0.1', log: (l) => logs.push(l) },
      );
      running.push(app);
      const doc = JSON.parse((await call(`${app.url}/reviews/0`)).body) as { reviews: { rating: unknown }[] };
      assert.deepEqual(doc.reviews.map((r) => r.rating), [{ error: RATINGS_UNAVAILABLE }, { error: RATINGS_UNAVAILABLE }]);
      assert.ok(logs.some((l) => l.includes('no response within 200 ms')), logs.join('\n'));
    } finally {
      await hole.close();
    }
  });

  test('reviews down: the page shows the reviews-unavailable message and still shows details', async () => {
    const details = await start({ service: 'details' });
    const down = `127.0.0.1:${await closedPort()}`;
    const pp = await start({ service: 'productpage', backends: { details: details.addr, reviews: down, ratings: down } });
    const page = await call(`${pp.app.url}/productpage`);
    assert.equal(page.status, 200);
    assert.match(page.body, /Error fetching product reviews!/);
    assert.ok(page.body.includes(REVIEWS_UNAVAILABLE));
    assert.match(page.body, /Book Details/);
    const api = await call(`${pp.app.url}/api/v1/products/0/reviews`);
    assert.equal(api.status, 500);
    assert.deepEqual(JSON.parse(api.body), { error: REVIEWS_UNAVAILABLE });
  });

  test('reviews hanging: productpage tries twice with a deadline each, then shows the message', async () => {
    const details = await start({ service: 'details' });
    const hole = await blackHole();
    try {
      const pp = await start({ service: 'productpage', timeoutMs: 200, backends: { details: details.addr, reviews: hole.addr, ratings: hole.addr } });
      const page = (await call(`${pp.app.url}/productpage`)).body;
      assert.ok(page.includes(REVIEWS_UNAVAILABLE));
      // The sample's deliberate retry: two attempts, each abandoned at the deadline.
      assert.deepEqual(pp.logs.filter((l) => l.includes('reviews attempt')).map((l) => l.replace(/^.*(attempt \d\/\d).*?: (.*)$/, '$1 $2')), [
        'attempt 1/2 no response within 200 ms',
        'attempt 2/2 no response within 200 ms',
      ]);
    } finally {
      await hole.close();
    }
  });

  test('ratings slower than productpage waits (test-delay with reviews v2): the reviews-unavailable message', async () => {
    const details = await start({ service: 'details' });
    const hole = await blackHole();
    try {
      const reviews = await start({ service: 'reviews', version: 'v2', backends: { ratings: hole.addr } }); // waits 10 s
      const pp = await start({ service: 'productpage', timeoutMs: 200, backends: { details: details.addr, reviews: reviews.addr, ratings: hole.addr } });
      const page = (await call(`${pp.app.url}/productpage`)).body;
      assert.ok(page.includes(REVIEWS_UNAVAILABLE));
      assert.equal(count(page, RATINGS_UNAVAILABLE), 0);
    } finally {
      await hole.close();
    }
  });

  test('details failing with a status (fault injection 555): the details-unavailable message, status passed to the API', async () => {
    const failing = createServer((_req, res) => {
      res.writeHead(555);
      res.end('fault filter abort');
    });
    await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
    try {
      const addr = `127.0.0.1:${(failing.address() as AddressInfo).port}`;
      const reviews = await start({ service: 'reviews', version: 'v1' });
      const pp = await start({ service: 'productpage', backends: { details: addr, reviews: reviews.addr, ratings: addr } });
      const page = (await call(`${pp.app.url}/productpage`)).body;
      assert.match(page, /Error fetching product details!/);
      assert.ok(page.includes(DETAILS_UNAVAILABLE));
      assert.match(page, /Book Reviews/);
      const api = await call(`${pp.app.url}/api/v1/products/0`);
      assert.equal(api.status, 555);
      assert.deepEqual(JSON.parse(api.body), { error: DETAILS_UNAVAILABLE });
    } finally {
      failing.close();
    }
  });
});

interface Seen {
  requestTarget: string;
  host: string | undefined;
  headers: IncomingHttpHeaders;
}

/**
 * A forward proxy standing in for the sidecar in explicit mode: it accepts only absolute-URI requests, records them,
 * and routes by Host to the right 127.0.0.1 port; `reviews` goes to v2 for end-user jason and to v3 otherwise
 * (virtual-service-reviews-jason-v2-v3.yaml in miniature).
 */
async function forwardProxy(route: (host: string, headers: IncomingHttpHeaders) => string | undefined): Promise<{ url: string; seen: Seen[]; server: Server }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const target = req.url ?? '';
    if (!/^http:\/\//.test(target)) {
      res.writeHead(400).end('explicit proxy: absolute URI required');
      return;
    }
    const url = new URL(target);
    seen.push({ requestTarget: target, host: req.headers.host, headers: req.headers });
    const to = route(url.host, req.headers);
    if (to === undefined) {
      res.writeHead(503).end('no route');
      return;
    }
    const up = request(`http://${to}${url.pathname}${url.search}`, { method: req.method, headers: req.headers, agent: false }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  running.push({ server, port: 0, url: '', stop: () => new Promise((r) => server.close(() => r())) });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

describe('Bookinfo in explicit-proxy mode (HTTP_PROXY set, as weft run does)', () => {
  test('every outbound call goes to the proxy with an absolute URI, Host set, and the trace headers forwarded', async () => {
    const addrs: Record<string, string> = {};
    const proxy = await forwardProxy((host, headers) => {
      if (host === 'reviews:9080') return headers['end-user'] === 'jason' ? addrs['reviews-v2'] : addrs['reviews-v3'];
      return addrs[host];
    });
    const env: ServiceSpec['env'] = { ...NO_ENV, httpProxy: proxy.url, noProxy: 'localhost,127.0.0.1' };
    addrs['details:9080'] = (await start({ service: 'details', env })).addr;
    addrs['ratings:9080'] = (await start({ service: 'ratings', env })).addr;
    addrs['reviews-v2'] = (await start({ service: 'reviews', version: 'v2', env })).addr;
    addrs['reviews-v3'] = (await start({ service: 'reviews', version: 'v3', env })).addr;
    const pp = await start({ service: 'productpage', env });

    const trace: Record<string, string> = {};
    for (const h of TRACE_HEADERS) trace[h] = h === 'traceparent' ? '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' : `value-of-${h}`;
    const anonymous = (await call(`${pp.app.url}/productpage`, { headers: { ...trace, 'user-agent': 'bookinfo-test/1' } })).body;
    assert.equal(count(anonymous, RED_STAR), 9);

    assert.deepEqual(proxy.seen.map((s) => [s.requestTarget, s.host]), [
      ['http://details:9080/details/0', 'details:9080'],
      ['http://reviews:9080/reviews/0', 'reviews:9080'],
      ['http://ratings:9080/ratings/0', 'ratings:9080'],
    ]);
    for (const s of proxy.seen) {
      for (const [h, v] of Object.entries(trace)) assert.equal(s.headers[h], v, `${h} on ${s.requestTarget}`);
      assert.equal(s.headers['user-agent'], 'bookinfo-test/1');
      assert.equal(s.headers['end-user'], undefined);
    }

    // Signed in as jason, the proxy routes reviews to v2: black stars, and end-user reaches reviews and ratings.
    const login = await call(`${pp.app.url}/login`, { method: 'POST', body: 'username=jason', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    const cookie = (login.headers['set-cookie']?.[0] ?? '').split(';')[0] ?? '';
    proxy.seen.length = 0;
    const jason = (await call(`${pp.app.url}/productpage`, { headers: { cookie, 'x-request-id': 'jason-1' } })).body;
    assert.equal(count(jason, BLACK_STAR), 9);
    assert.match(jason, /Signed in as <b id="user">jason<\/b>/);
    assert.deepEqual(proxy.seen.map((s) => [s.requestTarget, s.headers['end-user'], s.headers['x-request-id']]), [
      ['http://details:9080/details/0', 'jason', 'jason-1'],
      ['http://reviews:9080/reviews/0', 'jason', 'jason-1'],
      ['http://ratings:9080/ratings/0', 'jason', 'jason-1'],
    ]);
  });

  test('hosts in NO_PROXY are reached directly; SERVICES_DOMAIN qualifies the names sent to the proxy', async () => {
    const proxy = await forwardProxy(() => undefined);
    const ratings = await start({ service: 'ratings' });
    const direct = await start({ service: 'reviews', version: 'v2', env: { ...NO_ENV, httpProxy: proxy.url, noProxy: '127.0.0.1' }, backends: { ratings: ratings.addr } });
    const doc = JSON.parse((await call(`${direct.app.url}/reviews/0`)).body) as { reviews: { rating: unknown }[] };
    assert.deepEqual(doc.reviews[0]?.rating, { stars: 5, color: 'black' });
    assert.equal(proxy.seen.length, 0);

    const domain = { ...NO_ENV.bookinfo, servicesDomain: 'default.svc.cluster.local' };
    const qualified = await start({ service: 'reviews', version: 'v3', env: { ...NO_ENV, httpProxy: proxy.url, noProxy: 'localhost', bookinfo: domain } });
    const viaProxy = JSON.parse((await call(`${qualified.app.url}/reviews/0`)).body) as { reviews: { rating: unknown }[] };
    assert.deepEqual(viaProxy.reviews[0]?.rating, { error: RATINGS_UNAVAILABLE }); // the proxy has no route: 503
    assert.deepEqual(proxy.seen.map((s) => [s.requestTarget, s.host]), [['http://ratings.default.svc.cluster.local:9080/ratings/0', 'ratings.default.svc.cluster.local:9080']]);
  });
});

describe('details v2, the sample\'s egress client', () => {
  test('asks the Google Books API through the proxy (http://www.googleapis.com/…) and maps the volume', async () => {
    const volume = {
      items: [{ volumeInfo: {
        authors: ['William Shakespeare'], publishedDate: '2002-02-04', printType: 'BOOK', pageCount: 80, publisher: 'Courier Corporation',
        language: 'en', industryIdentifiers: [{ type: 'ISBN_13', identifier: '9780486424613' }, { type: 'ISBN_10', identifier: '0486424618' }],
      } }],
    };
    const books = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(volume));
    });
    await new Promise<void>((r) => books.listen(0, '127.0.0.1', r));
    running.push({ server: books, port: 0, url: '', stop: () => new Promise((r) => books.close(() => r())) });
    const booksAddr = `127.0.0.1:${(books.address() as AddressInfo).port}`;
    const proxy = await forwardProxy((host) => (host === 'www.googleapis.com' ? booksAddr : undefined));
    const details = await start({ service: 'details', version: 'v2', env: { ...NO_ENV, httpProxy: proxy.url } });
    const d = await call(`${details.app.url}/details/0`, { headers: { 'x-request-id': 'egress-1' } });
    assert.equal(d.status, 200);
    assert.deepEqual(JSON.parse(d.body), {
      id: 0, author: 'William Shakespeare', year: '2002-02-04', type: 'paperback', pages: 80, publisher: 'Courier Corporation',
      language: 'English', 'ISBN-10': '0486424618', 'ISBN-13': '9780486424613',
    });
    assert.deepEqual(proxy.seen.map((x) => [x.requestTarget, x.headers['x-request-id']]), [['http://www.googleapis.com/books/v1/volumes?q=isbn:0486424618', 'egress-1']]);

    // No route to the outside (REGISTRY_ONLY, say): a 400 with the reason, as the sample's rescue does.
    const blocked = await start({ service: 'details', version: 'v2', env: { ...NO_ENV, httpProxy: (await forwardProxy(() => undefined)).url } });
    const b = await call(`${blocked.app.url}/details/0`);
    assert.equal(b.status, 400);
    assert.match((JSON.parse(b.body) as { error: string }).error, /status 503/);
  });
});

test('backend addresses follow the sample\'s variables, and flags override them', () => {
  const env = NO_ENV.bookinfo;
  assert.equal(backendUrl('details', env), 'http://details:9080');
  assert.equal(backendUrl('reviews', { ...env, reviewsHostname: '127.0.0.1', reviewsPort: '19083' }), 'http://127.0.0.1:19083');
  assert.equal(backendUrl('ratings', { ...env, servicesDomain: 'bookinfo.svc.cluster.local' }), 'http://ratings.bookinfo.svc.cluster.local:9080');
  assert.equal(backendUrl('ratings', env, '127.0.0.1:1234'), 'http://127.0.0.1:1234');
  assert.equal(backendUrl('ratings', env, 'http://[::1]:1234'), 'http://[::1]:1234');
  assert.throws(() => backendUrl('ratings', env, 'https://x:1'), /only http/);
});
