#!/usr/bin/env bash
# The policy-report CustomResourceDefinitions, as their upstream modules ship them, from the
# Go modules pinned in testbed/report-crds/go.mod (see its comments), into
#   ${HARVESTER_HYGIENE_CACHE:-~/.cache/harvester-hygiene}/testbed/report-crds-<hash>/
# (only when that directory is missing): wgpolicyk8s.io PolicyReport and ClusterPolicyReport
# (v1alpha2) and openreports.io Report and ClusterReport (v1alpha1). Prints the directory on
# stdout. They are not part of the test bed's default CRDs (a cluster without them is the
# common case and must be skipped with a note); tests/policy_reports.rs creates them.
# Needs Go and the Go module proxy the first time; modules are cached under <cache>/go.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
src=$here/testbed/report-crds
cache=${HARVESTER_HYGIENE_CACHE:-$HOME/.cache/harvester-hygiene}
inputs=$(cd "$here" && cat scripts/report-crds.sh testbed/report-crds/go.mod testbed/report-crds/go.sum | sha256sum | cut -c1-16)
out=$cache/testbed/report-crds-$inputs
if [ -f "$out/.done" ]; then
  echo "$out"
  exit 0
fi
command -v go >/dev/null || { echo "error: Go is needed to fetch the policy-report CRDs (testbed/report-crds)" >&2; exit 1; }
export GOMODCACHE=$cache/go/mod GOCACHE=$cache/go/build GOFLAGS=-modcacherw GOTOOLCHAIN=local
mkdir -p "$cache/testbed"
exec 9> "$cache/testbed/.report-crds.lock"
flock 9
[ -f "$out/.done" ] && { echo "$out"; exit 0; }
moddir() {
  local d
  d=$(cd "$src" && go mod download "$1" && go list -m -f '{{.Dir}}' "$1")
  [ -d "$d" ] || { echo "error: no module directory for $1" >&2; exit 1; }
  echo "$d"
}
wg=$(moddir sigs.k8s.io/wg-policy-prototypes)
or=$(moddir github.com/openreports/reports-api)
tmp=$(mktemp -d "$cache/testbed/report-crds.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp "$wg"/policy-report/crd/v1alpha2/wgpolicyk8s.io_policyreports.yaml \
   "$wg"/policy-report/crd/v1alpha2/wgpolicyk8s.io_clusterpolicyreports.yaml \
   "$or"/config/crd/openreports.io_reports.yaml \
   "$or"/config/crd/openreports.io_clusterreports.yaml "$tmp/"
chmod 644 "$tmp"/*.yaml
touch "$tmp/.done"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "$out"
