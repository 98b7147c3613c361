// WebSocket end to end through the mesh: a client (the `ws` package) → its sidecar in explicit mode (routed by the
// Host header) → mutual TLS → the server's sidecar → a `ws` server started by `weft run`. Messages both ways (text
// and binary), then the close handshake with a code and reason seen on both ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { Mesh, NODE, eventually, freePort, workloadGroup } from '../tcp/harness.ts';

const WS_ECHO = fileURLToPath(new URL('../apps/ws-echo.ts', import.meta.url));
const IDLE = ['-e', 'setInterval(() => {}, 1 << 30)'];

const service = `apiVersion: v1
kind: Service
metadata:
  name: ws-echo
  namespace: default
spec:
  ports:
  - name: http
    port: 8080
  selector:
    app: ws-echo
`;

/** Open a WebSocket to ws-echo:8080 through the sidecar at `outbound`; resolves with the socket and the greeting. */
function open(outbound: number): Promise<{ ws: WebSocket; greeting: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${outbound}/chat`, { headers: { host: 'ws-echo:8080' }, handshakeTimeout: 5000 });
    ws.once('message', (d) => resolve({ ws, greeting: String(d) }));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
}

function next(ws: WebSocket): Promise<{ data: Buffer | string; binary: boolean }> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    ws.once('message', (data, binary) => {
      ws.off('error', onError);
      resolve({ data: binary ? (data as Buffer) : String(data), binary });
    });
    ws.once('error', onError);
  });
}

test('WebSocket: client → sidecar → mTLS → sidecar → ws server, messages both ways and the close handshake', { timeout: 90_000 }, async (t) => {
  const mesh = new Mesh();
  t.after(() => mesh.close());
  mesh.writeConfig('ws-echo.yaml', `${service}---\n${workloadGroup('ws-echo', { app: 'ws-echo', version: 'v1' }, 'ws-echo')}---\n${workloadGroup('client', { app: 'client' }, 'client')}`);
  await mesh.start();
  const log = join(mesh.root, 'ws-echo.log');
  const port = await freePort('127.0.0.1');
  const server = await mesh.run({ name: 'ws-echo-v1', labels: { app: 'ws-echo', version: 'v1' }, serviceAccount: 'ws-echo', workloadGroup: 'ws-echo', port: `http=${port}`, command: [NODE, WS_ECHO, String(port), log] });
  const client = await mesh.run({ name: 'client', labels: { app: 'client' }, serviceAccount: 'client', command: [NODE, ...IDLE] });

  let conn: { ws: WebSocket; greeting: string } | undefined;
  await eventually('the WebSocket upgrade succeeds through both sidecars', 20_000, async () => {
    conn = await open(client.outbound);
    return true;
  });
  const { ws, greeting } = conn!;
  assert.equal(greeting, 'hello from ws-echo');

  for (let i = 0; i < 20; i++) {
    const reply = next(ws);
    ws.send(`message ${i}`);
    assert.deepEqual(await reply, { data: `echo: message ${i}`, binary: false });
  }
  const big = Buffer.alloc(256 * 1024, 7);
  const bin = next(ws);
  ws.send(big);
  const got = await bin;
  assert.equal(got.binary, true);
  assert.ok(Buffer.isBuffer(got.data) && got.data.equals(big), 'a 256 KiB binary frame comes back intact');

  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.close(1000, 'done');
  assert.deepEqual(await closed, { code: 1000, reason: 'done' });
  await eventually('the server saw the close frame', 5000, async () => readFileSync(log, 'utf8').includes('close 1000 done'));
  // The upgrade went through the mesh with the service's authority.
  assert.match(readFileSync(log, 'utf8'), /^open ws-echo:8080 \/chat$/m);
  // The server's sidecar took it over mutual TLS from the client's identity and saw the 101.
  const stats = await (await fetch(`http://127.0.0.1:${server.stats}/stats/prometheus`)).text();
  assert.match(stats, /istio_requests_total\{reporter="destination",[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/client",[^}]*response_code="101",[^}]*connection_security_policy="mutual_tls"\} 1/);
});

