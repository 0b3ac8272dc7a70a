#!/usr/bin/env bash
# The packaging tests' tools, built from the Go module proxy through the wrapper modules under
# testbed/ (pinned in their go.mod/go.sum) and cached like the test bed:
#   helm                    helm.sh/helm/v3 cmd/helm            (testbed/helm)
#   fleet-values            Fleet's values templating for one cluster (testbed/helm/fleetvalues)
#   validate-krew-manifest  sigs.k8s.io/krew cmd/validate-krew-manifest (testbed/krew)
#   kubectl-krew            sigs.k8s.io/krew cmd/krew, the same version (testbed/krew)
#   monitoring CRDs         ServiceMonitor and PrometheusRule from github.com/prometheus-operator/
#                           prometheus-operator example/prometheus-operator-crd (testbed/prometheus-operator)
#   promtool, buildah       Debian's `prometheus` and `buildah` packages (apt), for `promtool test
#                           rules` and the image build
# into $CACHE/testbed/chart-tools/, CACHE=${HARVESTER_HYGIENE_CACHE:-~/.cache/harvester-hygiene}
# (modules and builds in $CACHE/go/mod and $CACHE/go/build). Only what is missing or stale (its
# wrapper module, the Go version or the flags changed) is built. Prints NAME=PATH lines on stdout
# (promtool= or buildah= empty when they cannot be installed), build times on stderr. scripts/test.sh runs it
# before the tests; tests/packaging_chart.rs runs it too (a no-op when everything is cached).
#   HH_NO_APT=1: do not apt-get install them (the tests that need them then fail and say why).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
CACHE="${HARVESTER_HYGIENE_CACHE:-$HOME/.cache/harvester-hygiene}"
OUT="$CACHE/testbed/chart-tools"
mkdir -p "$OUT"
# One build at a time (test binaries may ask side by side).
exec 9> "$OUT/.lock"
flock 9

command -v go >/dev/null 2>&1 || { echo "error: the Go toolchain (go >= 1.24) is needed to build helm and krew's validator" >&2; exit 1; }
export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build"
export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false -modcacherw" CGO_ENABLED=0
go_version=$(go env GOVERSION)

modver() { awk -v m="$1" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$2"; }
helm_version=$(modver helm.sh/helm/v3 "$here/testbed/helm/go.mod")
k8s_version=$(modver k8s.io/client-go "$here/testbed/helm/go.mod")
[ -n "$helm_version" ] && [ -n "$k8s_version" ] || { echo "error: no helm or client-go version in testbed/helm/go.mod" >&2; exit 1; }
k8s_minor=${k8s_version#v0.}; k8s_minor=${k8s_minor%%.*}
# As helm's Makefile stamps its version and the Kubernetes version `helm template` assumes
# (helm/helm Makefile: LDFLAGS for internal/version and pkg/chartutil).
helm_x="-X helm.sh/helm/v3/internal/version.version=$helm_version -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
helm_x+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor"
helm_x+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor"

# build NAME MODULE_DIR PACKAGE LDFLAGS_EXTRA: $OUT/NAME unless its stamp matches.
build() {
  local name=$1 mod=$2 pkg=$3 ldx=$4 stamp src=$2
  # The wrapper's go.mod (without comments) and go.sum, and the package's own files when it is
  # one of the wrapper's (./dir).
  case $pkg in ./*) src=$mod/${pkg#./} ;; esac
  stamp=$({ grep -v '^[[:space:]]*//' "$mod/go.mod"; cat "$mod/go.sum";
    find "$src" -maxdepth 1 -type f -name '*.go' -print0 | sort -z | xargs -0 -r cat; } | sha256sum | cut -d' ' -f1)
  stamp="$stamp $go_version $pkg $ldx"
  if [ -x "$OUT/$name" ] && [ "$(cat "$OUT/.$name.stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "== $name: cached $OUT/$name" >&2
  else
    echo "== building $name ($pkg) ..." >&2
    local t0=$SECONDS
    (cd "$mod" && go build -trimpath -ldflags "-s -w $ldx" -o "$OUT/$name.tmp" "$pkg") \
      || { echo "error: building $name failed" >&2; exit 1; }
    mv "$OUT/$name.tmp" "$OUT/$name"
    printf '%s\n' "$stamp" > "$OUT/.$name.stamp"
    echo "== built $name in $((SECONDS - t0))s: $OUT/$name" >&2
  fi
  echo "$name=$OUT/$name"
}

build helm "$here/testbed/helm" helm.sh/helm/v3/cmd/helm "$helm_x"
build fleet-values "$here/testbed/helm" ./fleetvalues ""
build validate-krew-manifest "$here/testbed/krew" sigs.k8s.io/krew/cmd/validate-krew-manifest ""
# krew as a kubectl plugin (kubectl-krew), at the validator's version.
build kubectl-krew "$here/testbed/krew" sigs.k8s.io/krew/cmd/krew ""

# The two prometheus-operator CRDs, as upstream publishes them in its module.
po=$here/testbed/prometheus-operator
po_version=$(modver github.com/prometheus-operator/prometheus-operator "$po/go.mod")
crds="$OUT/monitoring-crds-$po_version"
if [ ! -f "$crds/.done" ]; then
  d=$(cd "$po" && go mod download github.com/prometheus-operator/prometheus-operator \
    && go list -m -f '{{.Dir}}' github.com/prometheus-operator/prometheus-operator)
  rm -rf "$crds.tmp"; mkdir -p "$crds.tmp"
  for k in servicemonitors prometheusrules; do
    cp "$d/example/prometheus-operator-crd/monitoring.coreos.com_$k.yaml" "$crds.tmp/"
  done
  touch "$crds.tmp/.done"; rm -rf "$crds"; mv "$crds.tmp" "$crds"
fi
echo "monitoring-crds=$crds"

# promtool (Debian's prometheus package: what `promtool test rules` needs; nothing of it runs) and
# buildah (builds the Dockerfile's final stage as root; tests/packaging.rs).
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi; }
want=()
command -v promtool >/dev/null 2>&1 || want+=(prometheus)
command -v buildah >/dev/null 2>&1 || want+=(buildah)
if [ ${#want[@]} -gt 0 ] && [ -z "${HH_NO_APT:-}" ]; then
  echo "== apt-get install ${want[*]} (promtool, buildah)" >&2
  # A policy-rc.d that answers 101 keeps the prometheus service from starting (one made here is
  # removed again; an existing one is left as it is).
  made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ] && as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d' 2>/dev/null; then
    made_policy=1
  fi
  { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}"; } >&2 \
    || echo "warning: apt-get install ${want[*]} failed (no root, sudo or apt?); the tests that need them fail and say so" >&2
  [ -z "$made_policy" ] || as_root rm -f /usr/sbin/policy-rc.d || true
fi
echo "promtool=$(command -v promtool || true)"
echo "buildah=$(command -v buildah || true)"
