#!/usr/bin/env bash
# Release packaging. Two steps, which the release workflow (.github/workflows/release.yml) runs
# on each platform's own runner and then once at the end; here they run for this machine:
#   scripts/release.sh            builds the static plugin (and job) binaries for this Linux
#                                 platform, packs the krew archive (binary + LICENSE) reproducibly,
#                                 then does `manifest`:
#                                   dist/kubectl-harvester-hygiene_vX.Y.Z_linux_amd64.tar.gz (+ .sha256)
#                                   dist/harvester-hygiene.yaml
#   scripts/release.sh manifest   writes $DIST/harvester-hygiene.yaml from krew/harvester-hygiene.yaml
#                                 with exactly the platforms whose archive is in $DIST, each with
#                                 that archive's sha256 (never a placeholder: a manifest lists only
#                                 what was built). --all: fail unless every platform is there.
# Prints the paths it wrote. $DIST defaults to dist/. Build cache: target/static (kept apart from
# the normal target dir; tests/packaging.rs reuses it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
DIST=${DIST:-$root/dist}

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
[ -n "$version" ] || { echo "error: no version in Cargo.toml" >&2; exit 1; }

# manifest [--all]: the krew manifest of the archives in $DIST.
manifest() {
  local all=${1:-} template=krew/harvester-hygiene.yaml out="$DIST/harvester-hygiene.yaml" t sums=""
  local template_version; template_version=$(sed -n 's/^  version: v\(.*\)$/\1/p' "$template")
  [ -n "$template_version" ] || { echo "error: no spec.version in $template" >&2; exit 1; }
  local -a missing=()
  for t in $(sed -n 's/.*sha256: SHA256_\([a-z0-9]*_[a-z0-9]*\)$/\1/p' "$template"); do
    local ext=tar.gz; [ "${t%%_*}" = windows ] && ext=zip
    local a="$DIST/kubectl-harvester-hygiene_v${version}_${t}.$ext"
    if [ -f "$a" ]; then sums+="$t=$(sha256sum "$a" | cut -d' ' -f1) "; else missing+=("$t"); fi
  done
  [ -n "$sums" ] || { echo "error: no release archive of v$version in $DIST" >&2; exit 1; }
  if [ -n "$all" ] && [ ${#missing[@]} -gt 0 ]; then
    echo "error: --all: no archive for ${missing[*]} in $DIST" >&2; exit 1
  fi
  # This version everywhere, the template's comment dropped, each platform block (from its
  # "- selector:" to the next) kept only with its archive's checksum.
  sed -e '1,/^apiVersion:/{/^#/d}' -e "s/v${template_version//./\\.}/v${version}/g" "$template" |
    awk -v sums="$sums" '
      BEGIN { n = split(sums, kv, " "); for (i = 1; i <= n; i++) { split(kv[i], p, "="); sum[p[1]] = p[2] } }
      function flush() { if (block != "") { if (keep) printf "%s", block; block = "" } }
      /^    - selector:/ { flush(); inblock = 1; keep = 0 }
      inblock && /^[^ ]/ { flush(); inblock = 0 }
      inblock {
        if (match($0, /SHA256_[a-z0-9]+_[a-z0-9]+$/)) {
          t = substr($0, RSTART + 7); if (t in sum) { keep = 1; sub(/SHA256_[a-z0-9]+_[a-z0-9]+$/, sum[t]) }
        }
        block = block $0 "\n"; next
      }
      { print }
      END { flush() }' > "$out.tmp"
  mv "$out.tmp" "$out"
  echo "$out"
}

if [ "${1:-}" = manifest ]; then
  shift
  case "${1:-}" in --all|"") ;; *) echo "usage: $0 [manifest [--all]]" >&2; exit 2 ;; esac
  manifest "${1:-}"
  exit 0
fi

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) os=linux arch=amd64 target=x86_64-unknown-linux-gnu ;;
  Linux/aarch64) os=linux arch=arm64 target=aarch64-unknown-linux-gnu ;;
  *) echo "error: $(uname -s)/$(uname -m): this script builds Linux archives; the release workflow builds the rest" >&2; exit 1 ;;
esac

# Static: glibc linked in, no dynamic loader (the image is FROM scratch).
unset CARGO_ENCODED_RUSTFLAGS
export RUSTFLAGS="-C target-feature=+crt-static"
export CARGO_TARGET_DIR="${HH_STATIC_TARGET_DIR:-$root/target/static}"
cargo build --release --locked --target "$target" --bin kubectl-harvester-hygiene --bin harvester-hygiene-job >&2
bin_dir="$CARGO_TARGET_DIR/$target/release"

name="kubectl-harvester-hygiene_v${version}_${os}_${arch}"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -m 0755 "$bin_dir/kubectl-harvester-hygiene" "$stage/kubectl-harvester-hygiene"
install -m 0644 LICENSE "$stage/LICENSE"
mkdir -p "$DIST"
archive="$DIST/$name.tar.gz"
# Reproducible: fixed order, owner and time.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2000-01-01 00:00Z' \
  -C "$stage" -cf - kubectl-harvester-hygiene LICENSE | gzip -n -9 > "$archive"
sum=$(sha256sum "$archive" | cut -d' ' -f1)
echo "$sum  $name.tar.gz" > "$archive.sha256"

echo "$archive"
manifest
