// networking.istio.io kinds (v1, v1beta1, v1alpha3 share one schema): typed specs and their semantic validators.
export type * from './shared.ts';
export type * from './virtual-service.types.ts';
export type * from './destination-rule.types.ts';
export type * from './gateway.types.ts';
export type * from './service-entry.types.ts';
export type * from './workload-group.types.ts';
export type * from './sidecar.types.ts';
