#!/usr/bin/env bash
# Slipway's main job on its embedded default (the local store), until staging exists:
# make a Debian stack image from Debian's packages, store it, export it, show it.
set -euo pipefail
cd "$(dirname "$0")/.."
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
cache=${SLIPWAY_ROOTFS_CACHE:-/var/cache/slipway/rootfs-bookworm-minbase}
if [[ ! -d "$cache" ]]; then
  echo "building a Debian bookworm minbase root filesystem with mmdebstrap (about 15 s)"
  mkdir -p "$(dirname "$cache")"
  mmdebstrap --quiet --variant=minbase bookworm "$cache.tmp"
  mv "$cache.tmp" "$cache"
fi
slipway import --rootfs "$cache" debian:bookworm --cmd /bin/bash --label org.opencontainers.image.title=debian-bookworm-minbase
out=${SLIPWAY_DEMO_OUT:-/tmp/slipway-demo}
rm -rf "$out" && mkdir -p "$out"
slipway copy debian:bookworm "oci:$out/layout:bookworm"
slipway copy debian:bookworm "docker-archive:$out/debian.tar:debian:bookworm"
slipway images
slipway inspect "oci:$out/layout:bookworm"
