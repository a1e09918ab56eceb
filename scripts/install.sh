#!/usr/bin/env bash
# Installs what Slipway needs on Debian 12 as root: Debian packages, then the npm
# dependencies (native ones compile here: better-sqlite3, zstd-napi), then the build.
# Usage: bash scripts/install.sh [--test] [--bench]   (--test adds the tools the test suite drives,
#        --bench the load generator bench/ uses; not needed in CI)
set -euo pipefail
cd "$(dirname "$0")/.."

runtime_pkgs=(mmdebstrap pigz zstd ca-certificates runc catatonit slirp4netns iproute2 e2fsprogs git curl unzip)
test_pkgs=(xz-utils skopeo umoci oci-image-tool podman runc catatonit uidmap libcap2-bin attr docker-registry openssl zip chromium postgresql haproxy radosgw ceph-mon ceph-osd ceph-mgr procps)
bench_pkgs=(wrk buildah)
pkgs=("${runtime_pkgs[@]}")
for arg in "$@"; do
  [[ "$arg" == "--test" ]] && pkgs+=("${test_pkgs[@]}")
  [[ "$arg" == "--bench" ]] && pkgs+=("${bench_pkgs[@]}")
done

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Node.js 20.18.1 or later (package.json's engines; Debian 12 ships 18): the official
# build from nodejs.org, its checksum verified, into /usr/local. SLIPWAY_NODE_VERSION=v20.x.y
# pins one; an existing node that is new enough is kept.
if ! node -e 'const [a, b, c] = process.versions.node.split(".").map(Number);
  process.exit(a > 20 || (a === 20 && (b > 18 || (b === 18 && c >= 1))) ? 0 : 1)' 2>/dev/null; then
  case "$(dpkg --print-architecture)" in
    amd64) node_arch=x64 ;;
    arm64) node_arch=arm64 ;;
    *) echo "no Node.js 20 build for $(dpkg --print-architecture): install Node.js 20 yourself" >&2; exit 1 ;;
  esac
  node_dist=https://nodejs.org/dist
  node_version=${SLIPWAY_NODE_VERSION:-$(curl -fsSL "$node_dist/latest-v20.x/SHASUMS256.txt" |
    sed -n "s/.*node-\(v20\.[0-9.]*\)-linux-$node_arch\.tar\.gz\$/\1/p")}
  node_file=node-$node_version-linux-$node_arch.tar.gz
  echo "installing Node.js $node_version from $node_dist (Debian's is $(node --version 2>/dev/null || echo 'not installed'))"
  node_tmp=$(mktemp -d)
  curl -fsSLo "$node_tmp/$node_file" "$node_dist/$node_version/$node_file"
  curl -fsSLo "$node_tmp/SHASUMS256.txt" "$node_dist/$node_version/SHASUMS256.txt"
  (cd "$node_tmp" && grep " $node_file\$" SHASUMS256.txt | sha256sum -c --quiet -)
  tar -xzf "$node_tmp/$node_file" -C /usr/local --strip-components=1 --no-same-owner
  rm -rf "$node_tmp"
  hash -r
  echo "node $(node --version), npm $(npm --version)"
fi

# node_modules is keyed by the lock file; native modules take minutes to compile, so a
# built copy is kept in a cache outside the checkout and reused by later clones.
lock_hash=$(sha256sum package-lock.json | cut -c1-16)
cache_dir=${SLIPWAY_NPM_CACHE:-/var/cache/slipway}
cache_tar="$cache_dir/node_modules-$lock_hash-$(node -p process.version).tar"
if [[ -f node_modules/.lock-hash && "$(cat node_modules/.lock-hash)" == "$lock_hash" ]]; then
  :
elif [[ -f "$cache_tar" ]]; then
  echo "restoring node_modules from $cache_tar"
  rm -rf node_modules && tar -xf "$cache_tar"
else
  echo "installing npm dependencies (compiles better-sqlite3 and zstd-napi: a few minutes)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.lock-hash
  mkdir -p "$cache_dir" && tar -cf "$cache_tar.tmp" node_modules && mv "$cache_tar.tmp" "$cache_tar"
fi
echo "$lock_hash" > node_modules/.lock-hash

# tsc (dist/, the library API) and the CLI bundle bin/slipway.js runs (scripts/build.mjs).
npm run -s build
ln -sf "$PWD/bin/slipway.js" /usr/local/bin/slipway
echo "slipway installed: $(slipway --version)"
