#!/usr/bin/env bash
# Generate the Rancher CRDs the --rancher-kubeconfig tests install (provisioning.cattle.io/v1
# Cluster and rke-machine.cattle.io/v1 HarvesterMachine), built as Rancher builds them at run time
# from the Go module pinned in testbed/rancher-crds/go.mod (see its main.go), into
#   ${HARVESTER_HYGIENE_CACHE:-~/.cache/harvester-hygiene}/testbed/rancher-crds/
# only when that directory is missing or was made from other inputs. Prints the directory.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
src=$here/testbed/rancher-crds
cache=${HARVESTER_HYGIENE_CACHE:-$HOME/.cache/harvester-hygiene}
out=$cache/testbed/rancher-crds
start=$(date +%s)
inputs=$(cd "$here" && cat scripts/build-rancher-crds.sh testbed/rancher-crds/go.mod testbed/rancher-crds/go.sum testbed/rancher-crds/main.go | sha256sum | cut -d' ' -f1)
mkdir -p "$cache/testbed"
exec 9> "$cache/testbed/.rancher-crds.lock"
flock 9
if [ -f "$out/.inputs" ] && [ "$(cat "$out/.inputs")" = "$inputs" ]; then
  echo "build-rancher-crds: $out is up to date" >&2
  echo "$out"
  exit 0
fi
command -v go >/dev/null || { echo "error: Go is needed to generate the Rancher CRDs (testbed/rancher-crds)" >&2; exit 1; }
export GOMODCACHE=$cache/go/mod GOCACHE=$cache/go/build GOFLAGS=-modcacherw GOTOOLCHAIN=local
tmp=$(mktemp -d "$cache/testbed/rancher-crds.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$src" && go build -trimpath -o "$tmp/rancher-crds" .)
mkdir "$tmp/out"
"$tmp/rancher-crds" "$tmp/out"
echo "$inputs" > "$tmp/out/.inputs"
rm -rf "$out"
mv "$tmp/out" "$out"
echo "build-rancher-crds: generated $(ls "$out" | wc -l) CRDs into $out in $(($(date +%s) - start)) s" >&2
echo "$out"
