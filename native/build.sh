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
exec node-gyp rebuild
