// A CA refusal that names another identity is recognised (PERMISSION_DENIED only) and explained with the accounts
// and the flags or token that fix it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GrpcError, GrpcStatus } from '../../core/grpc/index.ts';
import { describeRefusal, identityRefusal } from './refusal.ts';

const path = '/istio.v1.auth.IstioCertificateService/CreateCertificate';
const asked = 'spiffe://cluster.local/ns/shop/sa/ratings';
const proven = 'spiffe://cluster.local/ns/shop/sa/reviews';
const denied = new GrpcError({ code: GrpcStatus.PERMISSION_DENIED, details: `the CSR asks for ${asked} but the caller proved ${proven}`, metadata: {} }, path);

test('only PERMISSION_DENIED is a refusal; the proven identity is read from the CA\'s words', () => {
  assert.deepEqual(identityRefusal(denied, asked, 'token'), { asked, proven, credential: 'token', details: denied.details });
  assert.equal(identityRefusal(new GrpcError({ code: GrpcStatus.UNAUTHENTICATED, details: 'authentication failed: expired', metadata: {} }, path), asked, 'token'), undefined);
  assert.equal(identityRefusal(new Error('connect ECONNREFUSED'), asked, 'token'), undefined);
  // A CA that does not say whom the caller proved: still a refusal, without the proven id.
  const terse = identityRefusal(new GrpcError({ code: GrpcStatus.PERMISSION_DENIED, details: 'request authorization failure', metadata: {} }, path), asked, 'token');
  assert.deepEqual(terse, { asked, proven: undefined, credential: 'token', details: 'request authorization failure' });
  // No identity named by the caller: the CA's words name it, or it is not an identity refusal.
  assert.equal(identityRefusal(denied, undefined, 'certificate')?.asked, asked);
});

test('the explanation names both accounts, the flags for the proven one, and the token for the asked one', () => {
  assert.equal(
    describeRefusal({ asked, proven, credential: 'token', details: '' }),
    `identity: the CA refuses (PERMISSION_DENIED) a certificate for ${asked} (--namespace shop --service-account ratings): the bootstrap token names ${proven}. ` +
      `Pass --namespace shop --service-account reviews to run as that account, or a token for ${asked} (weft ca token --namespace shop --service-account ratings). ` +
      'Retrying with backoff (the token is read again at each attempt: a replaced token file is picked up); the proxy is not ready until it has a certificate.',
  );
  assert.match(describeRefusal({ asked, proven: undefined, credential: 'token', details: 'request authorization failure' }), /: request authorization failure\. Check that the bootstrap token was issued for this namespace and service account\. Retrying with backoff\.$/);
});
