#!/usr/bin/env bash
# Slipway's main job on its embedded default (the local store, runc): make the
# default stack from Debian's packages, build the Node.js example with buildpacks,
# run it and ask it over HTTP, then hand the image to any OCI tool as a layout.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${SLIPWAY_DEMO_PORT:-8080}
out=${SLIPWAY_DEMO_OUT:-/tmp/slipway-demo}

slipway stack create default                      # mmdebstrap the first time, cached after
slipway build demo/nodejs:v1 --path examples/nodejs
slipway rm -f demo >/dev/null 2>&1 || true
slipway run -d --name demo --port "$port" demo/nodejs:v1
answer=$(node -e '
  const url = process.argv[1];
  const ask = (n) => fetch(url).then((r) => r.text()).then(console.log,
    (e) => n > 0 ? setTimeout(() => ask(n - 1), 200) : (console.error(`no answer from ${url}: ${e.message}`), process.exit(1)));
  ask(50);' "http://127.0.0.1:$port/")
echo "GET http://127.0.0.1:$port/ -> $answer"
slipway logs demo
slipway stop demo >/dev/null && slipway rm demo >/dev/null

rm -rf "$out" && mkdir -p "$out"
slipway copy demo/nodejs:v1 "oci:$out/layout:v1"
slipway images
