#!/bin/sh
# Builds Weft's native addon (native/weft_native.c, Node-API) with node-gyp, from source, without downloads
# when this machine has Node's headers: a configured nodedir (npm config / .npmrc) wins, else the system's
# /usr/include/node. Node-API is ABI-stable, so headers of any Node >= 12 build an addon Node 24 loads.
set -e
cd "$(dirname "$0")"
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node_api.h ] && [ -f /usr/include/node/common.gypi ]; then
  npm_config_nodedir=/usr
  export npm_config_nodedir
fi
# Quiet on success: node-gyp's progress ("gyp info …", ~30 lines) is off and make's progress (stdout) is kept back;
# warnings and errors (stderr) show as they come, and on failure make's output is shown too, for context.
if out=$(node-gyp rebuild --loglevel=warn); then
  echo "weft: built the native addon (native/build/Release/weft_native.node)"
else
  status=$?
  printf '%s\n' "$out" >&2
  exit "$status"
fi
