#!/usr/bin/env bash
# Installs the live-test bed on a fresh Debian machine that has the Go and Rust toolchains:
#   * apt packages the tests use: openssl, curl, python3, prometheus-pushgateway (the job's metrics test);
#   * etcd (go.etcd.io/etcd/server/v3) and kube-apiserver, kube-controller-manager and kubectl of
#     k8s.io/kubernetes, built from the Go module proxy through the wrapper modules testbed/etcd and
#     testbed/k8s at the versions pinned in testbed/versions.env.
# Binaries land in $CACHE/testbed/etcd-<v>/bin and $CACHE/testbed/k8s-<v>/bin, with
# CACHE=${HARVESTER_HYGIENE_CACHE:-~/.cache/harvester-hygiene}; the module and build caches are
# $CACHE/go/mod and $CACHE/go/build. Only a missing (or stale: its wrapper module, the Go version or
# the build flags changed) binary is built, so a warm machine builds nothing.
# A cold build of the four binaries took 824 s on 2 busy cores (README.md, "The test bed").
# Prints where each binary is, and the build time of each one it built.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../testbed/versions.env
. "$here/testbed/versions.env"

CACHE="${HARVESTER_HYGIENE_CACHE:-$HOME/.cache/harvester-hygiene}"
TB="$CACHE/testbed"
ETCD_DIR="$TB/etcd-$ETCD_VERSION/bin"
K8S_DIR="$TB/k8s-$K8S_VERSION/bin"
mkdir -p "$ETCD_DIR" "$K8S_DIR"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "error: need root (or sudo) to run: $*" >&2; exit 1; fi; }

need_pkgs=()
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
command -v python3 >/dev/null 2>&1 || need_pkgs+=(python3)
command -v prometheus-pushgateway >/dev/null 2>&1 || need_pkgs+=(prometheus-pushgateway)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "== apt-get install ${need_pkgs[*]}" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

command -v go >/dev/null 2>&1 || { echo "error: the Go toolchain (go >= 1.26) is needed to build the test bed" >&2; exit 1; }
export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build"
# Never fetch another toolchain; read go.mod/go.sum as committed; static binaries.
export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0
go_version=$(go env GOVERSION)

build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
k8s_minor=${K8S_VERSION#v1.}; k8s_minor=${k8s_minor%%.*}
k8s_x=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  # As upstream's hack/lib/version.sh (kube::version::ldflags) stamps both packages. The module proxy
  # serves no commit id, so gitCommit is left empty rather than the "$Format:%H$" placeholder.
  k8s_x+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
  k8s_x+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit= -X $pkg.buildDate=$build_date"
done
# Tags as upstream's non-debug build (kubernetes hack/lib/golang.sh: selinux,notest,grpcnotrace).
k8s_tags=selinux,notest,grpcnotrace

# build NAME OUT_DIR MODULE_DIR PACKAGE LDFLAGS_EXTRA TAGS: builds OUT_DIR/NAME unless it is there with
# a stamp matching the wrapper module, the Go version and the flags.
build() {
  local name=$1 out=$2 mod=$3 pkg=$4 ldx=$5 tags=$6
  local stamp_want stamp_file="$out/.$name.stamp"
  # The build date is not part of the stamp (it changes every run), nor go.mod's comment lines;
  # everything else that shapes the binary is.
  stamp_want=$({ grep -v '^[[:space:]]*//' "$mod/go.mod"; cat "$mod/go.sum";
    find "$mod" -maxdepth 1 -type f -name '*.go' -print0 | sort -z | xargs -0 -r cat; } | sha256sum | cut -d' ' -f1)
  stamp_want="$stamp_want $go_version $pkg tags=$tags ${ldx//$build_date/}"
  if [ -x "$out/$name" ] && [ "$(cat "$stamp_file" 2>/dev/null)" = "$stamp_want" ]; then
    echo "== $name: cached $out/$name" >&2
    return
  fi
  echo "== building $name ($pkg) ..." >&2
  local t0=$SECONDS
  (cd "$mod" && go build -trimpath -tags "$tags" -ldflags "-s -w$ldx" -o "$out/$name.tmp" "$pkg") \
    || { echo "error: building $name failed" >&2; exit 1; }
  mv "$out/$name.tmp" "$out/$name"
  printf '%s\n' "$stamp_want" > "$stamp_file"
  echo "== built $name in $((SECONDS - t0))s: $out/$name" >&2
}

build etcd "$ETCD_DIR" "$here/testbed/etcd" . "" ""
build kube-apiserver "$K8S_DIR" "$here/testbed/k8s" k8s.io/kubernetes/cmd/kube-apiserver "$k8s_x" "$k8s_tags"
build kube-controller-manager "$K8S_DIR" "$here/testbed/k8s" k8s.io/kubernetes/cmd/kube-controller-manager "$k8s_x" "$k8s_tags"
build kubectl "$K8S_DIR" "$here/testbed/k8s" k8s.io/kubernetes/cmd/kubectl "$k8s_x" "$k8s_tags"
echo "test bed: etcd $ETCD_VERSION in $ETCD_DIR; kubernetes $K8S_VERSION in $K8S_DIR" >&2
