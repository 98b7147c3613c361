// Starts `weft up` as a child process and waits for its ready line, reading back the ports it bound. Prefers
// Istio's ports (15010, 15012, 15014) when they are free, so that `weft proxy-status` finds it without flags.
import { Ports } from '../core/ports.ts';
import { freePort, probePort } from './ports.ts';
import { nodeChildEnv, Supervised } from './process.ts';
import { WEFT_BIN } from './sidecar.ts';

export interface ControlPlaneSpec {
  configDir: string;
  /** Where the CA keeps its keys (kept across runs: a warm start reuses the root). */
  stateDir: string;
  readyTimeoutMs: number;
  /** Istio MeshConfig file for `weft up --mesh-config` (tracing providers …), if any. */
  meshConfigFile?: string | undefined;
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export interface StartedControlPlane {
  process: Supervised;
  /** host:port of xDS, plaintext. */
  xdsAddress: string;
  /** host:port of xDS + CA over TLS. */
  xdsTlsAddress: string;
  /** host:port of /metrics and /debug. */
  monitoringAddress: string;
}

async function preferred(port: number): Promise<number> {
  return (await probePort('127.0.0.1', port)) === undefined ? port : freePort();
}

export async function startControlPlaneProcess(s: ControlPlaneSpec): Promise<StartedControlPlane> {
  try {
    return await startOn(s, await preferred(Ports.xdsPlaintext), await preferred(Ports.xdsTls), await preferred(Ports.monitoring));
  } catch (e) {
    // Another process took one of the ports between our probe and weft up's bind: once more, on free ports.
    if (!/EADDRINUSE|in use/.test(String(e))) throw e;
    return startOn(s, await freePort(), await freePort(), await freePort());
  }
}

async function startOn(s: ControlPlaneSpec, xds: number, tls: number, mon: number): Promise<StartedControlPlane> {
  const p = new Supervised({
    name: 'control plane',
    command: process.execPath,
    args: [WEFT_BIN, 'up', '--config-dir', s.configDir, '--state-dir', s.stateDir, '--listen', '127.0.0.1', '--xds-port', String(xds), '--xds-tls-port', String(tls), '--monitoring-port', String(mon), ...(s.meshConfigFile ? ['--mesh-config', s.meshConfigFile] : [])],
    env: nodeChildEnv(),
    onLine: s.onLine,
    exitWithParent: true,
  });
  try {
    await p.waitForLine(/^weft control plane ready$/, s.readyTimeoutMs);
  } catch (e) {
    await p.stop(2000);
    throw e;
  }
  const find = (re: RegExp): string => {
    for (const l of p.recent) {
      const m = re.exec(l);
      if (m) return m[1]!;
    }
    return '';
  };
  return {
    process: p,
    xdsAddress: find(/xDS \(plaintext\) listening on (\S+)$/) || `127.0.0.1:${xds}`,
    xdsTlsAddress: find(/xDS \+ CA \(TLS\) listening on (\S+)$/) || `127.0.0.1:${tls}`,
    monitoringAddress: find(/monitoring listening on http:\/\/(\S+?) /) || `127.0.0.1:${mon}`,
  };
}
