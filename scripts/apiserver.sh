#!/usr/bin/env bash
# Start or stop the live-test bed: a REAL etcd 3.6, kube-apiserver 1.34 and kube-controller-manager
# 1.34 (versions: testbed/versions.env; built by scripts/install-testbed.sh).
#   scripts/apiserver.sh start DIR [OWNER_PID]   prints DIR/kubeconfig (admin); with OWNER_PID a
#                                                watchdog stops the servers when that process exits
#   scripts/apiserver.sh stop DIR
# The apiserver runs RBAC, the default admission plugins and service-account token signing; the
# controller manager runs only the controllers the tests rely on (garbage collector, service
# accounts and their tokens, PV/PVC protection, PV binder, Job, CronJob, namespace deletion), not
# resourcequota (tests write quota status themselves), and no scheduler or kubelet runs: pods stay
# Pending. CRDs: every $HH_CRD_DIR/*.yaml (default: what scripts/build-crds.sh generates).
# Binaries: $ETCD_BIN, $KUBE_APISERVER_BIN, $KUBE_CONTROLLER_MANAGER_BIN, $KUBECTL_BIN, else the
# install-testbed.sh cache (~/.cache/harvester-hygiene, or $HARVESTER_HYGIENE_CACHE).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR [OWNER_PID]" >&2; exit 2; }

# Stops in reverse start order (controller manager, apiserver, etcd): an apiserver whose etcd is
# gone retries its shutdown writes for a minute or more. Whatever has not exited after 5 s is killed.
stop() {
  [ -f "$1/pids" ] || return 0
  local p
  for p in $(tac "$1/pids"); do
    kill "$p" 2>/dev/null || continue
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  rm -f "$1/pids"
}

if [ "$cmd" = stop ]; then stop "$dir"; exit 0; fi
[ "$cmd" = start ] || { echo "unknown command $cmd" >&2; exit 2; }
owner=${3:-}

# shellcheck source=../testbed/versions.env
. "$here/testbed/versions.env"
tb=${HARVESTER_HYGIENE_CACHE:-$HOME/.cache/harvester-hygiene}/testbed
etcd=${ETCD_BIN:-$tb/etcd-$ETCD_VERSION/bin/etcd}
apiserver=${KUBE_APISERVER_BIN:-$tb/k8s-$K8S_VERSION/bin/kube-apiserver}
kcm=${KUBE_CONTROLLER_MANAGER_BIN:-$tb/k8s-$K8S_VERSION/bin/kube-controller-manager}
kubectl=${KUBECTL_BIN:-$tb/k8s-$K8S_VERSION/bin/kubectl}
# The upstream CRDs of one Harvester release, generated (and cached) by scripts/build-crds.sh.
crd_dir=${HH_CRD_DIR:-$("$here/scripts/build-crds.sh")}
for b in "$etcd" "$apiserver" "$kcm" "$kubectl"; do
  if [ ! -x "$b" ]; then
    echo "error: the test bed binary $b is missing." >&2
    echo "Run scripts/install-testbed.sh (or scripts/test.sh, which does) to build it." >&2
    exit 1
  fi
done

mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
ep=$(free_port); pp=$(free_port); sp=$(free_port); kp=$(free_port)

# A CA and the apiserver's serving certificate (the controller manager verifies it with the CA,
# and hands the CA to pods as --root-ca-file); the service-account signing key pair.
pki="$dir/pki"; mkdir -p "$pki"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=hh-test-ca -keyout "$pki/ca.key" -out "$pki/ca.crt" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr" 2>/dev/null
openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 2 \
  -extfile <(printf 'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n') \
  -out "$pki/apiserver.crt" 2>/dev/null
openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
# Static tokens: the tests' admin, and the controller manager's own identity (its bootstrap
# ClusterRole system:kube-controller-manager; each controller then uses its own service account).
cat > "$dir/tokens.csv" <<'TOK'
admintoken,admin,admin,system:masters
kcmtoken,system:kube-controller-manager,system:kube-controller-manager
TOK

issuer=https://kubernetes.default.svc
# --unsafe-no-fsync: a throwaway test store on a shared disk; losing it on a crash costs nothing.
"$etcd" --name default --data-dir "$dir/etcd" \
  --listen-client-urls "http://127.0.0.1:$ep" --advertise-client-urls "http://127.0.0.1:$ep" \
  --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
  --initial-cluster "default=http://127.0.0.1:$pp" --quota-backend-bytes 8589934592 \
  --unsafe-no-fsync --log-level warn >"$dir/etcd.log" 2>&1 &
echo $! > "$dir/pids"
"$apiserver" --etcd-servers="http://127.0.0.1:$ep" --secure-port="$sp" --bind-address=127.0.0.1 \
  --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/ca.crt" --token-auth-file="$dir/tokens.csv" --authorization-mode=RBAC \
  --requestheader-client-ca-file="$pki/ca.crt" --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
  --service-account-issuer="$issuer" --api-audiences="$issuer" \
  --service-cluster-ip-range=10.96.0.0/12 >"$dir/apiserver.log" 2>&1 &
echo $! >> "$dir/pids"

if [ -n "$owner" ]; then
  # (It ends too once `stop` has run.)
  ( trap '' HUP; while kill -0 "$owner" 2>/dev/null && [ -f "$dir/pids" ]; do sleep 1; done; stop "$dir" ) \
    >/dev/null 2>&1 </dev/null &
  disown || true
fi

fail() {
  echo "error: $1; last log lines:" >&2
  for l in kube-controller-manager apiserver etcd; do
    [ -f "$dir/$l.log" ] && { echo "--- $l.log" >&2; tail -20 "$dir/$l.log" >&2; }
  done
  stop "$dir"; exit 1
}

for _ in $(seq 1 240); do
  if [ "$(curl -sk -H 'Authorization: Bearer admintoken' "https://127.0.0.1:$sp/readyz" 2>/dev/null)" = ok ]; then ready=1; break; fi
  sleep 0.5
done
[ -n "${ready:-}" ] || fail "kube-apiserver did not become ready"

kubeconfig() { # USER TOKEN CA_LINE
  cat <<KC
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:$sp
    $3
users:
- name: $1
  user:
    token: $2
contexts:
- name: test
  context:
    cluster: test
    user: $1
current-context: test
KC
}
kubeconfig system:kube-controller-manager kcmtoken "certificate-authority: $pki/ca.crt" > "$dir/kcm.kubeconfig"

# The admin kubeconfig the tests use (they do not verify the serving certificate).
kubeconfig admin admintoken "insecure-skip-tls-verify: true" > "$dir/kubeconfig"
export KUBECONFIG="$dir/kubeconfig"
shopt -s nullglob
crds=("$crd_dir"/*.yaml)
[ ${#crds[@]} -gt 0 ] || fail "no CRD files in $crd_dir"
# (kubectl's warnings, e.g. on a schema format the apiserver does not know, go to crds.log.)
for f in "${crds[@]}"; do
  "$kubectl" create -f "$f" >/dev/null 2>>"$dir/crds.log" || { cat "$dir/crds.log" >&2; fail "could not create the CRDs of $f"; }
done
"$kubectl" wait --for condition=established --timeout=60s crd --all >/dev/null || fail "CRDs not established"

# The controller manager starts once the CRDs are served, so its garbage collector watches the
# custom kinds from its first discovery on (it rediscovers only every 30 s).
# Controller names as `kube-controller-manager --help` lists them in 1.34.
controllers=garbage-collector-controller,serviceaccount-controller,serviceaccount-token-controller
controllers+=,persistentvolume-protection-controller,persistentvolumeclaim-protection-controller
controllers+=,persistentvolume-binder-controller,job-controller,cronjob-controller,namespace-controller
mkdir -p "$dir/kcm-certs"
"$kcm" --kubeconfig="$dir/kcm.kubeconfig" --authentication-kubeconfig="$dir/kcm.kubeconfig" \
  --authorization-kubeconfig="$dir/kcm.kubeconfig" --bind-address=127.0.0.1 --secure-port="$kp" \
  --cert-dir="$dir/kcm-certs" --leader-elect=false --controllers="$controllers" \
  --use-service-account-credentials --service-account-private-key-file="$pki/sa.key" \
  --root-ca-file="$pki/ca.crt" >"$dir/kube-controller-manager.log" 2>&1 &
echo $! >> "$dir/pids"

for _ in $(seq 1 240); do
  if [ "$(curl -sk "https://127.0.0.1:$kp/healthz" 2>/dev/null)" = ok ]; then kcm_ready=1; break; fi
  sleep 0.5
done
[ -n "${kcm_ready:-}" ] || fail "kube-controller-manager did not become healthy"
# Namespaces get their "default" ServiceAccount from the controller manager: wait for the first one.
for _ in $(seq 1 120); do
  "$kubectl" get serviceaccount default -n default >/dev/null 2>&1 && { sa_ready=1; break; }
  sleep 0.5
done
[ -n "${sa_ready:-}" ] || fail "the serviceaccount controller did not create default/default"
# The garbage collector acts only once its informers (every kind, the CRDs' too) have synced.
for _ in $(seq 1 120); do
  grep -q '"Caches are synced" controller="garbage collector"' "$dir/kube-controller-manager.log" && { gc_ready=1; break; }
  sleep 0.5
done
[ -n "${gc_ready:-}" ] || fail "the garbage collector did not sync"
echo "$dir/kubeconfig"
