#!/usr/bin/env bash
# Generate the CustomResourceDefinitions of one Harvester release from the upstream Go modules
# pinned in testbed/crds/go.mod (what comes from where: tests/crds/README.md), into
#   ${HARVESTER_HYGIENE_CACHE:-~/.cache/harvester-hygiene}/testbed/crds-<harvester version>/
# only when that directory is missing or was made from other inputs. Prints the directory on
# stdout and the time taken on stderr.
#   scripts/build-crds.sh [--k8s-1.20]
# --k8s-1.20: also make (and print) crds-<version>-k8s1.20/, the same CRDs without the
# empty-string schema defaults (`default: ""`) that a Kubernetes 1.20 kube-apiserver rejects;
# what it removes is reported on stderr. Needs Go (>= 1.24) and the Go module proxy the first
# time; the modules and builds are cached under <cache>/go.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
src=$here/testbed/crds
cache=${HARVESTER_HYGIENE_CACHE:-$HOME/.cache/harvester-hygiene}
start=$(date +%s)
compat=
case "${1:-}" in
  --k8s-1.20) compat=1 ;;
  "") ;;
  *) echo "usage: $0 [--k8s-1.20]" >&2; exit 2 ;;
esac

version=$(awk '$1 == "github.com/harvester/harvester" { print $2; exit }' "$src/go.mod")
[ -n "$version" ] || { echo "error: no github.com/harvester/harvester version in $src/go.mod" >&2; exit 1; }
if [ -f "$here/testbed/versions.env" ]; then
  pinned=$(sed -n 's/^HARVESTER_VERSION=//p' "$here/testbed/versions.env")
  if [ -n "$pinned" ] && [ "$pinned" != "$version" ]; then
    echo "error: testbed/versions.env says HARVESTER_VERSION=$pinned, testbed/crds/go.mod $version" >&2
    exit 1
  fi
fi
out=$cache/testbed/crds-$version

# The inputs: a change to any of them makes a new generation.
inputs=$(cd "$here" && cat scripts/build-crds.sh testbed/crds/go.mod testbed/crds/go.sum testbed/crds/*.go \
  testbed/crds/controller-gen/*/go.mod testbed/crds/controller-gen/*/go.sum tests/crds/*.yaml | sha256sum | cut -d' ' -f1)
# One generation at a time (test binaries may start apiservers side by side).
mkdir -p "$cache/testbed"
exec 9> "$cache/testbed/.crds.lock"
flock 9

# make_compat: the Kubernetes 1.20 copy of $out, when asked for.
make_compat() {
  [ -n "$compat" ] || { echo "$out"; return; }
  local c=$out-k8s1.20
  if ! { [ -f "$c/.inputs" ] && [ "$(cat "$c/.inputs")" = "$inputs" ]; }; then
    rm -rf "$c.tmp" "$c"; mkdir -p "$c.tmp"
    "$cache/testbed/crds-tools/crds" k8s-1.20 "$out" "$c.tmp" 2> "$c.tmp/.removed"
    cat "$c.tmp/.removed" >&2
    cp "$out/.inputs" "$c.tmp/.inputs"
    mv "$c.tmp" "$c"
  fi
  echo "build-crds: using the Kubernetes 1.20 copy $c: $(tail -1 "$c/.removed" | sed 's/^crds: //')" >&2
  echo "$c"
}

if [ -f "$out/.inputs" ] && [ "$(cat "$out/.inputs")" = "$inputs" ] && [ -x "$cache/testbed/crds-tools/crds" ]; then
  make_compat
  echo "build-crds: $out is up to date ($(($(date +%s) - start)) s)" >&2
  exit 0
fi

command -v go >/dev/null || { echo "error: Go is needed to generate the CRDs (testbed/crds)" >&2; exit 1; }
export GOMODCACHE=$cache/go/mod GOCACHE=$cache/go/build GOFLAGS=-modcacherw GOTOOLCHAIN=local
tools=$cache/testbed/crds-tools
mkdir -p "$tools"

# controller-gen at the versions upstream generates with, each on its own dependencies.
for dir in "$src"/controller-gen/*/; do
  v=$(basename "$dir")
  if [ ! -x "$tools/controller-gen-$v" ]; then
    (cd "$dir" && go build -trimpath -o "$tools/controller-gen-$v.tmp" sigs.k8s.io/controller-tools/cmd/controller-gen)
    mv "$tools/controller-gen-$v.tmp" "$tools/controller-gen-$v"
  fi
done
(cd "$src" && go build -trimpath -o "$tools/crds.tmp" . && mv "$tools/crds.tmp" "$tools/crds")

tmp=$(mktemp -d "$cache/testbed/crds-$version.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/out" "$tmp/harvester" "$tmp/longhorn"
moddir() {
  local d
  d=$(cd "$src" && go mod download "$1" && go list -m -f '{{.Dir}}' "$1")
  [ -d "$d" ] || { echo "error: no module directory for $1" >&2; exit 1; }
  echo "$d"
}
harvester_dir=$(moddir github.com/harvester/harvester)
longhorn_dir=$(moddir github.com/longhorn/longhorn-manager)

cd "$src"
# KubeVirt: the CRD functions virt-operator installs with.
"$tools/crds" kubevirt "$tmp/out"
# Harvester: as its scripts/generate-manifest (controller-gen v0.17.1 per its Dockerfile.dapper).
"$tools/controller-gen-v0.17.1" crd paths=github.com/harvester/harvester/pkg/apis/... output:crd:dir="$tmp/harvester"
"$tools/crds" finish harvester "$tmp/out" "$tmp"/harvester/*.yaml
# Longhorn: as its k8s/generate_code.sh (controller-gen v0.15.0, then its kustomize patches).
"$tools/controller-gen-v0.15.0" crd paths=github.com/longhorn/longhorn-manager/k8s/pkg/apis/... output:crd:dir="$tmp/longhorn"
"$tools/crds" finish longhorn "$tmp/out" --module "$longhorn_dir" "$tmp"/longhorn/*.yaml
# external-snapshotter: the 6.3.4 CRDs Harvester ships in its harvester-crd chart (upstream
# edits them by hand after controller-gen; see tests/crds/README.md).
"$tools/crds" finish copy "$tmp/out" "$harvester_dir"/deploy/charts/harvester-crd/templates/volumesnapshot*.yaml
# vm-import-controller and harvester-load-balancer: not served by the module proxy; the
# committed files in tests/crds (see its README).
"$tools/crds" finish copy "$tmp/out" "$here"/tests/crds/*.yaml

echo "$inputs" > "$tmp/out/.inputs"
rm -rf "$out"
mv "$tmp/out" "$out"
make_compat
echo "build-crds: generated $(ls "$out" | wc -l) CRDs into $out in $(($(date +%s) - start)) s" >&2
