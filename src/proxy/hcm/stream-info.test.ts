// StreamInfo's response flags print in Envoy's order, whatever order the stream adds them in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamInfo } from './stream-info.ts';

test('regression: a retried connect failure prints UF,URX (Envoy order), not URX,UF; flags are not repeated', () => {
  const s = new StreamInfo();
  assert.equal(s.flagString, '-');
  s.addFlag('URX');
  s.addFlag('UF');
  s.addFlag('URX');
  assert.equal(s.flagString, 'UF,URX');
  const t = new StreamInfo();
  t.addFlag('DC');
  t.addFlag('FI');
  t.addFlag('DI');
  assert.equal(t.flagString, 'DI,FI,DC');
});
