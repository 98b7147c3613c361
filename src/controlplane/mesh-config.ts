// `--mesh-config FILE`: Istio's MeshConfig (YAML or JSON), reduced to the fields Weft's control plane reads.
// Unknown fields are reported as warnings (Istio's MeshConfig is large; a file written for Istio should load),
// wrong types are errors with their field path.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { WeftError } from '../core/errors.ts';
import type { MeshSettings, PathNormalization } from '../discovery/snapshot/mesh.ts';
import { parseDurationMillis } from '../config/api/validation/common/duration.ts';

export interface LoadedMeshConfig {
  mesh: MeshSettings;
  warnings: string[];
}

const stringFields = ['rootNamespace', 'trustDomain', 'connectTimeout'] as const;
const listFields = ['defaultServiceExportTo', 'defaultVirtualServiceExportTo', 'defaultDestinationRuleExportTo'] as const;

/** Parse MeshConfig text. Throws WEFT_ERR_CONFIG_INVALID naming the file and field. */
export function parseMeshConfig(text: string, file: string): LoadedMeshConfig {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (e) {
    throw new WeftError('WEFT_ERR_CONFIG_INVALID', `${file}: not valid YAML: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (raw === null || raw === undefined) return { mesh: {}, warnings: [] };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new WeftError('WEFT_ERR_CONFIG_INVALID', `${file}: a MeshConfig must be a mapping of fields (trustDomain, rootNamespace …)`);
  const o = raw as Record<string, unknown>;
  const mesh: MeshSettings = {};
  const warnings: string[] = [];
  const bad = (field: string, what: string): never => {
    throw new WeftError('WEFT_ERR_CONFIG_INVALID', `${file}: ${field}: ${what}`);
  };
  for (const [k, v] of Object.entries(o)) {
    if ((stringFields as readonly string[]).includes(k)) {
      if (typeof v !== 'string') bad(k, 'must be a string');
      if (k === 'connectTimeout' && parseDurationMillis(v as string) === undefined) bad(k, `"${String(v)}" is not a duration such as 10s or 500ms`);
      (mesh as Record<string, unknown>)[k] = v;
    } else if ((listFields as readonly string[]).includes(k)) {
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) bad(k, 'must be a list of strings');
      (mesh as Record<string, unknown>)[k] = v;
    } else if (k === 'trustDomainAliases') {
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) bad(k, 'must be a list of strings');
      mesh.trustDomainAliases = v as string[];
    } else if (k === 'extensionProviders') {
      if (!Array.isArray(v)) bad(k, 'must be a list of providers');
      (v as unknown[]).forEach((e, i) => {
        if (typeof e !== 'object' || e === null || Array.isArray(e) || typeof (e as Record<string, unknown>)['name'] !== 'string') bad(`${k}[${i}]`, 'must be a mapping with a name and one provider (envoyExtAuthzHttp, envoyExtAuthzGrpc …)');
      });
      mesh.extensionProviders = v as Array<Record<string, unknown>>;
    } else if (k === 'pathNormalization') {
      const n = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)['normalization'] : undefined;
      if (n !== undefined && !['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES', 'DEFAULT'].includes(String(n))) bad('pathNormalization.normalization', 'must be NONE, BASE, MERGE_SLASHES or DECODE_AND_MERGE_SLASHES');
      mesh.pathNormalization = n === undefined || n === 'DEFAULT' ? {} : { normalization: n as PathNormalization };
    } else if (k === 'enableTracing') {
      if (typeof v !== 'boolean') bad(k, 'must be true or false');
      mesh.enableTracing = v as boolean;
    } else if (k === 'defaultProviders' || k === 'defaultConfig') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(k, 'must be a mapping');
      const r = v as Record<string, unknown>;
      if (k === 'defaultProviders') {
        const t = r['tracing'];
        if (t !== undefined && (!Array.isArray(t) || !t.every((x) => typeof x === 'string'))) bad('defaultProviders.tracing', 'must be a list of extension provider names');
        mesh.defaultProviders = t === undefined ? {} : { tracing: t as string[] };
      } else {
        const tr = r['tracing'] as Record<string, unknown> | undefined;
        const sampling = tr?.['sampling'];
        if (sampling !== undefined && (typeof sampling !== 'number' || sampling < 0 || sampling > 100)) bad('defaultConfig.tracing.sampling', 'must be a percentage from 0 to 100');
        mesh.defaultConfig = {
          ...(typeof r['meshId'] === 'string' ? { meshId: r['meshId'] } : {}),
          ...(typeof sampling === 'number' ? { tracing: { sampling, ...(typeof tr?.['maxPathTagLength'] === 'number' ? { maxPathTagLength: tr['maxPathTagLength'] } : {}) } } : {}),
        };
      }
    } else if (k === 'enableAutoMtls') {
      if (typeof v !== 'boolean') bad(k, 'must be true or false');
      mesh.enableAutoMtls = v as boolean;
    } else if (k === 'outboundTrafficPolicy') {
      const mode = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)['mode'] : undefined;
      if (mode !== undefined && mode !== 'ALLOW_ANY' && mode !== 'REGISTRY_ONLY') bad('outboundTrafficPolicy.mode', 'must be ALLOW_ANY or REGISTRY_ONLY');
      mesh.outboundTrafficPolicy = mode === undefined ? {} : { mode: mode as 'ALLOW_ANY' | 'REGISTRY_ONLY' };
    } else {
      warnings.push(`${file}: ${k}: not used by Weft's control plane; ignored`);
    }
  }
  return { mesh, warnings };
}

export async function loadMeshConfig(file: string): Promise<LoadedMeshConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new WeftError('WEFT_ERR_IO', `cannot read the mesh config ${file}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return parseMeshConfig(text, file);
}
