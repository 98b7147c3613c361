// `weft up --mesh-config FILE`: Istio's MeshConfig (YAML or JSON, or the `istio` ConfigMap carrying it) read with the
// config API's one parser (src/config/api/mesh: Istio's defaults, merge and validation rules), then narrowed to the
// fields the control plane's snapshot and translation read (MeshSettings). Unknown fields are warnings, as in Istio;
// wrong types and invalid values stop the start-up with the file and field path.
import { readFile } from 'node:fs/promises';
import type { FieldError } from '../core/result.ts';
import { WeftError } from '../core/errors.ts';
import { parseMeshConfig, type MeshConfig } from '../config/api/mesh/index.ts';
import type { MeshSettings, PathNormalization, TracingCustomTag } from '../discovery/snapshot/mesh.ts';

export interface LoadedMeshConfig {
  mesh: MeshSettings;
  /** `FILE: field.path: what` lines to log. */
  warnings: string[];
}

const describe = (file: string, e: FieldError): string => (e.message.startsWith(file) ? e.message : `${file}: ${e.path ? `${e.path}: ` : ''}${e.message}`);

/** The MeshConfig fields the control plane reads, from a parsed (defaulted) MeshConfig. */
export function meshSettingsOf(m: MeshConfig): MeshSettings {
  const pn = (m['pathNormalization'] as { normalization?: string } | undefined)?.normalization;
  const tracing = m.defaultConfig.tracing;
  const sampling = tracing?.['sampling'];
  const maxPath = tracing?.['maxPathTagLength'];
  const customTags = tracing?.['customTags'];
  const tracingSettings = {
    ...(typeof sampling === 'number' ? { sampling } : {}),
    ...(typeof maxPath === 'number' ? { maxPathTagLength: maxPath } : {}),
    ...(typeof customTags === 'object' && customTags !== null ? { customTags: customTags as Record<string, TracingCustomTag> } : {}),
  };
  return {
    rootNamespace: m.rootNamespace,
    trustDomain: m.trustDomain,
    enableAutoMtls: m.enableAutoMtls,
    connectTimeout: m.connectTimeout,
    outboundTrafficPolicy: { mode: m.outboundTrafficPolicy.mode },
    defaultServiceExportTo: m.defaultServiceExportTo,
    defaultVirtualServiceExportTo: m.defaultVirtualServiceExportTo,
    defaultDestinationRuleExportTo: m.defaultDestinationRuleExportTo,
    trustDomainAliases: m.trustDomainAliases,
    extensionProviders: m.extensionProviders,
    pathNormalization: pn === undefined || pn === 'DEFAULT' ? {} : { normalization: pn as PathNormalization },
    defaultProviders: m.defaultProviders.tracing ? { tracing: m.defaultProviders.tracing } : {},
    enableTracing: m.enableTracing,
    ...(m.h2UpgradePolicy !== undefined ? { h2UpgradePolicy: m.h2UpgradePolicy as 'DO_NOT_UPGRADE' | 'UPGRADE' } : {}),
    defaultConfig: {
      ...(m.defaultConfig.meshId !== undefined ? { meshId: m.defaultConfig.meshId } : {}),
      ...(Object.keys(tracingSettings).length > 0 ? { tracing: tracingSettings } : {}),
    },
  };
}

/** Parse MeshConfig text. Throws WEFT_ERR_CONFIG_INVALID listing every error as `FILE: field.path: what`. */
export function loadMeshConfigText(text: string, file: string): LoadedMeshConfig {
  const r = parseMeshConfig(text, file);
  if (!r.ok) throw new WeftError('WEFT_ERR_CONFIG_INVALID', r.error.map((e) => describe(file, e)).join('\n'));
  return { mesh: meshSettingsOf(r.value.mesh), warnings: r.value.warnings.map((w) => describe(file, w)) };
}

export async function loadMeshConfig(file: string): Promise<LoadedMeshConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new WeftError('WEFT_ERR_IO', `cannot read the mesh config ${file}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return loadMeshConfigText(text, file);
}
