#!/usr/bin/env bash
# The whole test suite, from a fresh machine that has only the Go and Rust toolchains:
# scripts/install-testbed.sh installs the apt packages and builds the test bed once (etcd 3.6 and
# kube-apiserver, kube-controller-manager and kubectl 1.34, cached under ~/.cache/harvester-hygiene)
# and scripts/chart-tools.sh the packaging tests' tools (helm, krew's validator, ...),
# then one real etcd + apiserver + controller manager runs for the whole run (scripts/apiserver.sh),
# every test runs with the test bed's kubectl first on PATH, and the servers are stopped.
# Extra arguments go to the test runner (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-testbed.sh
# helm, Fleet's values templating, krew's validator, prometheus-operator's CRDs, promtool, buildah
# (the packaging tests; built or installed once, cached).
scripts/chart-tools.sh >/dev/null
. testbed/versions.env
PATH="${HARVESTER_HYGIENE_CACHE:-$HOME/.cache/harvester-hygiene}/testbed/k8s-$K8S_VERSION/bin:$PATH"
export PATH

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hh-test.XXXXXX")
trap 'scripts/apiserver.sh stop "$tmp" || true; rm -rf "$tmp"' EXIT
HH_TEST_KUBECONFIG=$(scripts/apiserver.sh start "$tmp" $$)
export HH_TEST_KUBECONFIG
echo "== real kube-apiserver $K8S_VERSION and controller manager ready: $HH_TEST_KUBECONFIG ($(kubectl version --client -o json | grep -m1 gitVersion | tr -d ' ,'))" >&2

status=0
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-targets --no-fail-fast "$@" || status=$?
else
  cargo test --workspace --all-targets --no-fail-fast "$@" || status=$?
fi
# Doc tests (e.g. the compile_fail check that an unkept metadata key does not build): neither
# runner's --all-targets includes them.
if [ $# -eq 0 ]; then
  cargo test --workspace --doc --no-fail-fast || status=$?
fi
exit "$status"
