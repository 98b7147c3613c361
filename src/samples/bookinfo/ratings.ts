// ratings: the stars each reviewer gave, as JSON at /ratings/<id>, as Istio's Node.js ratings service serves them.
// Versions v1 (in memory) and the sample's failure-demo variants (v-faulty, v-delayed, v-unavailable, v-unhealthy);
// the database-backed v2 is not provided.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BookinfoApp } from './shared/server.ts';
import { methodNotAllowed, notFound, readBody, sendJson } from './shared/server.ts';

export const RATINGS_VERSIONS = ['v1', 'v-faulty', 'v-delayed', 'v-unavailable', 'v-unhealthy'] as const;
export type RatingsVersion = (typeof RATINGS_VERSIONS)[number];

export interface RatingsDocument {
  id: number;
  ratings: Record<string, unknown>;
}

export interface RatingsOptions {
  version: RatingsVersion;
  /** Random source in [0, 1) for v-faulty and v-delayed (default Math.random). */
  random?: () => number;
  /** Delay of v-delayed's slow half (default 7000 ms, as the sample). */
  delayMs?: number;
  /** Period of v-unavailable's on/off switch (default 60 s) and v-unhealthy's (default 15 min). */
  flipMs?: number;
}

export function createRatingsApp(options: RatingsOptions): BookinfoApp {
  const random = options.random ?? Math.random;
  const delayMs = options.delayMs ?? 7000;
  const added = new Map<number, RatingsDocument>(); // POSTed ratings replace the defaults (v1 keeps them in memory)
  const pending = new Set<NodeJS.Timeout>();
  let unavailable = false;
  let healthy = true;
  let flipper: NodeJS.Timeout | undefined;
  if (options.version === 'v-unavailable' || options.version === 'v-unhealthy') {
    const unhealthy = options.version === 'v-unhealthy';
    flipper = setInterval(() => {
      unavailable = !unavailable;
      if (unhealthy) healthy = !healthy;
    }, options.flipMs ?? (unhealthy ? 900_000 : 60_000));
    flipper.unref();
  }

  const ratingsOf = (id: number): RatingsDocument => added.get(id) ?? { id, ratings: { Reviewer1: 5, Reviewer2: 4 } };

  const getRatings = (res: ServerResponse, id: number): void => {
    const ok = (): void => sendJson(res, 200, ratingsOf(id));
    const down = (): void => sendJson(res, 503, { error: 'Service unavailable' });
    switch (options.version) {
      case 'v1':
        return ok();
      case 'v-faulty':
        return random() <= 0.5 ? down() : ok();
      case 'v-delayed': {
        if (random() > 0.5) return ok();
        const t = setTimeout(() => {
          pending.delete(t);
          if (!res.destroyed) ok();
        }, delayMs);
        pending.add(t);
        return;
      }
      case 'v-unavailable':
      case 'v-unhealthy':
        return unavailable ? down() : ok();
    }
  };

  return {
    name: `ratings-${options.version}`,
    async handle(req: IncomingMessage, res: ServerResponse, url: URL) {
      const path = url.pathname;
      if (path === '/health') {
        if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, 'GET');
        return healthy ? sendJson(res, 200, { status: 'Ratings is healthy' }) : sendJson(res, 500, { status: 'Ratings is not healthy' });
      }
      const m = /^\/ratings\/(.*)$/.exec(path);
      if (!m) return notFound(res, url);
      // JavaScript's parseInt on the last segment, as the sample: leading digits count, anything else is a 400.
      const id = Number.parseInt(path.split('/').at(-1) ?? '', 10);
      if (req.method === 'POST') {
        if (Number.isNaN(id)) return sendJson(res, 400, { error: 'please provide numeric product ID' });
        const body = await readBody(req, 64 * 1024);
        let ratings: unknown;
        try {
          ratings = JSON.parse(body ?? '') as unknown;
        } catch {
          return sendJson(res, 400, { error: 'please provide valid ratings JSON' });
        }
        if (typeof ratings !== 'object' || ratings === null || Array.isArray(ratings)) {
          return sendJson(res, 400, { error: 'please provide valid ratings JSON' });
        }
        added.set(id, { id, ratings: ratings as Record<string, unknown> });
        return sendJson(res, 200, ratingsOf(id));
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, 'GET, POST');
      if (Number.isNaN(id)) return sendJson(res, 400, { error: 'please provide numeric product ID' });
      getRatings(res, id);
    },
    close() {
      if (flipper) clearInterval(flipper);
      for (const t of pending) clearTimeout(t);
      pending.clear();
    },
  };
}
