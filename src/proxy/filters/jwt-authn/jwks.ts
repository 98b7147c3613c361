// JSON Web Key Sets for the jwt_authn filter: inline (local_jwks) or fetched from the issuer's jwksUri (remote_jwks),
// cached for cache_duration (default 5 min, Envoy's), refreshed when stale, one fetch in flight per URI, the last good
// set kept when a refresh fails. The clock and the fetcher are injected so tests control time and the network.
import * as https from 'node:https';
import { createRequire } from 'node:module';
import type * as Jose from 'jose';

// node:http through process.getBuiltinModule, not an ES import: an ES import of node:http evaluates every export,
// and its WebSocket getter loads Node's bundled undici (~4 MB resident) into every proxy that never uses it.
const http = process.getBuiltinModule('node:http');

let jose: typeof Jose | undefined;
/**
 * jose, loaded on first use (a jwt_authn filter arrived) rather than with every proxy: most sidecars never see a
 * RequestAuthentication. Synchronous (require of an ES module), so config parsing stays synchronous.
 */
export function loadJose(): typeof Jose {
  return (jose ??= createRequire(import.meta.url)('jose') as typeof Jose);
}

export type KeySet = ReturnType<typeof Jose.createLocalJWKSet>;

/** Fetch a URL's body as text, within a timeout; rejects on non-2xx. */
export type JwksFetcher = (uri: string, timeoutMs: number) => Promise<string>;

/** Parse a JWKS document (a `keys` list or a single JWK) into a key set; throws on malformed input. */
export function parseJwks(text: string): KeySet {
  const parsed = JSON.parse(text) as unknown;
  if (typeof parsed !== 'object' || parsed === null) throw new Error('JWKS must be a JSON object');
  const obj = parsed as Record<string, unknown>;
  const set = (Array.isArray(obj['keys']) ? obj : { keys: [obj] }) as unknown as Jose.JSONWebKeySet;
  return loadJose().createLocalJWKSet(set);
}

/** The real fetcher: node:http / node:https GET, body capped at 1 MiB. */
export const httpJwksFetcher: JwksFetcher = (uri, timeoutMs) =>
  new Promise((resolve, reject) => {
    const u = new URL(uri);
    const mod = u.protocol === 'https:' ? https : http;
    const req = mod.get(u, { timeout: timeoutMs, headers: { accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 1 << 20) req.destroy(new Error('JWKS response larger than 1 MiB'));
        else chunks.push(c);
      });
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) reject(new Error(`JWKS fetch ${uri} answered ${status}`));
        else resolve(Buffer.concat(chunks).toString('utf8'));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`JWKS fetch ${uri} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
  });

interface Entry {
  keys: KeySet | undefined;
  fetchedAt: number;
  inflight: Promise<KeySet> | undefined;
}

export interface JwksCacheOptions {
  fetcher?: JwksFetcher;
  /** Milliseconds since the epoch; default Date.now. */
  now?: () => number;
}

/** Remote key sets shared by every provider of a proxy, keyed by URI. */
export class JwksCache {
  private readonly entries = new Map<string, Entry>();
  private readonly fetcher: JwksFetcher;
  private readonly now: () => number;
  /** Fetch attempts and failures, for stats. */
  fetches = 0;
  failures = 0;

  constructor(opts: JwksCacheOptions = {}) {
    this.fetcher = opts.fetcher ?? httpJwksFetcher;
    this.now = opts.now ?? Date.now;
  }

  /** The key set for `uri`: cached while fresh, otherwise fetched (the stale set is used if the refresh fails). */
  async get(uri: string, cacheMs: number, timeoutMs: number): Promise<KeySet> {
    let e = this.entries.get(uri);
    if (!e) {
      e = { keys: undefined, fetchedAt: 0, inflight: undefined };
      this.entries.set(uri, e);
    }
    if (e.keys && this.now() - e.fetchedAt < cacheMs) return e.keys;
    if (!e.inflight) {
      const entry = e;
      this.fetches++;
      entry.inflight = this.fetcher(uri, timeoutMs)
        .then((text) => {
          entry.keys = parseJwks(text);
          entry.fetchedAt = this.now();
          return entry.keys;
        })
        .catch((err: unknown) => {
          this.failures++;
          if (entry.keys) return entry.keys;
          throw err;
        })
        .finally(() => {
          entry.inflight = undefined;
        });
    }
    return e.inflight!;
  }
}
