// What a validator returns, and what it is given. Validation never throws on bad input: it reports.
import type { FieldError } from '../../../core/result.ts';
import type { Resource } from '../resource.ts';

/** Errors make a resource invalid (Istio's webhook rejects it); warnings are printed but accepted, as Istio warns. */
export interface Validation {
  errors: FieldError[];
  warnings: FieldError[];
}

/** Settings that change what is valid (from MeshConfig and the command line), passed in as values. */
export interface ValidationContext {
  /** DNS domain suffix of the mesh, default `cluster.local`. */
  domainSuffix: string;
  /** Istio's root namespace (mesh-wide policy lives there), default `istio-system`. */
  rootNamespace: string;
}

export const defaultValidationContext: ValidationContext = { domainSuffix: 'cluster.local', rootNamespace: 'istio-system' };

/** Semantic (webhook-layer) validator for one kind. Paths in the report are from the resource root (`spec.http[0]…`). */
export type SemanticValidator = (resource: Resource, ctx: ValidationContext) => Validation;

export const emptyValidation = (): Validation => ({ errors: [], warnings: [] });

/** Collects errors and warnings under a path prefix; validators pass child collectors down the tree. */
export class Reporter {
  readonly out: Validation;
  readonly path: string;
  constructor(path = '', out: Validation = emptyValidation()) {
    this.path = path;
    this.out = out;
  }
  /** A reporter for a child field (`key`) or list item (`index`). */
  at(child: string | number): Reporter {
    const p = typeof child === 'number' ? `${this.path}[${child}]` : this.path === '' ? child : `${this.path}.${child}`;
    return new Reporter(p, this.out);
  }
  error(message: string): void {
    this.out.errors.push({ path: this.path, message });
  }
  warn(message: string): void {
    this.out.warnings.push({ path: this.path, message });
  }
}
