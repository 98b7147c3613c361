// One HTTP/1.1 POST to a collector endpoint (a host picked from the tracer's cluster), over a small keep-alive
// pool. Resolves on a 2xx answer; rejects on anything else, a connection error or the timeout.
// Loaded only with the tracing runtime, on the first traced request (not by an idle sidecar).
// eslint-disable-next-line @typescript-eslint/no-restricted-imports
import * as http from 'node:http';

export interface Endpoint {
  address: string;
  port: number;
}

/** Keep-alive connections of one sink (closed with it). */
export function newPool(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: 2, timeout: 30_000 });
}

export function post(agent: http.Agent, target: Endpoint, host: string, path: string, contentType: string, body: Uint8Array, extraHeaders: ReadonlyArray<readonly [string, string]>, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { host, 'content-type': contentType, 'content-length': body.byteLength };
    for (const [k, v] of extraHeaders) headers[k] = v;
    const req = http.request({ host: target.address, port: target.port, method: 'POST', path, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => {
        const s = res.statusCode ?? 0;
        if (s >= 200 && s < 300) resolve();
        else reject(new Error(`collector ${target.address}:${target.port}${path} answered ${s}`));
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`collector ${target.address}:${target.port} did not answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
