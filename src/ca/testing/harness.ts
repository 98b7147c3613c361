// Test harness for the CA: a real gRPC server on 127.0.0.1:0 with the control plane's TLS credentials, a plain
// @grpc/grpc-js client for CreateCertificate, temporary directories and an openssl runner. Used by tests and bench.
import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { type IstioCertificateResponse, newCertificateClient } from '../proto/service.ts';
import { type CaControlPlaneOptions, type CaForControlPlane, startCaForControlPlane } from '../server/index.ts';

export function tempDir(prefix = 'weft-ca-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TestCa {
  cp: CaForControlPlane;
  server: grpc.Server;
  address: string;
  port: number;
  logs: string[];
  /** Emits 'line' for every log line, so tests can wait for one. */
  logEvents: EventEmitter<{ line: [string] }>;
  close(): Promise<void>;
}

/** Starts the CA on a fresh gRPC server bound to 127.0.0.1 (port 0 unless given). */
export async function startTestCa(opts: Partial<CaControlPlaneOptions> & { stateDir: string; port?: number; serverOptions?: grpc.ServerOptions }): Promise<TestCa> {
  const logs: string[] = [];
  const logEvents = new EventEmitter<{ line: [string] }>();
  const cp = await startCaForControlPlane({
    log: (l) => {
      logs.push(l);
      logEvents.emit('line', l);
    },
    ...opts,
  });
  const server = new grpc.Server(opts.serverOptions);
  cp.register(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${opts.port ?? 0}`, cp.tlsServerCredentials(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return {
    cp,
    server,
    port,
    address: `127.0.0.1:${port}`,
    logs,
    logEvents,
    async close() {
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      await cp.close();
    },
  };
}

export interface CallOptions {
  address: string;
  /** Roots to verify the CA's serving certificate. */
  rootsPem: string;
  csrPem: string;
  ttlSeconds?: number;
  token?: string;
  /** Client certificate for mTLS renewal. */
  clientCert?: { certChainPem: string; keyPem: string };
}

/** One CreateCertificate call from a plain grpc-js client; resolves with the response or the gRPC error. */
export async function createCertificate(o: CallOptions): Promise<{ ok: true; value: IstioCertificateResponse } | { ok: false; error: grpc.ServiceError }> {
  const creds = o.clientCert
    ? grpc.credentials.createSsl(Buffer.from(o.rootsPem), Buffer.from(o.clientCert.keyPem), Buffer.from(o.clientCert.certChainPem))
    : grpc.credentials.createSsl(Buffer.from(o.rootsPem));
  const client = newCertificateClient(o.address, creds);
  const md = new grpc.Metadata();
  if (o.token) md.set('authorization', `Bearer ${o.token}`);
  try {
    return await new Promise((resolve) =>
      client.CreateCertificate({ csr: o.csrPem, validity_duration: o.ttlSeconds ?? 0 }, md, { deadline: Date.now() + 10_000 }, (e, r) =>
        resolve(e ? { ok: false, error: e } : { ok: true, value: r! }),
      ),
    );
  } finally {
    client.close();
  }
}

/** Runs openssl; resolves with stdout, rejects with stderr on a non-zero exit. */
export function openssl(args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('openssl', args, { cwd, timeout: 20_000 }, (e, stdout, stderr) => (e ? reject(new Error(`openssl ${args.join(' ')}: ${stderr || e.message}`)) : resolve(stdout))),
  );
}

/** Resolves with the first log line (already logged or future) that matches `re`. */
export function waitForLog(ca: TestCa, re: RegExp): Promise<string> {
  const seen = ca.logs.find((l) => re.test(l));
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve) => {
    const on = (l: string): void => {
      if (!re.test(l)) return;
      ca.logEvents.off('line', on);
      resolve(l);
    };
    ca.logEvents.on('line', on);
  });
}
