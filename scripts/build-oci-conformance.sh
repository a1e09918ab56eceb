#!/usr/bin/env bash
# Builds the OCI distribution-spec conformance suite for scripts/oci-conformance.ts on
# Debian 12, offline but for Debian's mirror: Go 1.23 from bookworm-backports, and the
# suite's four modules from checkouts given here (no module proxy). The suite asks for
# Go 1.24 for two calls only (crypto/rand.Text, strings.SplitSeq): in a scratch copy
# they are replaced by equivalents, and nothing of the suite is kept in this repository.
#
#   scripts/build-oci-conformance.sh DISTRIBUTION_SPEC GO_YAML GO_DIGEST IMAGE_SPEC [OUT]
#
# DISTRIBUTION_SPEC: a checkout of github.com/opencontainers/distribution-spec;
# GO_YAML: github.com/goccy/go-yaml at v1.18.0; GO_DIGEST: github.com/opencontainers/go-digest
# at v1.0.0; IMAGE_SPEC: github.com/opencontainers/image-spec at v1.1.1. OUT defaults to
# /var/tmp/slipway-conformance/conformance.test.
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,13p' "$0"; exit 2; }
spec=$(realpath "$1") yaml=$(realpath "$2") digest=$(realpath "$3") image=$(realpath "$4")
out=${5:-/var/tmp/slipway-conformance/conformance.test}

if [ ! -x /usr/lib/go-1.23/bin/go ]; then
  echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/bookworm-backports.list
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports golang-1.23-go
fi
export PATH=/usr/lib/go-1.23/bin:$PATH GOPROXY=off GOFLAGS=-mod=mod GOSUMDB=off GOTOOLCHAIN=local

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp -r "$spec/conformance" "$spec/specs-go" "$scratch/"
cd "$scratch/conformance"
sed -i 's/^go 1\.24.*/go 1.23/' go.mod
go mod edit \
  -replace "github.com/goccy/go-yaml=$yaml" \
  -replace "github.com/opencontainers/go-digest=$digest" \
  -replace "github.com/opencontainers/image-spec=$image" \
  -replace "github.com/opencontainers/distribution-spec/specs-go=../specs-go"
rm -f go.sum
sed -i 's/for \([a-z]*\) := range strings\.SplitSeq(/for _, \1 := range strings.Split(/' ./*.go
sed -i 's/rand\.Text()/randText()/g' ./*.go
cat > go123.go <<'EOF'
package main

import (
	"crypto/rand"
	"encoding/base32"
)

// randText is Go 1.24's crypto/rand.Text on Go 1.23: 26 base32 characters, 128 random bits.
func randText() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)[:26]
}
EOF
mkdir -p "$(dirname "$out")"
go test -c -o "$out" .
echo "built $out"
