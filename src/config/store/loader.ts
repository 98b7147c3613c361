// Turns one input (a file's text) into store candidates with the shared validation pipeline, or into a
// rejection. A file is all or nothing: one invalid document rejects the whole file, so that a half-edited
// file never leaves the mesh with half of a change.
import type { FieldError } from '../../core/result.ts';
import type { Origin, Resource, ResourceKey } from '../api/resource.ts';
import type { Candidate } from './state.ts';
import { contentVersion } from './state.ts';
import type { RejectedError, Rejection } from './types.ts';

/** What the validation pipeline returns per document (structurally H3's LoadedResource). */
export interface LoadedLike {
  origin: Origin;
  key: ResourceKey;
  resource: Resource;
  valid: boolean;
  errors: FieldError[];
  warnings: FieldError[];
  /** `skipped` marks a kind from another API group that the pipeline did not validate: stores leave it out. */
  support?: string;
}

/** The pipeline entry point the stores use: parse and validate a file's text. Must not throw on bad input. */
export type TextLoader = (text: string, file: string) => LoadedLike[];

export type InputOutcome = { ok: true; candidates: Candidate[] } | { ok: false; rejection: Rejection };

export function toCandidates(loaded: LoadedLike[], file: string): InputOutcome {
  const errors: RejectedError[] = [];
  const candidates: Candidate[] = [];
  for (const l of loaded) {
    if (!l.valid || l.errors.length > 0) {
      const hasKey = l.key.kind !== '' && l.key.name !== '';
      for (const e of l.errors) errors.push({ path: e.path, message: e.message, document: l.origin.document, ...(hasKey ? { key: l.key } : {}) });
      if (l.errors.length === 0) errors.push({ path: '', message: 'invalid document', document: l.origin.document });
      continue;
    }
    if (l.support === 'skipped' || l.support === 'unparsed') continue;
    candidates.push({ key: l.key, resource: l.resource, origin: l.origin, warnings: l.warnings, version: contentVersion(l.resource, l.key) });
  }
  return errors.length > 0 ? { ok: false, rejection: { file, errors } } : { ok: true, candidates };
}

/** Runs the loader, turning an unexpected exception into a rejection rather than a crash of the store. */
export function loadInput(load: TextLoader, text: string, file: string): InputOutcome {
  try {
    return toCandidates(load(text, file), file);
  } catch (e) {
    return { ok: false, rejection: { file, errors: [{ path: '', message: `could not load: ${e instanceof Error ? e.message : String(e)}` }] } };
  }
}
