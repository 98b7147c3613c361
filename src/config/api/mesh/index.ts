// MeshConfig: typed with Istio's defaults, parsed from a mesh config file with Istio's merge and validation rules.
export type * from './types.ts';
export { defaultMeshConfig, defaultProxyConfig } from './defaults.ts';
export { parseMeshConfig, type ParsedMeshConfig } from './parse.ts';
