// PeerAuthentication (security.istio.io/v1, v1beta1): which mutual-TLS mode a workload's inbound side accepts.
// Types mirror istio.security.v1beta1.PeerAuthentication; the validator implements Istio's webhook rules.
import type { Resource } from '../resource.ts';
import { checkWorkloadSelector, type WorkloadSelector } from '../validation/common/labels.ts';
import { Reporter, type SemanticValidator, type Validation } from '../validation/report.ts';

/** A reporter for a map entry, printed the Kubernetes way: `metadata.labels[app]`. */
const atKey = (r: Reporter, key: string): Reporter => new Reporter(`${r.path}[${key}]`, r.out);

/** How a workload treats plaintext and mTLS on inbound connections. */
export type MtlsMode =
  /** Inherit from the parent scope (namespace, then mesh); the mesh default is PERMISSIVE. */
  | 'UNSET'
  /** Plaintext only: the sidecar does not terminate mTLS. */
  | 'DISABLE'
  /** Both plaintext and mTLS are accepted. */
  | 'PERMISSIVE'
  /** mTLS only: plaintext connections are refused. */
  | 'STRICT';

export interface MutualTls {
  /** The mTLS mode; default UNSET (inherit). */
  mode?: MtlsMode;
}

export interface PeerAuthenticationSpec {
  /** Workloads the policy applies to; absent = every workload in the namespace (or the mesh, in the root namespace). */
  selector?: WorkloadSelector;
  /** The mode for all ports of the selected workloads. */
  mtls?: MutualTls;
  /** Per-port overrides, keyed by the workload (container) port number; requires a selector with labels. */
  portLevelMtls?: Record<string, MutualTls>;
}

export const validatePeerAuthentication: SemanticValidator = (res: Resource): Validation => {
  const r = new Reporter('spec');
  const spec = (res.spec ?? {}) as PeerAuthenticationSpec;
  const labels = spec.selector?.matchLabels ?? {};
  const ports = spec.portLevelMtls;
  if (ports !== undefined && ports !== null) {
    const pr = r.at('portLevelMtls');
    const entries = Object.keys(ports);
    if (Object.keys(labels).length === 0 && entries.length > 0) {
      pr.error('a mesh- or namespace-wide PeerAuthentication cannot have port-level mTLS: add spec.selector.matchLabels to pick the workloads those ports belong to');
    }
    if (entries.length === 0) pr.error('portLevelMtls, if set, must have at least one port: remove it or add a port');
    for (const port of entries) {
      const n = Number(port);
      if (!/^[0-9]+$/.test(port) || !Number.isInteger(n) || n < 1 || n > 65535) {
        atKey(pr, port).error(`port ${JSON.stringify(port)} must be a number in the range 1..65535`);
      }
    }
  }
  checkWorkloadSelector(r.at('selector'), spec.selector);
  return r.out;
};
