#!/usr/bin/env bash
# The whole test suite, from a fresh machine that has only the Rust toolchain:
# installs etcd and builds kube-apiserver 1.20 once (cached under ~/.cache/harvester-hygiene),
# starts one real apiserver for the run, runs every test, stops the apiserver.
# Extra arguments go to the test runner (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-apiserver.sh

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hh-test.XXXXXX")
trap 'scripts/apiserver.sh stop "$tmp" || true; rm -rf "$tmp"' EXIT
HH_TEST_KUBECONFIG=$(scripts/apiserver.sh start "$tmp" $$)
export HH_TEST_KUBECONFIG
echo "== real kube-apiserver ready: $HH_TEST_KUBECONFIG" >&2

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-targets --no-fail-fast "$@"
else
  cargo test --workspace --all-targets --no-fail-fast "$@"
fi
