// The stores' link to the validation pipeline (config/api): the same parser and validators as `weft validate`.
import { loadText } from '../api/load.ts';
import type { ValidationContext } from '../api/validation/report.ts';
import { defaultValidationContext } from '../api/validation/report.ts';
import type { TextLoader } from './loader.ts';

/** A TextLoader that runs Weft's validation pipeline with the given mesh settings. */
export function pipelineLoader(ctx: ValidationContext = defaultValidationContext): TextLoader {
  return (text, file) => loadText(text, file, ctx);
}
