// The Bookinfo workloads `weft demo` runs: the sample's own table (src/samples/bookinfo/workloads.ts — one entry per
// Deployment of Istio's platform/kube/bookinfo.yaml), each run with its sidecar by the same code as `weft run`.
import { BOOKINFO_WORKLOADS, type BookinfoWorkload } from '../../samples/bookinfo/workloads.ts';

export type DemoWorkload = BookinfoWorkload;

export const DEMO_WORKLOADS: readonly DemoWorkload[] = BOOKINFO_WORKLOADS;

/** Which services each workload calls, for the readiness check (its sidecar must know their endpoints). */
export const CALLS: Readonly<Record<DemoWorkload['service'], readonly DemoWorkload['service'][]>> = {
  productpage: ['details', 'reviews'],
  reviews: ['ratings'],
  details: [],
  ratings: [],
};

/** The Service port of every Bookinfo service, and the name the WorkloadEntry ports are keyed by. */
export const BOOKINFO_SERVICE_PORT = 9080;
export const BOOKINFO_PORT_NAME = 'http';
