// Result values for parsers and validators: the error side is data (a list of field errors), not an exception.
// Every parser in Weft returns one of these so the CLI, the store, the webhook and tests share one shape.

/** One problem found in an input, anchored at a field path such as `spec.http[0].route[1].weight`. */
export interface FieldError {
  /** Field path from the resource root, in the dotted/indexed form Istio prints. Empty for the whole document. */
  path: string;
  /** What is wrong and, where it helps, what to do instead. */
  message: string;
}

export type Result<T, E = FieldError[]> = { ok: true; value: T } | { ok: false; error: E };

export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const err = <E>(error: E): Result<never, E> => ({ ok: false, error });

/** Join a parent field path and a child key or index the way Istio prints paths. */
export function joinPath(parent: string, child: string | number): string {
  if (typeof child === 'number') return `${parent}[${child}]`;
  return parent === '' ? child : `${parent}.${child}`;
}

/** Exhaustiveness guard for `switch` over discriminated unions. */
export function assertNever(x: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(x)}`);
}
