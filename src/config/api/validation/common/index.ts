// The shared value validators of Istio's config API (durations, regexes, hosts, addresses, labels, numbers, HTTP
// values), used by every kind's semantic validator and by the proxy/translator for parsing the same values.
export * from './duration.ts';
export * from './regex.ts';
export * from './host.ts';
export * from './net.ts';
export * from './labels.ts';
export * from './percent.ts';
export * from './http.ts';
export * from './metadata.ts';
