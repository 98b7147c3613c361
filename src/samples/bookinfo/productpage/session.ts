// productpage's sign-in session: a `session` cookie holding the user name, signed with HMAC-SHA256 so that a
// client cannot claim to be someone else by editing it (Flask's signed session cookie plays this role in Istio's
// sample). The secret lives in the process: restarting productpage signs everyone out.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'session';

export class SessionCodec {
  readonly #secret: Buffer;

  constructor(secret: Buffer = randomBytes(32)) {
    this.#secret = secret;
  }

  /** The Set-Cookie value that signs `user` in. */
  signIn(user: string): string {
    const payload = Buffer.from(JSON.stringify({ user }), 'utf8').toString('base64url');
    return `${SESSION_COOKIE}=${payload}.${this.#mac(payload)}; Path=/; HttpOnly; SameSite=Lax`;
  }

  /** The Set-Cookie value that signs the user out. */
  signOut(): string {
    return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT`;
  }

  /** The signed-in user named by a Cookie header, or undefined (no cookie, bad signature, bad payload). */
  user(cookieHeader: string | undefined): string | undefined {
    const value = cookieValue(cookieHeader, SESSION_COOKIE);
    if (value === undefined) return undefined;
    const dot = value.lastIndexOf('.');
    if (dot <= 0) return undefined;
    const payload = value.slice(0, dot);
    const given = Buffer.from(value.slice(dot + 1), 'base64url');
    const want = Buffer.from(this.#mac(payload), 'base64url');
    if (given.length !== want.length || !timingSafeEqual(given, want)) return undefined;
    try {
      const doc = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown;
      if (typeof doc === 'object' && doc !== null && 'user' in doc && typeof doc.user === 'string' && doc.user !== '') return doc.user;
    } catch {
      // a correctly signed but unreadable payload cannot come from us; treat it as signed out
    }
    return undefined;
  }

  #mac(payload: string): string {
    return createHmac('sha256', this.#secret).update(payload).digest('base64url');
  }
}

/** The value of cookie `name` in a Cookie header (RFC 6265 `name=value; name2=value2`). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return undefined;
}
