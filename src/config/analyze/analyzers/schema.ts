// IST0106 (a validation error, as `weft validate` reports it) and IST0133 (a validation warning of a kind Weft acts on).
import type { Analyzer } from '../context.ts';

/**
 * The webhook's unreachable-rule and ineffective-match warnings: Istio turns these into IST0130/IST0131
 * (morePreciseMessage), which the unreachable-rule analyzer reports with their parameters, so they are not
 * repeated here as IST0133.
 */
const precise = /^virtualService rule .*(not used \(|is not used \(duplicate\/overlapping)/;

const text = (e: { path: string; message: string }): string => (e.path === '' ? e.message : `${e.path}: ${e.message}`);

export const schemaValidation: Analyzer = {
  name: 'schema.ValidationAnalyzer',
  description: "Runs Weft's validation pipeline (Istio's schema and webhook rules) as an analyzer",
  analyze(ctx) {
    for (const item of ctx.all()) {
      for (const e of item.errors) ctx.report('SchemaValidationError', item, text(e));
      if (item.support === 'mesh') for (const w of item.warnings) if (!precise.test(w.message)) ctx.report('SchemaWarning', item, text(w));
    }
  },
};
