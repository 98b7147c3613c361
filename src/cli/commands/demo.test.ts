// What `weft demo` prints after "ready": commands the user can paste as they are, with the weft they started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextSteps, weftCommand } from './demo.ts';

test('the weft command to paste: npx weft under npx, weft when installed, node PATH from a checkout', () => {
  assert.equal(weftCommand('/root/.npm/_npx/6ed31fc9f30ac51f/node_modules/.bin/weft', '/src/weft'), 'npx weft');
  assert.equal(weftCommand('/src/weft/node_modules/.bin/weft', '/src/weft'), 'npx weft');
  assert.equal(weftCommand('/usr/local/bin/weft', '/home/me'), 'weft');
  assert.equal(weftCommand('/src/weft/bin/weft.js', '/src/weft'), 'node bin/weft.js');
  assert.equal(weftCommand('/src/weft/bin/weft.js', '/tmp'), 'node /src/weft/bin/weft.js');
});

test('next steps use that command, paths relative to where the user is, and the monitoring address when not the default', () => {
  const text = nextSteps('http://127.0.0.1:8080/productpage', '/tmp/weft-demo-0/config', '127.0.0.1:25014', '/tmp/weft-demo-0/logs', '/tmp', 'npx weft');
  assert.match(text, /^ {4}all traffic to v1 \(no stars\): +npx weft apply -f \S+virtual-service-all-v1\.yaml --config-dir weft-demo-0\/config$/m);
  assert.match(text, /^ {2}Proxies and their sync state: +npx weft proxy-status --monitoring-address 127\.0\.0\.1:25014$/m);
  assert.match(text, /Logs of every process: weft-demo-0\/logs +Stop: Ctrl-C$/);
});
