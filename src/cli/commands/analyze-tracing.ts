// Tracing findings for `weft analyze`: settings Weft accepts that yield no spans (an undefined or unsupported
// provider, a collector not in the registry, fields without effect). Istio has no analyzer code for these, so they are
// printed as plain warnings, `Warning (Telemetry ns/name) <field path>: <message>`, never as IST messages.
import type { LoadedResource } from '../../config/api/validate.ts';
import { defaultValidationContext } from '../../config/api/validation/report.ts';
import { loadMeshConfigText } from '../../controlplane/mesh-config.ts';
import type { MeshSettings } from '../../discovery/snapshot/mesh.ts';
import { buildSnapshot } from '../../discovery/snapshot/snapshot.ts';
import { type TracingFinding, tracingFindings } from '../../discovery/translate/tracing.ts';
import { buildRegistryState } from '../../registry/registry.ts';

export interface TracingWarningOptions {
  /** The mesh config file's text (--meshConfigFile), as `weft up --mesh-config` would read it; undefined = defaults. */
  meshText?: string | undefined;
  meshFile?: string | undefined;
  namespace: string;
  allNamespaces: boolean;
}

/** `Telemetry <ns>/<name>` findings belong to that namespace; MeshConfig findings to every namespace. */
function inScope(f: TracingFinding, o: TracingWarningOptions): boolean {
  if (o.allNamespaces || !f.resource.startsWith('Telemetry ')) return true;
  return f.resource.slice('Telemetry '.length).split('/')[0] === o.namespace;
}

/**
 * The tracing warnings for the analyzed resources (valid ones only, as the control plane would serve them), one line
 * each. A mesh config the control plane would refuse yields no tracing warnings (analyze reports the file itself).
 */
export function tracingWarnings(loaded: readonly LoadedResource[], o: TracingWarningOptions): string[] {
  let mesh: MeshSettings = {};
  if (o.meshText !== undefined) {
    try {
      mesh = loadMeshConfigText(o.meshText, o.meshFile ?? 'mesh config').mesh;
    } catch {
      return [];
    }
  }
  const configs = loaded.filter((l) => l.valid && (l.support === 'mesh' || l.support === 'skipped')).map((l) => l.resource);
  if (!configs.some((r) => r.kind === 'Telemetry') && mesh.defaultProviders?.tracing === undefined) return [];
  const domainSuffix = defaultValidationContext.domainSuffix; // analyze's own (it has no --domain-suffix flag)
  const snapshot = buildSnapshot({ configs, registry: buildRegistryState(configs, [], domainSuffix), mesh, domainSuffix });
  return tracingFindings(snapshot)
    .filter((f) => inScope(f, o))
    .map((f) => `Warning (${f.resource}) ${f.path}: ${f.message}`);
}
