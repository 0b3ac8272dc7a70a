#!/usr/bin/env bash
# Start or stop a REAL etcd + kube-apiserver 1.20 for the tests (recipe: shared/real-apiserver.md).
#   scripts/apiserver.sh start DIR [OWNER_PID]   prints DIR/kubeconfig; with OWNER_PID a watchdog
#                                                stops both servers when that process exits
#   scripts/apiserver.sh stop DIR
# Binaries: $KUBE_APISERVER_BIN or ~/.cache/harvester-hygiene/bin/kube-apiserver (built by
# scripts/install-apiserver.sh), $ETCD_BIN or etcd on PATH. CRDs: $HH_CRD_DIR/*.yaml, else the
# directory scripts/build-crds.sh generates (upstream CRDs of one Harvester release; its
# --k8s-1.20 copy for a 1.20 apiserver).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR [OWNER_PID]" >&2; exit 2; }

stop() { [ -f "$1/pids" ] && while read -r p; do kill "$p" 2>/dev/null || true; done < "$1/pids"; rm -f "$1/pids"; }

if [ "$cmd" = stop ]; then stop "$dir"; exit 0; fi
[ "$cmd" = start ] || { echo "unknown command $cmd" >&2; exit 2; }
owner=${3:-}

apiserver=${KUBE_APISERVER_BIN:-${HARVESTER_HYGIENE_CACHE:-$HOME/.cache/harvester-hygiene}/bin/kube-apiserver}
etcd=${ETCD_BIN:-$(command -v etcd || true)}
if [ ! -x "$apiserver" ] || [ -z "$etcd" ]; then
  echo "error: the test kube-apiserver or etcd is missing (apiserver: $apiserver, etcd: ${etcd:-not on PATH})." >&2
  echo "Run scripts/install-apiserver.sh (or scripts/test.sh, which does) to install and build them." >&2
  exit 1
fi

crds=${HH_CRD_DIR:-}
if [ -z "$crds" ]; then
  case "$("$apiserver" --version 2>/dev/null)" in
    *" v1.20."*) crds=$("$here/scripts/build-crds.sh" --k8s-1.20) ;;
    *) crds=$("$here/scripts/build-crds.sh") ;;
  esac
fi

mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
ep=$(free_port); pp=$(free_port); sp=$(free_port)
mkdir -p "$dir/certs"
openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
echo 'admintoken,admin,admin,system:masters' > "$dir/tokens.csv"

"$etcd" --data-dir "$dir/etcd" --listen-client-urls "http://127.0.0.1:$ep" --advertise-client-urls "http://127.0.0.1:$ep" \
  --listen-peer-urls "http://127.0.0.1:$pp" --quota-backend-bytes 8589934592 >"$dir/etcd.log" 2>&1 &
echo $! > "$dir/pids"
"$apiserver" --etcd-servers="http://127.0.0.1:$ep" --secure-port="$sp" --bind-address=127.0.0.1 --cert-dir="$dir/certs" \
  --token-auth-file="$dir/tokens.csv" --authorization-mode=RBAC --service-account-key-file="$dir/sa.pub" \
  --service-account-signing-key-file="$dir/sa.key" --service-account-issuer=https://kubernetes.default.svc \
  --service-cluster-ip-range=10.96.0.0/12 --disable-admission-plugins=ServiceAccount >"$dir/apiserver.log" 2>&1 &
echo $! >> "$dir/pids"

if [ -n "$owner" ]; then
  ( trap '' HUP; while kill -0 "$owner" 2>/dev/null; do sleep 1; done; stop "$dir" ) >/dev/null 2>&1 </dev/null &
  disown || true
fi

for _ in $(seq 1 120); do
  if [ "$(curl -sk -H 'Authorization: Bearer admintoken' "https://127.0.0.1:$sp/readyz" 2>/dev/null)" = ok ]; then ready=1; break; fi
  sleep 0.5
done
if [ -z "${ready:-}" ]; then
  echo "error: kube-apiserver did not become ready; last log lines:" >&2
  tail -20 "$dir/apiserver.log" >&2; tail -5 "$dir/etcd.log" >&2
  stop "$dir"; exit 1
fi

cat > "$dir/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:$sp
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: admintoken
contexts:
- name: test
  context:
    cluster: test
    user: admin
current-context: test
KC

export KUBECONFIG="$dir/kubeconfig"
for f in "$crds"/*.yaml; do kubectl create -f "$f" >/dev/null; done
kubectl wait --for condition=established --timeout=60s crd --all >/dev/null
echo "$dir/kubeconfig"
