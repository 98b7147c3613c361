// The shape of the generated CRD data (crds.gen.json): the validating subset of Kubernetes'
// JSONSchemaProps, with Istio's prose removed. scripts/gen-crd-schema.ts writes it; structural.ts reads it.

/** One CEL rule from `x-kubernetes-validations`, as the API server receives it. */
export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  /** JSONPath-like path (`.foo.bar`) relative to the node the rule sits on, where the error is reported. */
  fieldPath?: string;
  /** FieldValueInvalid (default), FieldValueForbidden, FieldValueRequired, FieldValueDuplicate. */
  reason?: string;
  optionalOldSelf?: boolean;
}

/** The validating keywords of an OpenAPI v3 schema node as Kubernetes structural schemas allow them. */
export interface SchemaNode {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minProperties?: number;
  maxProperties?: number;
  items?: SchemaNode;
  /** A schema for map values, or `true`/`false`. */
  additionalProperties?: SchemaNode | boolean;
  oneOf?: SchemaNode[];
  anyOf?: SchemaNode[];
  allOf?: SchemaNode[];
  not?: SchemaNode;
  nullable?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-validations'?: ValidationRule[];
}

/** The keys of SchemaNode that the generator copies; everything else (description, example, …) is dropped. */
export const SCHEMA_KEYS: ReadonlySet<string> = new Set([
  'type', 'format', 'properties', 'required', 'enum', 'pattern', 'minimum', 'maximum', 'exclusiveMinimum',
  'exclusiveMaximum', 'multipleOf', 'minLength', 'maxLength', 'minItems', 'maxItems', 'uniqueItems',
  'minProperties', 'maxProperties', 'items', 'additionalProperties', 'oneOf', 'anyOf', 'allOf', 'not',
  'nullable', 'x-kubernetes-int-or-string', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-embedded-resource',
  'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-map-type', 'x-kubernetes-validations',
]);

/** The keys of a ValidationRule that the generator copies. */
export const RULE_KEYS: ReadonlySet<string> = new Set(['rule', 'message', 'messageExpression', 'fieldPath', 'reason', 'optionalOldSelf']);

/** One served version of a CRD; `schema` indexes CrdData.schemas (identical schemas are stored once). */
export interface CrdVersion {
  name: string;
  storage: boolean;
  schema: number;
}

export interface CrdEntry {
  group: string;
  kind: string;
  plural: string;
  scope: 'Namespaced' | 'Cluster';
  versions: CrdVersion[];
}

/** The whole generated file. */
export interface CrdData {
  /** Provenance: where the data came from and that it is derived, not hand-written. */
  generatedFrom: string;
  crds: CrdEntry[];
  schemas: SchemaNode[];
}
