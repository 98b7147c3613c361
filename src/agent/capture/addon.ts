// Loads Weft's native addon (native/, built by `npm install` through node-gyp) once, on first use, so that the
// rest of Weft runs without it; only transparent capture needs it. A missing build becomes one clear error.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { WeftError } from '../../core/errors.ts';

/** What native/weft_native.c exports. */
export interface NativeAddon {
  /** getsockopt(SO_ORIGINAL_DST or IP6T_SO_ORIGINAL_DST) on a connected TCP socket's fd; throws with `code` = errno name. */
  originalDst(fd: number): { address: string; port: number; family: 4 | 6 };
  /** A socket created inside the namespace at nsPath (optionally bound, owned by ownerGid when >= 0); returns its fd. */
  socketInNetns(nsPath: string, family: 4 | 6, udp: boolean, bindAddress: string | null, bindPort: number, ownerGid: number): number;
}

/** Where node-gyp puts the addon. */
export const addonPath = fileURLToPath(new URL('../../../native/build/Release/weft_native.node', import.meta.url));

let loaded: NativeAddon | WeftError | undefined;

/** The addon, or a WeftError (WEFT_ERR_UNAVAILABLE) that says how to build it. `path` is for tests. */
export function loadAddon(path = addonPath): NativeAddon | WeftError {
  if (path === addonPath && loaded) return loaded;
  let result: NativeAddon | WeftError;
  try {
    const mod: unknown = createRequire(import.meta.url)(path);
    if (typeof mod !== 'object' || mod === null || typeof (mod as { originalDst?: unknown }).originalDst !== 'function' || typeof (mod as { socketInNetns?: unknown }).socketInNetns !== 'function') {
      throw new TypeError(`${path} does not export originalDst and socketInNetns: rebuild it`);
    }
    result = mod as NativeAddon;
  } catch (cause) {
    result = new WeftError(
      'WEFT_ERR_UNAVAILABLE',
      `transparent capture needs Weft's native addon, which is not built (${path}). ` +
        'Build it with `npm run build:native` (needs a C compiler, make and python3); `npm install` builds it too.',
      { cause },
    );
  }
  if (path === addonPath) loaded = result;
  return result;
}

/** The addon; throws the build instructions when it is missing. */
export function requireAddon(): NativeAddon {
  const addon = loadAddon();
  if (addon instanceof WeftError) throw addon;
  return addon;
}
