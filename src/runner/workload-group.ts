// The WorkloadGroup a `weft run` workload auto-registers into. In Istio's VM flow the operator applies the group
// (`istioctl x workload group create`); `weft run --config-dir DIR` does that step when the group is missing, and
// reuses an existing group untouched (its template and labels are the operator's).
import { mkdir } from 'node:fs/promises';
import { loadPaths } from '../config/api/load.ts';
import type { Resource } from '../config/api/resource.ts';
import { writeResource } from '../config/store/writer.ts';

export interface GroupSpec {
  configDir: string;
  name: string;
  namespace: string;
  /** The workload's labels; the group gets those that are not per-instance (everything except `version`). */
  labels: Readonly<Record<string, string>>;
  serviceAccount: string;
}

/** The WorkloadGroup `weft run` writes when there is none: Istio's shape, with the workload's labels and identity. */
export function workloadGroupFor(g: Omit<GroupSpec, 'configDir'>): Resource {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(g.labels)) if (k !== 'version') labels[k] = v;
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'WorkloadGroup',
    metadata: { name: g.name, namespace: g.namespace },
    spec: {
      metadata: { labels },
      // No ports in the template: each instance sends its own (POD_PORTS), so replicas may use different ports.
      template: { serviceAccount: g.serviceAccount },
    },
  };
}

/** Find the group in the config directory, or write it. */
export async function ensureWorkloadGroup(g: GroupSpec): Promise<{ created: boolean; file: string }> {
  await mkdir(g.configDir, { recursive: true });
  const { results } = await loadPaths([g.configDir]);
  const found = results.find((r) => r.key.kind === 'WorkloadGroup' && r.key.name === g.name && r.key.namespace === g.namespace);
  if (found) return { created: false, file: found.origin.file };
  const key = { kind: 'WorkloadGroup', namespace: g.namespace, name: g.name };
  const file = await writeResource(g.configDir, key, workloadGroupFor(g), undefined);
  return { created: true, file };
}
