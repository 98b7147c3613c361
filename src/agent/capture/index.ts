// Transparent capture, the library `weft run --capture` uses: a workload network namespace with Istio's
// iptables rules, the original destination of redirected connections, and the checks and sweeper around them.
// See docs/capture.md.

export { captureOptions, captureRules, CapturePorts, DEFAULT_PROXY_ID, defaultCaptureOptions } from './rules.ts';
export type { CaptureOptions, DnsCapture, IpFamily } from './rules.ts';
export { applyRules, createWorkloadNamespace, NAME_PREFIX } from './namespace.ts';
export type { NamespaceSpawnOptions, WorkloadNamespace, WorkloadNamespaceOptions } from './namespace.ts';
export { originalDestination } from './original-dst.ts';
export type { OriginalDestination } from './original-dst.ts';
export { sweepStaleNamespaces } from './sweep.ts';
export type { SweepReport } from './sweep.ts';
export { assertCaptureSupported, captureProblems } from './support.ts';
export { connectInNamespace, listenInNamespace, netnsPath, relayIntoNamespace, udpSocketInNamespace } from './netns-socket.ts';
export { prepareCapturedWorkload } from './workload.ts';
export type { CapturedWorkload, CapturedWorkloadOptions } from './workload.ts';
