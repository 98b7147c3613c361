// The Bookinfo workloads `weft demo` runs, as Istio's samples/bookinfo/platform/kube/bookinfo.yaml deploys them:
// one entry per Deployment (name, labels, service account), each run with its sidecar by the same code as `weft run`.

export interface DemoWorkload {
  /** Deployment name, also the workload (pod) name and its WorkloadGroup. */
  name: string;
  /** The Bookinfo service (src/samples/bookinfo/main.ts SERVICE). */
  service: 'productpage' | 'details' | 'reviews' | 'ratings';
  version: string;
  serviceAccount: string;
}

export const DEMO_WORKLOADS: readonly DemoWorkload[] = [
  { name: 'details-v1', service: 'details', version: 'v1', serviceAccount: 'bookinfo-details' },
  { name: 'ratings-v1', service: 'ratings', version: 'v1', serviceAccount: 'bookinfo-ratings' },
  { name: 'reviews-v1', service: 'reviews', version: 'v1', serviceAccount: 'bookinfo-reviews' },
  { name: 'reviews-v2', service: 'reviews', version: 'v2', serviceAccount: 'bookinfo-reviews' },
  { name: 'reviews-v3', service: 'reviews', version: 'v3', serviceAccount: 'bookinfo-reviews' },
  { name: 'productpage-v1', service: 'productpage', version: 'v1', serviceAccount: 'bookinfo-productpage' },
];

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
