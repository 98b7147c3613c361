// Istio's "Mirroring" task with Weft: httpbin v1 and v2 (a recording HTTP app started by `weft run` twice), the
// task's DestinationRule (subsets v1, v2) and VirtualService (all traffic to v1, `mirror: v2`, `mirrorPercentage:
// 100`). A client in explicit mode calls httpbin:8000 through its sidecar. v2 receives a copy of every request with
// `-shadow` on the authority (as Envoy does), the client always gets v1's response — also when v2 answers 500
// slowly (mirror failures and latency never reach the client) — and mirrorPercentage 0 mirrors nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Mesh, NODE, eventually, freePort, workloadGroup } from '../tcp/harness.ts';

const RECORDER = fileURLToPath(new URL('../apps/http-recorder.ts', import.meta.url));
const IDLE = ['-e', 'setInterval(() => {}, 1 << 30)'];

// The Service of Istio's samples/httpbin/httpbin.yaml (port 8000 named http); the workloads' port comes from `weft run --port http=…`.
const service = `apiVersion: v1
kind: Service
metadata:
  name: httpbin
  namespace: default
  labels:
    app: httpbin
    service: httpbin
spec:
  ports:
  - name: http
    port: 8000
    targetPort: 8080
  selector:
    app: httpbin
`;

// The task's rules, as its page gives them.
const destinationRule = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: httpbin
spec:
  host: httpbin
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
`;
const allV1 = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: httpbin
spec:
  hosts:
  - httpbin
  http:
  - route:
    - destination:
        host: httpbin
        subset: v1
      weight: 100
`;
const mirrorV2 = (percent: number): string => `${allV1}    mirror:
      host: httpbin
      subset: v2
    mirrorPercentage:
      value: ${percent}
`;

interface Reply {
  status: number;
  body: string;
  ms: number;
}

/** A request to http://httpbin:8000<path> through the client's sidecar (explicit HTTP proxy, absolute URI). */
function call(outbound: number, path: string, body?: string): Promise<Reply> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: outbound, method: body === undefined ? 'GET' : 'POST', path: `http://httpbin:8000${path}`, headers: { host: 'httpbin:8000' }, agent: false, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, ms: performance.now() - start }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : []);

test('mirroring (Istio task): v2 gets a -shadow copy of every request, the client gets v1, mirror failures never reach it', { timeout: 90_000 }, async (t) => {
  const mesh = new Mesh();
  t.after(() => mesh.close());
  mesh.writeConfig('httpbin.yaml', `${service}---\n${workloadGroup('httpbin-v1', { app: 'httpbin', version: 'v1' }, 'httpbin')}---\n${workloadGroup('httpbin-v2', { app: 'httpbin', version: 'v2' }, 'httpbin')}---\n${workloadGroup('sleep', { app: 'sleep' }, 'sleep')}---\n${destinationRule}`);
  mesh.writeConfig('httpbin-vs.yaml', allV1);
  await mesh.start();
  const [log1, log2] = [join(mesh.root, 'v1.log'), join(mesh.root, 'v2.log')];
  const [p1, p2] = [await freePort('127.0.0.1'), await freePort('127.0.0.1')];
  await mesh.run({ name: 'httpbin-v1', labels: { app: 'httpbin', version: 'v1' }, serviceAccount: 'httpbin', workloadGroup: 'httpbin-v1', port: `http=${p1}`, command: [NODE, RECORDER, String(p1), 'httpbin-v1', log1] });
  // v2 answers 500 after 1.5 s: a failing, slow mirror target.
  await mesh.run({ name: 'httpbin-v2', labels: { app: 'httpbin', version: 'v2' }, serviceAccount: 'httpbin', workloadGroup: 'httpbin-v2', port: `http=${p2}`, command: [NODE, RECORDER, String(p2), 'httpbin-v2', log2, '500', '1500'] });
  const sleep = await mesh.run({ name: 'sleep', labels: { app: 'sleep' }, serviceAccount: 'sleep', command: [NODE, ...IDLE] });

  // Before mirroring: v1 only.
  await eventually('httpbin v1 answers through the mesh', 20_000, async () => (await call(sleep.outbound, '/headers')).status === 200);
  assert.equal(lines(log2).length, 0);

  mesh.writeConfig('httpbin-vs.yaml', mirrorV2(100));
  await eventually('the mirror reaches v2', 20_000, async () => {
    await call(sleep.outbound, '/probe');
    return lines(log2).length > 0;
  });
  const before1 = lines(log1).length;
  const before2 = lines(log2).length;
  const replies: Reply[] = [];
  for (let i = 0; i < 10; i++) replies.push(await call(sleep.outbound, `/anything/${i}`));
  replies.push(await call(sleep.outbound, '/post', 'x'.repeat(100_000)));
  for (const r of replies) {
    assert.equal(r.status, 200, `the client gets v1's answer, not the mirror's 500: ${r.body}`);
    assert.match(r.body, /^httpbin-v1 /);
    assert.ok(r.ms < 1400, `the mirror's 1.5 s latency does not reach the client (took ${Math.round(r.ms)} ms)`);
  }
  assert.equal(lines(log1).length - before1, 11);
  // Every request also reached v2, with -shadow on the authority and the same body.
  await eventually('v2 received every mirrored request', 10_000, async () => lines(log2).slice(before2).filter((l) => !l.includes(' /probe ')).length >= 11);
  const shadowed = lines(log2).slice(before2);
  for (let i = 0; i < 10; i++) assert.ok(shadowed.includes(`httpbin-shadow:8000 GET /anything/${i} 0`), `v2 got /anything/${i}: ${JSON.stringify(shadowed)}`);
  assert.ok(shadowed.includes('httpbin-shadow:8000 POST /post 100000'), `v2 got the POST body: ${JSON.stringify(shadowed)}`);
  assert.ok(lines(log1).slice(before1).every((l) => l.startsWith('httpbin:8000 ')), 'v1 sees the original authority');

  // mirrorPercentage 0: nothing is mirrored.
  mesh.writeConfig('httpbin-vs.yaml', mirrorV2(0));
  await eventually('mirrorPercentage 0 is in force', 20_000, async () => {
    const n = lines(log2).length;
    await call(sleep.outbound, '/settle');
    await new Promise((r) => setTimeout(r, 200)); // a mirrored copy, if any, would land within this
    return lines(log2).length === n;
  });
  const n2 = lines(log2).length;
  for (let i = 0; i < 20; i++) assert.equal((await call(sleep.outbound, `/none/${i}`)).status, 200);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(lines(log2).length, n2, 'no request mirrored at 0 %');
});
