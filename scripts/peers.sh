#!/usr/bin/env bash
# The peers of issue 13 (item 5 and 6): the tools users would otherwise pick, built from the Go module
# proxy through the wrapper modules under testbed/peers/ (module names and pinned versions only):
#   popeye  github.com/derailed/popeye v0.22.1          (testbed/peers/popeye)
#   kor     github.com/yonahd/kor v0.4.2                 (testbed/peers/kor; v0.4.3..v0.6.x refused by the proxy)
#   fleet   github.com/rancher/fleet cmd/fleetcli v0.12.0 (testbed/peers/fleet, with the replace lines
#           of fleet's own go.mod)
# into $CACHE/peers/bin, CACHE=${HARVESTER_HYGIENE_CACHE:-~/.cache/harvester-hygiene} (modules and builds
# in $CACHE/go/mod and $CACHE/go/build, as scripts/install-testbed.sh). Never run by CI or scripts/test.sh.
#
#   scripts/peers.sh build          build what is missing or stale, print NAME=PATH and build times
#   scripts/peers.sh fleet          Fleet's own rendering of charts/harvester-hygiene for labelled
#                                   clusters vs testbed/helm/fleetvalues (cargo test --features peers ... fleet_real)
#   scripts/peers.sh bench [SCALE]  the bench (examples/bench) with --peers: our scan, popeye and kor on
#                                   the same loaded cluster (default scale 1)
#   scripts/peers.sh all            the three
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
CACHE="${HARVESTER_HYGIENE_CACHE:-$HOME/.cache/harvester-hygiene}"
OUT="$CACHE/peers/bin"
mkdir -p "$OUT"
exec 9> "$OUT/.lock"
flock 9

command -v go >/dev/null 2>&1 || { echo "error: the Go toolchain is needed to build the peers" >&2; exit 1; }
export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build"
export GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false -modcacherw" CGO_ENABLED=0
go_version=$(go env GOVERSION)
# Two shared cores: one package at a time when the machine is busy.
load=$(cut -d' ' -f1 /proc/loadavg)
par=""
if [ "${load%.*}" -ge 2 ]; then par="-p 1"; fi

modver() { awk -v m="$1" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$2"; }

# build NAME MODULE_DIR PACKAGE LDFLAGS_EXTRA: builds $OUT/NAME unless its stamp (wrapper module, Go
# version, flags) matches.
build() {
  local name=$1 mod=$2 pkg=$3 ldx=$4
  local stamp_want stamp_file="$OUT/.$name.stamp"
  stamp_want=$({ grep -v '^[[:space:]]*//' "$mod/go.mod"; cat "$mod/go.sum"; } | sha256sum | cut -d' ' -f1)
  stamp_want="$stamp_want $go_version $pkg $ldx"
  if [ -x "$OUT/$name" ] && [ "$(cat "$stamp_file" 2>/dev/null)" = "$stamp_want" ]; then
    echo "== $name: cached $OUT/$name" >&2
    return 0
  fi
  echo "== building $name ($pkg) ${par} ..." >&2
  local t0=$SECONDS
  # shellcheck disable=SC2086
  if ! (cd "$mod" && go build $par -trimpath -ldflags "-s -w$ldx" -o "$OUT/$name.tmp" "$pkg"); then
    echo "error: building $name failed (above)" >&2
    return 1
  fi
  mv "$OUT/$name.tmp" "$OUT/$name"
  printf '%s\n' "$stamp_want" > "$stamp_file"
  echo "== built $name in $((SECONDS - t0))s: $OUT/$name" >&2
}

build_all() {
  local popeye_v kor_v fleet_v failed=0
  popeye_v=$(modver github.com/derailed/popeye "$here/testbed/peers/popeye/go.mod")
  kor_v=$(modver github.com/yonahd/kor "$here/testbed/peers/kor/go.mod")
  fleet_v=$(modver github.com/rancher/fleet "$here/testbed/peers/fleet/go.mod")
  # Version stamps as the projects' Makefiles set them (derailed/popeye Makefile: cmd.version;
  # yonahd/kor .goreleaser.yml: pkg/utils.Version; rancher/fleet .goreleaser.yaml: pkg/version.Version).
  build popeye "$here/testbed/peers/popeye" github.com/derailed/popeye \
    " -X github.com/derailed/popeye/cmd.version=$popeye_v" || failed=1
  build kor "$here/testbed/peers/kor" github.com/yonahd/kor \
    " -X github.com/yonahd/kor/pkg/utils.Version=${kor_v#v}" || failed=1
  build fleet "$here/testbed/peers/fleet" github.com/rancher/fleet/cmd/fleetcli \
    " -X github.com/rancher/fleet/pkg/version.Version=$fleet_v" || failed=1
  for t in popeye kor fleet; do
    if [ -x "$OUT/$t" ]; then echo "$t=$OUT/$t"; else echo "$t="; fi
  done
  return $failed
}

fleet_compare() {
  [ -x "$OUT/fleet" ] || { echo "error: $OUT/fleet is missing: scripts/peers.sh build" >&2; return 1; }
  echo "== Fleet v$("$OUT/fleet" --version 2>/dev/null | head -1) vs testbed/helm/fleetvalues" >&2
  # The comparison itself is a Rust test, so it can render both through helm and compare; it is
  # #[ignore]d (never counted as passing in the suite) and runs here explicitly.
  (cd "$here" && HH_FLEET_BIN="$OUT/fleet" cargo test --features peers --test packaging_chart fleet_real -- --nocapture)
}

bench() {
  local scale=${1:-1}
  [ -x "$OUT/popeye" ] && [ -x "$OUT/kor" ] || { echo "error: popeye/kor missing: scripts/peers.sh build" >&2; return 1; }
  (cd "$here" && cargo run --release --example bench -- --scale "$scale" --repeat 1 --skip-naive --skip-yaml \
    --peers "$OUT")
}

case "${1:-build}" in
  build) build_all ;;
  fleet) fleet_compare ;;
  bench) bench "${2:-1}" ;;
  all) build_all && fleet_compare && bench "${2:-1}" ;;
  *) echo "usage: $0 build|fleet|bench [SCALE]|all" >&2; exit 2 ;;
esac
