// ServiceEntry spec types: adds services to the mesh's registry (external APIs, VMs, static endpoints),
// with their hosts, virtual addresses, ports, resolution and endpoints.
import type { NetworkingWorkloadSelector, WorkloadEntrySpec } from './shared.ts';

export type ServiceEntryLocation = 'MESH_EXTERNAL' | 'MESH_INTERNAL';
export type ServiceEntryResolution = 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | 'DYNAMIC_DNS';

export interface ServiceEntrySpec {
  /** Hosts of the service (FQDN or `*.suffix`; HTTP hosts match the Host header, TLS the SNI). Required. */
  hosts: string[];
  /** Virtual IPs or CIDR blocks of the service, for TCP matching; default none (auto-allocation when enabled). */
  addresses?: string[];
  /** Ports of the service; numbers and names unique. Required unless a waypoint serves it. */
  ports?: ServicePort[];
  /** Inside or outside the mesh (mTLS and telemetry treatment); default MESH_EXTERNAL. */
  location?: ServiceEntryLocation;
  /** How endpoints are found: NONE (original destination), STATIC (endpoints' IPs), DNS, DNS_ROUND_ROBIN, DYNAMIC_DNS; default NONE. */
  resolution?: ServiceEntryResolution;
  /** Endpoints of the service; excludes workloadSelector. */
  endpoints?: WorkloadEntrySpec[];
  /** Select WorkloadEntries and pods (MESH_INTERNAL only) as endpoints; excludes endpoints. */
  workloadSelector?: NetworkingWorkloadSelector;
  /** Namespaces the service is visible to (`.`, `*`, `~`, names); default all. */
  exportTo?: string[];
  /** SANs accepted in the service's certificates (mTLS). */
  subjectAltNames?: string[];
}

export interface ServicePort {
  /** Port number 1–65535, unique in the entry. Required. */
  number: number;
  /** Protocol (HTTP, HTTPS, GRPC, HTTP2, MONGO, TCP, TLS …); default sniffed. */
  protocol?: string;
  /** Port name, a DNS-1123 label unique in the entry. Required. */
  name: string;
  /** Port on the endpoints; default the same as number. Not allowed with resolution NONE. */
  targetPort?: number;
}
