// The response head passed downstream: Envoy's router sets x-envoy-upstream-service-time, so a value from a peer
// sidecar upstream is replaced rather than repeated (through two sidecars a client saw the header twice).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHead, type ResponseHead } from '../http1/head.ts';
import type { HcmConfig } from '../listener/listener-config.ts';
import { noHeaderOps } from '../router/route-action.ts';
import type { Route } from '../router/route-table.ts';
import { responseHeadLines } from './response-head.ts';

test('x-envoy-upstream-service-time from upstream is replaced by this hop\'s own value; other headers pass', () => {
  const head = parseHead('response', 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nX-Envoy-Upstream-Service-Time: 7\r\nserver: envoy\r\nx-app: 1', 'GET');
  assert.equal((head as ResponseHead).kind, 'response');
  const route = { responseHeaders: noHeaderOps } as unknown as Route;
  const hcm = { serverName: 'envoy', serverHeaderTransformation: 'overwrite' } as unknown as HcmConfig;
  const out = responseHeadLines(head as ResponseHead, route, hcm, 3, undefined);
  const lines = out.split('\r\n').filter((l) => l !== '');
  assert.deepEqual(lines.filter((l) => l.startsWith('x-envoy-upstream-service-time')), ['x-envoy-upstream-service-time: 3']);
  assert.ok(lines.includes('x-app: 1'));
  assert.ok(lines.includes('content-type: text/plain'));
  assert.deepEqual(lines.filter((l) => l.startsWith('server:')), ['server: envoy']);
});
