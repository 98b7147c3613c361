import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cookieValue, SessionCodec } from './session.ts';

const cookieOf = (setCookie: string): string => setCookie.split(';')[0] ?? '';

test('a signed-in cookie names its user; signing out clears it', () => {
  const codec = new SessionCodec();
  const set = codec.signIn('jason');
  assert.match(set, /^session=[^;]+; Path=\/; HttpOnly; SameSite=Lax$/);
  assert.equal(codec.user(cookieOf(set)), 'jason');
  assert.equal(codec.user(`theme=dark; ${cookieOf(set)}; other=1`), 'jason');
  assert.match(codec.signOut(), /^session=; .*Max-Age=0/);
  assert.equal(codec.user(cookieOf(codec.signOut())), undefined);
});

test('a cookie edited by the client, or signed by another productpage, is no session', () => {
  const codec = new SessionCodec(Buffer.from('one secret'));
  const value = cookieValue(cookieOf(codec.signIn('jason')), 'session') ?? '';
  const [, mac] = value.split('.');
  const forged = `${Buffer.from(JSON.stringify({ user: 'admin' })).toString('base64url')}.${mac ?? ''}`;
  assert.equal(codec.user(`session=${forged}`), undefined);
  assert.equal(codec.user(`session=${value.slice(0, -2)}`), undefined);
  assert.equal(codec.user('session=garbage'), undefined);
  assert.equal(codec.user(undefined), undefined);
  assert.equal(new SessionCodec(Buffer.from('another secret')).user(`session=${value}`), undefined);
  assert.equal(new SessionCodec(Buffer.from('one secret')).user(`session=${value}`), 'jason');
});

test('user names are carried verbatim, including characters that need escaping in HTML', () => {
  const codec = new SessionCodec();
  const name = 'jason <b>&"\'; ü';
  assert.equal(codec.user(cookieOf(codec.signIn(name))), name);
});
