// Workload identity for proxies the runner starts: the CA address, the mesh root certificate and a bootstrap token.
// On the control plane's own machine the runner can mint the token itself from the control plane's state dir (as
// `weft ca token` does), so `weft run` and `weft demo` need no manual token step; elsewhere the user passes a token.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mintBootstrapToken } from '../ca/server/auth/token.ts';
import { bundleFile, caDir, requireTokenKeys } from '../ca/server/store.ts';

export interface ProxyIdentity {
  /** host:port of the CA's CSR service (the control plane's 15012). */
  caAddress: string;
  /** The mesh root certificate (PEM file). */
  rootCert: string;
  /** A file holding the bootstrap token (0600). */
  tokenFile: string;
}

/**
 * Mint a bootstrap token for namespace/serviceAccount from the control plane's state dir and write it under `outDir`.
 * The token lives `ttlSeconds` (default 24 h); the proxy uses it only for its first certificate.
 */
export async function localIdentity(o: { controlPlaneStateDir: string; caAddress: string; namespace: string; serviceAccount: string; outDir: string; name: string; ttlSeconds?: number }): Promise<ProxyIdentity> {
  const jwt = await mintBootstrapToken({ keys: requireTokenKeys(o.controlPlaneStateDir), identity: { namespace: o.namespace, serviceAccount: o.serviceAccount }, ttlSeconds: o.ttlSeconds ?? 86_400 });
  await mkdir(o.outDir, { recursive: true, mode: 0o700 });
  const tokenFile = join(o.outDir, `${o.name}.token`);
  await writeFile(tokenFile, `${jwt}\n`, { mode: 0o600 });
  return { caAddress: o.caAddress, rootCert: join(caDir(o.controlPlaneStateDir), bundleFile), tokenFile };
}

export function identityArgs(id: ProxyIdentity | undefined): string[] {
  return id === undefined ? [] : ['--ca-address', id.caAddress, '--ca-root-cert', id.rootCert, '--token-file', id.tokenFile];
}
