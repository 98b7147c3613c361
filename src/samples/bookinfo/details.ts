// details: the book's publication facts as JSON at /details/<id>, as Istio's Ruby details service serves them.
// It calls nothing, but keeps the sample's header-forwarding contract for when it is extended.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BookinfoApp } from './shared/server.ts';
import { methodNotAllowed, notFound, sendJson } from './shared/server.ts';

/** The JSON document of /details/<id>; field names and order as Istio's sample. */
export interface BookDetails {
  id: number;
  author: string;
  year: number;
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

export function createDetailsApp(name = 'details'): BookinfoApp {
  return {
    name,
    handle(req: IncomingMessage, res: ServerResponse, url: URL) {
      const path = url.pathname;
      if (path !== '/health' && path !== '/details' && !path.startsWith('/details/')) return notFound(res, url);
      if (req.method !== 'GET' && req.method !== 'HEAD') return methodNotAllowed(res, 'GET');
      if (path === '/health') return sendJson(res, 200, { status: 'Details is healthy' });
      const last = path.split('/').filter((s) => s !== '').at(-1) ?? '';
      // Ruby's Integer(): an optional sign and digits, nothing else.
      if (!/^[+-]?\d+$/.test(last)) return sendJson(res, 400, { error: 'please provide numeric product id' });
      sendJson(res, 200, bookDetails(Number(last)));
    },
    close() {},
  };
}
