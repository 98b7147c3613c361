// WorkloadEntry spec types: a single non-Kubernetes workload (VM, bare-metal host) with its address, ports and labels.
export type { WorkloadEntrySpec } from './shared.ts';
