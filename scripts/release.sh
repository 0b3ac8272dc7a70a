#!/usr/bin/env bash
# Release packaging for the platform at hand: builds the static plugin (and job) binaries,
# packs the krew archive (binary + LICENSE), and renders the krew manifest with the real URL
# and sha256 for this platform into $DIST (default dist/). The release workflow does the other
# platforms and fills their SHA256_<os>_<arch> the same way.
#   scripts/release.sh            -> dist/kubectl-harvester-hygiene_vX.Y.Z_linux_amd64.tar.gz
#                                    dist/…tar.gz.sha256, dist/harvester-hygiene.yaml
# Build cache: target/static (kept apart from the normal target dir; tests/packaging.rs reuses it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
DIST=${DIST:-$root/dist}

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
[ -n "$version" ] || { echo "error: no version in Cargo.toml" >&2; exit 1; }

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) os=linux arch=amd64 target=x86_64-unknown-linux-gnu ;;
  Linux/aarch64) os=linux arch=arm64 target=aarch64-unknown-linux-gnu ;;
  *) echo "error: $(uname -s)/$(uname -m): this script builds Linux archives; the release workflow builds the rest" >&2; exit 1 ;;
esac

# Static: glibc linked in, no dynamic loader (the image is distroless/static).
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

# The manifest: this version everywhere, this platform's checksum, the template comment dropped.
template_version=$(sed -n 's/^  version: v\(.*\)$/\1/p' krew/harvester-hygiene.yaml)
sed -e '1,/^apiVersion:/{/^#/d}' \
    -e "s/v${template_version//./\\.}/v${version}/g" \
    -e "s/SHA256_${os}_${arch}\$/${sum}/" \
    krew/harvester-hygiene.yaml > "$DIST/harvester-hygiene.yaml"

echo "$archive"
echo "$DIST/harvester-hygiene.yaml"
