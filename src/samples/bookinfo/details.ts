// details: the book's publication facts as JSON at /details/<id>, as Istio's Ruby details service serves them.
// v1 answers from constants; v2 (the sample's ENABLE_EXTERNAL_BOOK_SERVICE image) asks the Google Books API, which
// makes it the sample's egress client: over plain HTTP, so the mesh originates TLS (egress-rule-google-apis.yaml).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OutboundClient } from './shared/http-client.ts';
import { describeResult, parseJson } from './shared/http-client.ts';
import type { BookinfoApp, LogFn } from './shared/server.ts';
import { methodNotAllowed, notFound, sendJson } from './shared/server.ts';
import { BACKEND_FORWARDED, forwardHeaders } from './shared/trace-headers.ts';

/** The JSON document of /details/<id>; field names and order as Istio's sample. */
export interface BookDetails {
  id: number;
  author: string;
  /** A number from v1; the API's publishedDate string from v2. */
  year: number | string;
  type: string;
  pages: number;
  publisher: string;
  language: string;
  'ISBN-10': string;
  'ISBN-13': string;
}

export function bookDetails(id: number): BookDetails {
  return {
    id,
    author: 'William Shakespeare',
    year: 1595,
    type: 'paperback',
    pages: 200,
    publisher: 'PublisherA',
    language: 'English',
    'ISBN-10': '1234567890',
    'ISBN-13': '123-1234567890',
  };
}

export const DETAILS_VERSIONS = ['v1', 'v2'] as const;
export type DetailsVersion = (typeof DETAILS_VERSIONS)[number];

/** Google Books volumes endpoint, over plain HTTP as the sample's DO_NOT_ENCRYPT=true deployment calls it. */
export const GOOGLE_BOOKS_URL = 'http://www.googleapis.com/books/v1/volumes';
/** The edition of The Comedy of Errors the sample looks up (Shakespeare its single author). */
const EXTERNAL_ISBN = '0486424618';
/** The sample's read timeout for the external call. */
const EXTERNAL_TIMEOUT_MS = 5_000;

export interface DetailsOptions {
  version: DetailsVersion;
  /** v2 only: the outbound client and the volumes endpoint (default GOOGLE_BOOKS_URL). */
  client?: OutboundClient;
  bookServiceUrl?: string;
  log: LogFn;
}

export function createDetailsApp(options: DetailsOptions = { version: 'v1', log: () => {} }): BookinfoApp {
  const external = options.version === 'v2' ? options.client : undefined;
  if (options.version === 'v2' && external === undefined) throw new Error('details v2 needs an outbound client');
  const volumes = options.bookServiceUrl ?? GOOGLE_BOOKS_URL;

  async function fromBookService(id: number, req: IncomingMessage): Promise<BookDetails | string> {
    const url = new URL(`${volumes}${volumes.includes('?') ? '&' : '?'}q=isbn:${EXTERNAL_ISBN}`);
    const r = await external!.get(url, forwardHeaders(req.headers, BACKEND_FORWARDED), EXTERNAL_TIMEOUT_MS);
    if (r.kind !== 'response' || r.status !== 200) return `${url.href}: ${describeResult(r)}`;
    const book = volumeInfo(parseJson(r.body));
    if (book === undefined) return `${url.href}: no volume in the answer`;
    const isbn = (kind: string): string =>
      String(book.industryIdentifiers?.find((x) => x.type === kind)?.identifier ?? '');
    return {
      id,
      author: String(book.authors?.[0] ?? ''),
      year: book.publishedDate ?? '',
      type: book.printType === 'BOOK' ? 'paperback' : 'unknown',
      pages: Number(book.pageCount ?? 0),
      publisher: String(book.publisher ?? ''),
      language: book.language === 'en' ? 'English' : 'unknown',
      'ISBN-10': isbn('ISBN_10'),
      'ISBN-13': isbn('ISBN_13'),
    };
  }

  return {
    name: `details-${options.version}`,
    async handle(req: IncomingMessage, res: ServerResponse, url: URL) {
      const path = url.pathname;
      if (path !== '/health' && path !== '/details' && !path.startsWith('/details/')) return notFound(res, url);
      if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, 'GET');
      if (path === '/health') return sendJson(res, 200, { status: 'Details is healthy' });
      const last = path.split('/').filter((s) => s !== '').at(-1) ?? '';
      // Ruby's Integer(): an optional sign and digits, nothing else.
      if (!/^[+-]?\d+$/.test(last)) return sendJson(res, 400, { error: 'please provide numeric product id' });
      const id = Number(last);
      if (external === undefined) return sendJson(res, 200, bookDetails(id));
      const found = await fromBookService(id, req);
      if (typeof found === 'string') {
        options.log(`details-v2: book service failed: ${found}`);
        return sendJson(res, 400, { error: `could not fetch the book's details: ${found}` });
      }
      sendJson(res, 200, found);
    },
    close() {
      external?.close();
    },
  };
}

interface VolumeInfo {
  authors?: unknown[];
  publishedDate?: string;
  printType?: string;
  pageCount?: unknown;
  publisher?: unknown;
  language?: string;
  industryIdentifiers?: { type?: string; identifier?: unknown }[];
}

/** items[0].volumeInfo of a Google Books answer, or undefined. */
function volumeInfo(doc: unknown): VolumeInfo | undefined {
  if (typeof doc !== 'object' || doc === null || !('items' in doc) || !Array.isArray(doc.items)) return undefined;
  const first: unknown = doc.items[0];
  if (typeof first !== 'object' || first === null || !('volumeInfo' in first)) return undefined;
  const info = first.volumeInfo;
  return typeof info === 'object' && info !== null ? (info as VolumeInfo) : undefined;
}
