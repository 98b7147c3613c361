// WorkloadGroup spec types: a template for WorkloadEntries of auto-registering workloads (VMs), with a readiness probe.
import type { WorkloadEntrySpec } from './shared.ts';

export interface WorkloadGroupSpec {
  /** Labels and annotations copied onto every generated WorkloadEntry. */
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  /** Template of the WorkloadEntries; address and labels are filled in at registration. Required. */
  template: WorkloadEntrySpec;
  /** Readiness probe run by the workload's agent; the entry is healthy while it passes. */
  probe?: ReadinessProbe;
}

/** Exactly one of httpGet, tcpSocket, exec or grpc. */
export interface ReadinessProbe {
  /** Seconds after start before probing; default 0. */
  initialDelaySeconds?: number;
  /** Seconds before a probe times out; default 1. */
  timeoutSeconds?: number;
  /** Seconds between probes; default 10. */
  periodSeconds?: number;
  /** Consecutive successes to become ready; default 1. */
  successThreshold?: number;
  /** Consecutive failures to become not ready; default 3. */
  failureThreshold?: number;
  httpGet?: HTTPHealthCheckConfig;
  tcpSocket?: TCPHealthCheckConfig;
  exec?: ExecHealthCheckConfig;
  grpc?: GrpcHealthCheckConfig;
}

export interface HTTPHealthCheckConfig {
  /** Path to GET; default `/`. */
  path?: string;
  /** Port to probe, 1–65535. Required. */
  port: number;
  /** Host to connect to; default the workload's address. */
  host?: string;
  /** HTTP or HTTPS; default HTTP. */
  scheme?: string;
  /** Extra request headers. */
  httpHeaders?: { name?: string; value?: string }[];
}

export interface TCPHealthCheckConfig {
  /** Host to connect to; default localhost. */
  host?: string;
  /** Port to connect to, 1–65535. Required. */
  port: number;
}

export interface ExecHealthCheckConfig {
  /** Command run in the workload; exit 0 means ready. Required, non-empty. */
  command: string[];
}

export interface GrpcHealthCheckConfig {
  /** Port of the gRPC health service, 1–65535. */
  port?: number;
  /** Service name passed in the health check request. */
  service?: string;
}
