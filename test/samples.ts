// Where Istio's sample configuration lives for tests: ../shared/istio-samples beside the checkout (as in CI).
// Tests that need it fail loudly when it is missing, rather than skipping and passing silently.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of the istio-samples directory, with a trailing slash. */
export const istioSamples = fileURLToPath(new URL('../../shared/istio-samples/', import.meta.url));

if (!existsSync(istioSamples)) {
  throw new Error(`Istio samples not found at ${istioSamples}: tests expect ../shared/istio-samples beside the checkout.`);
}

/** Path of a file or folder inside istio-samples. */
export const samplePath = (relative: string): string => istioSamples + relative;
