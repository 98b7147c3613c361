// Sockets that read into one reused buffer (upstream: net.connect's onread; downstream keep-alive connections:
// src/proxy/http1/read-buffer.ts) must never let a later read overwrite bytes still in use. Each test runs with the
// accepted-socket switch on (the path production takes on this Node.js) and off (the public 'data' fallback), over
// one keep-alive connection: random request bodies echoed back, a response large enough that writes to a slow
// client queue, pipelined requests, and an upgraded (tunnelled) connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { acceptedSocketReuseAvailable, setAcceptedSocketReuse } from '../../src/proxy/http1/read-buffer.ts';
import { outboundListener, rawExchange, routeConfig, startProxy, startUpstream, staticCluster, vhost } from './helpers.ts';

const BIG = randomBytes(6 * 1024 * 1024);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function setup(t: { after(fn: () => unknown): void }): Promise<number> {
  const up = await startUpstream('rb', (req, res) => {
    if (req.url === '/big') {
      res.writeHead(200, { 'content-length': String(BIG.length) });
      res.end(BIG);
      return;
    }
    if (req.url === '/slow-echo') {
      // Read nothing for a while: the proxy's writes of this request body queue behind a full socket buffer.
      req.pause();
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        req.pipe(res);
        req.resume();
      }, 300);
      return;
    }
    if (req.method === 'POST') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }); // chunked back to the proxy
      req.pipe(res);
      return;
    }
    res.end(`path ${req.url}`);
  });
  up.server.on('upgrade', (_req, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (d: Buffer) => socket.write(d));
    socket.on('end', () => socket.end());
  });
  const p = await startProxy({ clusters: [staticCluster('rb', [up.port])], listeners: [outboundListener(80)], routes: [routeConfig('80', [vhost('all', ['*'], [{ match: { prefix: '/' }, route: { cluster: 'rb' } }])])] });
  t.after(async () => {
    p.close();
    await up.close();
  });
  return p.port;
}

/** One request on the agent's single keep-alive connection; the response read slowly when `slow`. */
function request(agent: http.Agent, port: number, method: string, path: string, body?: Buffer, slow = false): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: `http://svc${path}`, headers: { host: 'svc', ...(body ? { 'transfer-encoding': 'chunked' } : {}) }, agent }, (res) => {
      const parts: Buffer[] = [];
      if (slow) {
        // Stop reading for a while so the proxy's writes to this client queue behind a full socket buffer.
        res.pause();
        setTimeout(() => res.resume(), 300);
      }
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body) for (let i = 0; i < body.length; i += 50_000) req.write(body.subarray(i, i + 50_000));
    req.end();
  });
}

for (const reuse of [true, false]) {
  test(`keep-alive traffic through reused read buffers is byte-exact (accepted-socket switch ${reuse ? 'on' : 'off'})`, async (t) => {
    setAcceptedSocketReuse(reuse);
    t.after(() => setAcceptedSocketReuse(true));
    const port = await setup(t);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    const sockets = new Set<net.Socket>();
    agent.on('free', (s: net.Socket) => sockets.add(s));
    assert.equal((await request(agent, port, 'GET', '/first')).body.toString(), 'path /first');
    for (let i = 0; i < 3; i++) {
      const sent = randomBytes(300_000 + i * 7919);
      const echoed = await request(agent, port, 'POST', '/echo', sent);
      assert.equal(echoed.status, 200);
      assert.equal(sha(echoed.body), sha(sent), `echo ${i}`);
      const big = await request(agent, port, 'GET', '/big', undefined, i === 1);
      assert.equal(big.body.length, BIG.length);
      assert.equal(sha(big.body), sha(BIG), `big ${i}`);
    }
    assert.equal(sockets.size, 1, 'all requests on one keep-alive connection');
  });

  test(`concurrent connections share the read buffers while writes queue both ways (accepted-socket switch ${reuse ? 'on' : 'off'})`, async (t) => {
    setAcceptedSocketReuse(reuse);
    t.after(() => setAcceptedSocketReuse(true));
    const port = await setup(t);
    const agents = [0, 1, 2].map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    t.after(() => agents.forEach((a) => a.destroy()));
    // A first request on each connection (the downstream switch happens after it).
    for (const a of agents) assert.equal((await request(a, port, 'GET', '/first')).status, 200);
    const upload = randomBytes(3 * 1024 * 1024);
    const busy = async (): Promise<void> => {
      for (let i = 0; i < 20; i++) {
        const sent = randomBytes(40_000 + i * 1000);
        assert.equal(sha((await request(agents[2]!, port, 'POST', '/echo', sent)).body), sha(sent), `busy echo ${i}`);
      }
    };
    const [slowDown, slowUp] = await Promise.all([request(agents[0]!, port, 'GET', '/big', undefined, true), request(agents[1]!, port, 'POST', '/slow-echo', upload), busy()]);
    assert.equal(sha(slowDown.body), sha(BIG), 'slowly read download');
    assert.equal(sha(slowUp.body), sha(upload), 'upload to a slow upstream');
  });

  test(`pipelined requests and an upgraded connection after the first request (accepted-socket switch ${reuse ? 'on' : 'off'})`, async (t) => {
    setAcceptedSocketReuse(reuse);
    t.after(() => setAcceptedSocketReuse(true));
    const port = await setup(t);
    const get = (path: string, close = false): string => `GET http://svc${path} HTTP/1.1\r\nHost: svc\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;
    const out = await rawExchange(port, get('/a') + get('/b') + get('/c') + get('/d', true));
    assert.deepEqual([...out.matchAll(/path (\/\w)/g)].map((m) => m[1]), ['/a', '/b', '/c', '/d']);
    // First a plain request, then an upgrade on the same connection: the tunnel carries random bytes both ways.
    const payload = randomBytes(200_000);
    const echoed = await new Promise<Buffer>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      let stage = 0;
      let text = '';
      const got: Buffer[] = [];
      let gotBytes = 0;
      s.on('data', (d: Buffer) => {
        if (stage === 2) {
          got.push(d);
          gotBytes += d.length;
          if (gotBytes >= payload.length) {
            s.destroy();
            resolve(Buffer.concat(got));
          }
          return;
        }
        text += d.toString('latin1');
        if (stage === 0 && text.includes('path /plain')) {
          stage = 1;
          text = '';
          s.write('GET http://svc/ws HTTP/1.1\r\nHost: svc\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
        } else if (stage === 1 && text.includes('\r\n\r\n')) {
          stage = 2;
          const rest = Buffer.from(text.slice(text.indexOf('\r\n\r\n') + 4), 'latin1');
          if (rest.length > 0) {
            got.push(rest);
            gotBytes += rest.length;
          }
          for (let i = 0; i < payload.length; i += 10_000) s.write(payload.subarray(i, i + 10_000));
        }
      });
      s.on('error', reject);
      s.write(get('/plain'));
    });
    assert.equal(sha(echoed.subarray(0, payload.length)), sha(payload));
  });
}

test('the accepted-socket switch is available on this Node.js (else the proxy silently takes the slower public path)', () => {
  assert.equal(acceptedSocketReuseAvailable(), true);
});
