// The demo's config directory: reset at every start and seeded with Istio's Bookinfo Services and ServiceAccounts,
// one WorkloadGroup per Bookinfo Deployment (the workloads auto-register into them), destination-rule-all.yaml and
// bookinfo-gateway.yaml (its server port set to --ingress-port). `weft apply --config-dir` changes it while it runs.
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_WORKLOADS } from './workloads.ts';

/** Istio's Bookinfo sample files that Weft ships (with their attribution header), for the demo and the docs. */
export const SAMPLES_DIR = fileURLToPath(new URL('./samples/', import.meta.url));

export function samplePath(file: string): string {
  return join(SAMPLES_DIR, file);
}

/** One WorkloadGroup per Bookinfo Deployment: the labels and service account the Deployment's pods would have. */
export function workloadGroupsYaml(): string {
  const docs = DEMO_WORKLOADS.map(
    (w) => `apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata:
  name: ${w.name}
  namespace: default
spec:
  metadata:
    labels:
      app: ${w.service}
      version: ${w.version}
  template:
    serviceAccount: ${w.serviceAccount}
`,
  );
  return `# weft demo: one WorkloadGroup per Bookinfo Deployment. Each workload's sidecar names its group
# (AUTO_REGISTER_GROUP) and the control plane turns it into a WorkloadEntry, as Istio does for VMs.
${docs.join('---\n')}`;
}

/** bookinfo-gateway.yaml with the Gateway's server port moved to `port` (the file uses 8080). */
export async function gatewayYaml(port: number): Promise<string> {
  const text = await readFile(samplePath('bookinfo-gateway.yaml'), 'utf8');
  if (port === 8080) return text;
  const moved = text.replace(/(\n\s*- port:\n\s*number: )8080\n/, `$1${port}\n`);
  return `# weft demo: the Gateway's server port is ${port} (--ingress-port) instead of the file's 8080.\n${moved}`;
}

/** Empty `dir` and write the demo's starting configuration into it. */
export async function seedConfigDir(dir: string, ingressPort: number): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await copyFile(samplePath('bookinfo-services.yaml'), join(dir, 'bookinfo-services.yaml'));
  await writeFile(join(dir, 'bookinfo-workloadgroups.yaml'), workloadGroupsYaml());
  await copyFile(samplePath('destination-rule-all.yaml'), join(dir, 'destination-rule-all.yaml'));
  await writeFile(join(dir, 'bookinfo-gateway.yaml'), await gatewayYaml(ingressPort));
}
