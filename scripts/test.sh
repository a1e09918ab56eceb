#!/usr/bin/env bash
# Installs what the tests need (Debian packages, npm dependencies) and runs the whole
# suite with node's own test runner. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
npx tsc -p tsconfig.test.json
# The CLI as published (npm run build: tsc, then the bundle bin/slipway.js runs): every test that
# spawns bin/slipway.js runs the bundle, SLIPWAY_TEST_CLI=built winning over SLIPWAY_FROM_SOURCE.
npm run -s build
export SLIPWAY_TEST_CLI=built
# The formatter and linter (Biome), and DESIGN.md's layers (dependency-cruiser): a violation fails CI.
npm run -s lint
npm run -s lint:deps
# Every benchmark at tiny sizes, one run each (about a minute): fails if a script breaks, never on a time.
sh bench/all --quick >/dev/null
# One Ceph cluster with radosgw (S3) for the whole run: each test makes a bucket of its own on it.
# At the end its daemons are killed and its directory (about 66 MB) removed.
trap 'pkill -KILL -f "slipway-ceph-" || true; sleep 0.2; rm -rf "${TMPDIR:-/tmp}"/slipway-ceph-*' EXIT
SLIPWAY_TEST_S3="$(node --import tsx scripts/test-rgw.ts)"
export SLIPWAY_TEST_S3
# The store's and registry's suites once more on the scale-out back-ends (PostgreSQL and S3).
SLIPWAY_TEST_BACKENDS=postgres+s3 node --import tsx --test --test-concurrency=2 --test-reporter=dot \
  src/store/local-store.test.ts src/server/registry/*.test.ts
mapfile -t files < <(find src test -name '*.test.ts' | sort)
node --import tsx --test --test-concurrency=2 --test-reporter=spec "${files[@]}"
