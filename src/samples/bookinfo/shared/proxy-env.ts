// HTTP_PROXY / NO_PROXY for the Bookinfo apps. In Weft's explicit mode `weft run` points HTTP_PROXY at the
// sidecar's outbound port, and the app sends every mesh call there with an absolute URI; NO_PROXY lists the
// hosts (usually loopback) that are reached directly. Semantics follow curl and Go's net/http/httpproxy.
import { BlockList, isIP } from 'node:net';
import type { Result } from '../../../core/result.ts';
import { err, ok } from '../../../core/result.ts';

/** A parsed plain-HTTP forward proxy. */
export interface HttpProxy {
  host: string;
  port: number;
  /** `Basic …` value for Proxy-Authorization when the proxy URL carries user:password. */
  authorization: string | undefined;
  /** The proxy URL as given, for log lines. */
  href: string;
}

/** Parse HTTP_PROXY. A bare `host:port` is read as `http://host:port`, as curl does. */
export function parseHttpProxy(raw: string | undefined): Result<HttpProxy | undefined, string> {
  if (raw === undefined || raw.trim() === '') return ok(undefined);
  const text = raw.includes('://') ? raw.trim() : `http://${raw.trim()}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return err(`HTTP_PROXY "${raw}" is not a URL; expected http://HOST:PORT (weft run sets it to the sidecar)`);
  }
  if (url.protocol !== 'http:') {
    return err(`HTTP_PROXY "${raw}" uses ${url.protocol.slice(0, -1)}; only a plain http:// proxy is supported (the sidecar's outbound port)`);
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port === '' ? 80 : Number(url.port);
  const authorization = url.username === ''
    ? undefined
    : `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
  return ok({ host, port, authorization, href: url.href });
}

type NoProxyEntry =
  | { kind: 'all' }
  | { kind: 'domain'; suffix: string; port: number | undefined } // `example.com` and `.example.com` match subdomains too
  | { kind: 'ip'; ip: string; port: number | undefined };

/** The NO_PROXY list, parsed once. */
export class NoProxy {
  readonly #entries: NoProxyEntry[] = [];
  readonly #cidrs = new BlockList();
  #hasCidr = false;

  constructor(raw: string | undefined) {
    for (const item of (raw ?? '').split(',')) {
      const entry = item.trim().toLowerCase();
      if (entry === '') continue;
      if (entry === '*') {
        this.#entries.push({ kind: 'all' });
        continue;
      }
      if (entry.includes('/')) {
        this.#addCidr(entry);
        continue;
      }
      const { host, port } = splitHostPort(entry);
      if (isIP(host) !== 0) this.#entries.push({ kind: 'ip', ip: host, port });
      else this.#entries.push({ kind: 'domain', suffix: host.replace(/^\*?\.?/, ''), port });
    }
  }

  #addCidr(entry: string): void {
    const [net, bits] = entry.split('/');
    const prefix = Number(bits);
    const family = isIP(net ?? '');
    if (family === 0 || !Number.isInteger(prefix)) return; // curl ignores what it cannot parse; so do we
    this.#cidrs.addSubnet(net ?? '', prefix, family === 4 ? 'ipv4' : 'ipv6');
    this.#hasCidr = true;
  }

  /** True when a request to host:port must bypass the proxy. */
  bypass(hostname: string, port: number): boolean {
    const host = (hostname.startsWith('[') ? hostname.slice(1, -1) : hostname).toLowerCase();
    const family = isIP(host);
    if (this.#hasCidr && family !== 0 && this.#cidrs.check(host, family === 4 ? 'ipv4' : 'ipv6')) return true;
    return this.#entries.some((e) => {
      switch (e.kind) {
        case 'all':
          return true;
        case 'ip':
          return e.ip === host && (e.port === undefined || e.port === port);
        case 'domain':
          return (host === e.suffix || host.endsWith(`.${e.suffix}`)) && (e.port === undefined || e.port === port);
      }
    });
  }
}

function splitHostPort(entry: string): { host: string; port: number | undefined } {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracket) return { host: bracket[1] ?? '', port: bracket[2] === undefined ? undefined : Number(bracket[2]) };
  const colons = entry.split(':').length - 1;
  if (colons === 1) {
    const [host, port] = entry.split(':');
    if (/^\d+$/.test(port ?? '')) return { host: host ?? '', port: Number(port) };
  }
  return { host: entry, port: undefined };
}
