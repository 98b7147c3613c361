// The six Bookinfo workloads as Istio's platform/kube/bookinfo.yaml declares them (name, service account, labels,
// port), and the command that runs each one here, for `weft demo` and anyone scripting `weft run`. Also the mesh
// config that makes them services without Kubernetes: a ServiceEntry per service selecting its workloads, and a
// WorkloadGroup per workload for auto-registration (Istio's VM flow).
import { fileURLToPath } from 'node:url';
import { BOOKINFO_PORT } from './launch.ts';
import type { BookinfoService } from './launch.ts';

/** Absolute path of the launcher, `node <BOOKINFO_MAIN> SERVICE [flags]`. */
export const BOOKINFO_MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

export interface BookinfoWorkload {
  /** Workload name, as the sample's Deployment: details-v1, reviews-v2 … */
  readonly name: string;
  /** The service it backs (also its `app` label). */
  readonly service: BookinfoService;
  /** Its `version` label and the launcher's --version. */
  readonly version: string;
  /** Service account, as the sample's (bookinfo-reviews …). */
  readonly serviceAccount: string;
  /** Pod labels: app and version. */
  readonly labels: Readonly<Record<'app' | 'version', string>>;
  /** The service port every Bookinfo service exposes (9080, named "http"). */
  readonly port: number;
  readonly portName: 'http';
}

function workload(service: BookinfoService, version: string): BookinfoWorkload {
  return {
    name: `${service}-${version}`,
    service,
    version,
    serviceAccount: `bookinfo-${service}`,
    labels: { app: service, version },
    port: BOOKINFO_PORT,
    portName: 'http',
  };
}

/** details-v1, ratings-v1, reviews-v1, reviews-v2, reviews-v3, productpage-v1 (the order the sample creates them). */
export const BOOKINFO_WORKLOADS: readonly BookinfoWorkload[] = [
  workload('details', 'v1'),
  workload('ratings', 'v1'),
  workload('reviews', 'v1'),
  workload('reviews', 'v2'),
  workload('reviews', 'v3'),
  workload('productpage', 'v1'),
];

/**
 * details-v2 (platform/kube/bookinfo-details-v2.yaml, which names no service account): the egress example, asking
 * http://www.googleapis.com for the book. Not among the six started by default.
 */
export const DETAILS_V2_WORKLOAD: BookinfoWorkload = { ...workload('details', 'v2'), serviceAccount: 'default' };

export interface CommandOptions {
  /** Port the app listens on (on one machine each workload needs its own; default 9080). */
  port?: number;
  /** Listen address (default 127.0.0.1: in explicit mode only the sidecar should reach the app). */
  address?: string;
  /** Node binary (default the running one). */
  node?: string;
}

/** argv that runs `w`, e.g. [node, …/main.ts, 'reviews', '--version', 'v2', '--port', '9083', '--address', '127.0.0.1']. */
export function bookinfoCommand(w: BookinfoWorkload, options: CommandOptions = {}): string[] {
  return [
    options.node ?? process.execPath,
    BOOKINFO_MAIN,
    w.service,
    '--version',
    w.version,
    '--port',
    String(options.port ?? BOOKINFO_PORT),
    '--address',
    options.address ?? '127.0.0.1',
  ];
}

/** A plain Istio resource document, ready for YAML or a store. */
export interface IstioDocument {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string };
  spec: Record<string, unknown>;
}

/**
 * ServiceEntries for details, ratings, reviews and productpage (hosts `<svc>.<ns>.svc.cluster.local`, port 9080 http,
 * MESH_INTERNAL, STATIC, selecting `app: <svc>`) and one WorkloadGroup per workload (labels app/version, its service
 * account), so that the sample's VirtualServices and DestinationRules (short hosts, subsets by version) apply unchanged.
 */
export function bookinfoMeshConfig(namespace = 'default'): IstioDocument[] {
  const services = [...new Set(BOOKINFO_WORKLOADS.map((w) => w.service))];
  const entries = services.map((svc): IstioDocument => ({
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: { name: svc, namespace },
    spec: {
      hosts: [`${svc}.${namespace}.svc.cluster.local`],
      location: 'MESH_INTERNAL',
      resolution: 'STATIC',
      ports: [{ number: BOOKINFO_PORT, name: 'http', protocol: 'HTTP' }],
      workloadSelector: { labels: { app: svc } },
    },
  }));
  const groups = BOOKINFO_WORKLOADS.map((w): IstioDocument => ({
    apiVersion: 'networking.istio.io/v1',
    kind: 'WorkloadGroup',
    metadata: { name: w.name, namespace },
    spec: {
      metadata: { labels: { ...w.labels } },
      template: { serviceAccount: w.serviceAccount, ports: { [w.portName]: w.port } },
    },
  }));
  return [...entries, ...groups];
}
