#!/usr/bin/env bash
# Installs what the live tests need (etcd, curl, a Prometheus Pushgateway) on a fresh Debian
# bookworm machine and builds a real
# kube-apiserver 1.20 from Debian's source package, cached under ~/.cache/harvester-hygiene.
# Idempotent: a second run finds the cached binary and only checks the packages.
# Recipe: shared/real-apiserver.md (patched reflect2 for Go >= 1.18).
set -euo pipefail

CACHE="${HARVESTER_HYGIENE_CACHE:-$HOME/.cache/harvester-hygiene}"
BIN="$CACHE/bin"
mkdir -p "$BIN"

need_pkgs=()
command -v etcd >/dev/null 2>&1 || need_pkgs+=(etcd-server)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
# A real Prometheus Pushgateway for the job's metrics test.
command -v prometheus-pushgateway >/dev/null 2>&1 || need_pkgs+=(prometheus-pushgateway)
if [ ! -x "$BIN/kube-apiserver" ]; then
  [ -x /usr/lib/go-1.19/bin/go ] || need_pkgs+=(golang-1.19-go)
  command -v rsync >/dev/null 2>&1 || need_pkgs+=(rsync)
  command -v make >/dev/null 2>&1 || need_pkgs+=(make)
  [ -d /usr/share/gocode/src/github.com/modern-go/reflect2 ] || need_pkgs+=(golang-github-modern-go-reflect2-dev)
fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "error: need root (or sudo) to run: $*" >&2; exit 1; fi; }

src_list=/etc/apt/sources.list.d/harvester-hygiene-src.sources
if [ ${#need_pkgs[@]} -gt 0 ] || { [ ! -x "$BIN/kube-apiserver" ] && [ ! -f "$src_list" ]; }; then
  if [ ! -x "$BIN/kube-apiserver" ] && [ ! -f "$src_list" ]; then
    as_root tee "$src_list" >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  echo "== apt-get install ${need_pkgs[*]:-(source index only)}" >&2
  as_root apt-get update -qq
  if [ ${#need_pkgs[@]} -gt 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  fi
fi

if [ ! -x "$BIN/kube-apiserver" ]; then
  echo "== building kube-apiserver 1.20 from Debian source (one time, ~8 min on 2 cores)" >&2
  work="$CACHE/build"
  rm -rf "$work"; mkdir -p "$work"; cd "$work"
  apt-get source --download-only kubernetes >/dev/null
  tar xzf kubernetes_*.orig.tar.gz
  src=$(find . -maxdepth 1 -mindepth 1 -type d | head -n1)
  cd "$src"
  r=vendor/github.com/modern-go/reflect2
  rm -rf "$r"; mkdir -p "$r"
  for f in /usr/share/gocode/src/github.com/modern-go/reflect2/*.go /usr/share/gocode/src/github.com/modern-go/reflect2/*.s; do
    case "$f" in *_test.go) ;; *) [ -e "$f" ] && cp "$f" "$r/";; esac
  done
  mkdir -p .go/src/k8s.io && ln -sfn ../../.. .go/src/k8s.io/kubernetes
  mkdir -p "$work/home"
  GOPATH=$PWD/.go PATH=/usr/lib/go-1.19/bin:$PATH CGO_ENABLED=0 HOME="$work/home" GOFLAGS= GOPROXY=off \
    make WHAT=cmd/kube-apiserver >"$work/build.log" 2>&1 || { tail -50 "$work/build.log" >&2; exit 1; }
  cp _output/bin/kube-apiserver "$BIN/kube-apiserver.tmp"
  mv "$BIN/kube-apiserver.tmp" "$BIN/kube-apiserver"
  cd /; rm -rf "$work"
fi
echo "kube-apiserver: $BIN/kube-apiserver; etcd: $(command -v etcd)" >&2
