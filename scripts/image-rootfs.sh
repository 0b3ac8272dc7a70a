#!/usr/bin/env bash
# The job image's whole file system, for the Dockerfile's `FROM scratch` stage (which copies it
# as it is) and for tests/packaging.rs (which checks the same tree and builds the image with
# buildah):
#   scripts/image-rootfs.sh OUT_DIR STATIC_JOB_BINARY [CA_BUNDLE]
# OUT_DIR gets the binary in /usr/local/bin, /etc/passwd and /etc/group with root and nonroot
# (65532, the user the image runs as; no login shell, there is none), /etc/nsswitch.conf (hosts
# from /etc/hosts, then DNS), the CA bundle (default /etc/ssl/certs/ca-certificates.crt) for TLS
# to anything but the apiserver, an empty /home/nonroot and /tmp (1777), and the LICENSE. Owners
# are left to the image build (COPY makes everything root's), so the user cannot change a file.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OUT_DIR STATIC_JOB_BINARY [CA_BUNDLE]" >&2; exit 2; }
out=$1 bin=$2 ca=${3:-/etc/ssl/certs/ca-certificates.crt}
root=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$bin" ] || { echo "error: $bin is not an executable" >&2; exit 1; }
[ -s "$ca" ] || { echo "error: no CA bundle at $ca (Debian: package ca-certificates)" >&2; exit 1; }
mkdir -p "$out"
install -D -m 0755 "$bin" "$out/usr/local/bin/harvester-hygiene-job"
install -D -m 0644 "$root/LICENSE" "$out/usr/share/doc/harvester-hygiene/LICENSE"
install -D -m 0644 "$ca" "$out/etc/ssl/certs/ca-certificates.crt"
mkdir -p "$out/etc"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$out/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$out/etc/group"
printf 'hosts: files dns\n' > "$out/etc/nsswitch.conf"
chmod 0644 "$out/etc/passwd" "$out/etc/group" "$out/etc/nsswitch.conf"
install -d -m 0755 "$out/home/nonroot"
install -d -m 1777 "$out/tmp"
