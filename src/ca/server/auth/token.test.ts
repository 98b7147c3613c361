// Bootstrap-token verification and its cache of verified tokens: a cached success never outlives the token's exp,
// each token maps to its own identity, and forged or wrong-audience tokens are refused whether or not others are cached.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateCaKey } from '../../pki/keys.ts';
import { BootstrapTokenAuthenticator, mintBootstrapToken } from './token.ts';

const req = (token: string) => ({ bearerToken: token, peerCertificate: undefined });

test('a cached token is refused once it expires, and tokens for different identities are not confused', async () => {
  const keys = await generateCaKey('ecdsa-p256');
  const t0 = Date.UTC(2026, 0, 1);
  let now = t0;
  const auth = new BootstrapTokenAuthenticator(keys, () => now);
  const a = await mintBootstrapToken({ keys, identity: { namespace: 'ns1', serviceAccount: 'a' }, ttlSeconds: 60, now: new Date(t0) });
  const b = await mintBootstrapToken({ keys, identity: { namespace: 'ns2', serviceAccount: 'b' }, ttlSeconds: 600, now: new Date(t0) });

  // Twice each: the second answer comes from the cache and must be the same identity.
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(await auth.authenticate(req(a)), { kind: 'authenticated', identity: { namespace: 'ns1', serviceAccount: 'a' }, method: 'bootstrap-token' });
    assert.deepEqual(await auth.authenticate(req(b)), { kind: 'authenticated', identity: { namespace: 'ns2', serviceAccount: 'b' }, method: 'bootstrap-token' });
  }

  now = t0 + 60_000; // a's exp: no longer valid
  const expired = await auth.authenticate(req(a));
  assert.equal(expired.kind, 'rejected');
  assert.match(expired.kind === 'rejected' ? expired.reason : '', /expired/);
  assert.equal((await auth.authenticate(req(a))).kind, 'rejected', 'still refused after the cache entry is dropped');
  assert.equal((await auth.authenticate(req(b))).kind, 'authenticated', 'b is unaffected');
});

test('forged and wrong-audience tokens are refused while a valid token is cached', async () => {
  const keys = await generateCaKey('ecdsa-p256');
  const other = await generateCaKey('ecdsa-p256');
  const auth = new BootstrapTokenAuthenticator(keys);
  const identity = { namespace: 'ns', serviceAccount: 'sa' };
  const good = await mintBootstrapToken({ keys, identity, ttlSeconds: 600 });
  assert.equal((await auth.authenticate(req(good))).kind, 'authenticated');

  const forged = await mintBootstrapToken({ keys: other, identity, ttlSeconds: 600 });
  const wrongAudience = await mintBootstrapToken({ keys, identity, ttlSeconds: 600, audience: 'someone-else' });
  // Same header and payload as the cached token, another signature: a different string, verified afresh.
  const [h, p] = good.split('.');
  const tampered = `${h}.${p}.${forged.split('.')[2]}`;
  for (const t of [forged, wrongAudience, tampered]) {
    const o = await auth.authenticate(req(t));
    assert.equal(o.kind, 'rejected', t);
  }
  assert.equal((await auth.authenticate(req(good))).kind, 'authenticated');
});
