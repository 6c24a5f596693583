#!/usr/bin/env bash
# scripts/kube.sh: a real Kubernetes control plane for the tests and the drill.
#
# No Kubernetes distribution installs from Debian's or PyPI's registries, so
# this builds one from Debian's own `kubernetes` source package (the upstream
# tree with vendor/) with Debian's golang-go, and runs it on 127.0.0.1 with
# Debian's etcd. No kubelet can run containers here: lab/kube/nodesim.py
# stands in for the nodes (the role kwok plays upstream).
#
#   scripts/kube.sh build   build kube-apiserver, kube-controller-manager,
#                           kube-scheduler and kubectl once, cached in
#                           $CACHE/kube-<source version>/bin (~7 min on 2 cores)
#   scripts/kube.sh up      build if needed, then start etcd, the control
#                           plane and the node simulator (idempotent); prints
#                           the kubeconfig path on stdout
#   scripts/kube.sh down    stop all of them and delete the cluster's data
#   scripts/kube.sh env     print shell lines: KUBECONFIG and PATH (kubectl)
#
# CACHE is ${OPS_ROLLBACK_CACHE:-$HOME/.cache/ops-rollback}. The running
# cluster lives in $CACHE/kube-run (certificates, token, kubeconfig, logs).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
CACHE=${OPS_ROLLBACK_CACHE:-$HOME/.cache/ops-rollback}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd -P)
SRC_PACKAGE=kubernetes
RUN=$CACHE/kube-run
API_PORT=${OPS_ROLLBACK_KUBE_PORT:-16443}
ETCD_PORT=12379

log() { echo "kube: $*" >&2; }
die() { echo "kube: ERROR: $*" >&2; exit 1; }

# apt options that read our own deb-src list instead of touching the system's.
SRC_APT_DIR=$CACHE/kube-apt
apt_src() {
  local tool=$1; shift
  "$tool" -o Dir::Etc::SourceList=/dev/null \
          -o Dir::Etc::SourceParts="$SRC_APT_DIR/parts" \
          -o Dir::State::Lists="$SRC_APT_DIR/lists" \
          -o APT::Sandbox::User=root "$@"
}

ensure_packages() {
  local missing=() p
  for p in golang-go etcd-server golang-github-modern-go-reflect2-dev dpkg-dev openssl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return
  log "packages: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

ensure_src_lists() {
  mkdir -p "$SRC_APT_DIR/parts" "$SRC_APT_DIR/lists/partial"
  # The same mirror and suite as the system's own packages.
  cat >"$SRC_APT_DIR/parts/debsrc.sources" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  if ! compgen -G "$SRC_APT_DIR/lists/*Sources*" >/dev/null; then
    apt_src apt-get update -qq >&2
  fi
}

source_version() {
  apt_src apt-cache showsrc "$SRC_PACKAGE" 2>/dev/null | sed -n 's/^Version: //p' | head -n1
}

bin_dir() { echo "$CACHE/kube-$1/bin"; }

build() {
  ensure_packages
  ensure_src_lists
  local version dir bin gopath tree
  version=$(source_version)
  [ -n "$version" ] || die "apt has no source for $SRC_PACKAGE (is deb.debian.org reachable?)"
  dir=$CACHE/kube-$version
  bin=$dir/bin
  if [ -f "$bin/.complete" ]; then
    echo "$bin"
    return
  fi
  log "building Kubernetes from Debian's $SRC_PACKAGE $version (about 7 minutes)"
  rm -rf "$dir/src" "$bin"
  mkdir -p "$dir/src" "$bin"
  (cd "$dir/src" && apt_src apt-get source --download-only "$SRC_PACKAGE=$version" >&2 \
     && tar xzf ./*.orig.tar.gz)
  tree=$(find "$dir/src" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -n1)
  [ -n "$tree" ] || die "no kubernetes-* tree in $dir/src"

  # GOPATH mode, as the tree's own hack/ scripts build it.
  gopath=$dir/gopath
  mkdir -p "$gopath/src/k8s.io"
  ln -sfn "$tree" "$gopath/src/k8s.io/kubernetes"
  export GOPATH=$gopath GO111MODULE=off GOFLAGS='' CGO_ENABLED=0 GOCACHE=$dir/gocache
  local pkg=k8s.io/kubernetes

  # The vendored reflect2 1.0.1 crashes at run time under Go >= 1.18.
  rm -rf "$tree/vendor/github.com/modern-go/reflect2"
  cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$tree/vendor/github.com/modern-go/reflect2"

  # pkg/generated/openapi/zz_generated.openapi.go is not in the tarball:
  # generate it with the vendored openapi-gen from the packages that ask.
  (cd "$gopath/src/$pkg" && go build -o "$dir/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen)
  local inputs
  inputs=$(cd "$tree" && {
      find -H . \( -path ./_\* -o -path ./.\* -o -path ./vendor -o -path ./staging/src/k8s.io/code-generator \
                   -o -path ./staging/src/k8s.io/sample-apiserver \) -prune -o -type f -name '*.go' \
        -exec grep -l '^// *+k8s:openapi-gen=' {} + ; } \
      | sed 's|/[^/]*$||; s|^\./staging/src|vendor|; s|^\./||' | LC_ALL=C sort -u \
      | sed "s|^|$pkg/|" | paste -sd, -)
  (cd "$gopath/src/$pkg" && "$dir/openapi-gen" --logtostderr -i "$inputs" \
      -p "$pkg/pkg/generated/openapi" -O zz_generated.openapi \
      -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
      -r "$dir/openapi-violations.report" -o "$gopath/src") >&2

  local cmd
  for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    log "go build $cmd"
    (cd "$gopath/src/$pkg" && go build -ldflags "-s -w \
        -X $pkg/vendor/k8s.io/component-base/version.gitVersion=v${version#*really} \
        -X $pkg/vendor/k8s.io/client-go/pkg/version.gitVersion=v${version#*really}" \
        -o "$bin/$cmd" "./cmd/$cmd") >&2
  done
  rm -rf "$dir/gocache"
  touch "$bin/.complete"
  log "built: $bin"
  echo "$bin"
}

# --- the running cluster --------------------------------------------------
pid_alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

start() {  # start NAME COMMAND...: in the background, logging to $RUN/NAME.log
  local name=$1; shift
  pid_alive "$name" && return
  nohup "$@" >"$RUN/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

certificates() {
  [ -f "$RUN/pki/.complete" ] && return
  local pki=$RUN/pki
  mkdir -p "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=ops-rollback-kube-ca \
      -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver \
      -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n' >"$pki/san.ext"
  openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
      -days 3650 -extfile "$pki/san.ext" -out "$pki/apiserver.crt" 2>/dev/null
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  # Tokens: admin (system:masters) for the control plane and the tests;
  # nobody (no RBAC binding) to test a namespace without access.
  printf '%s,admin,admin,system:masters\n%s,nobody,nobody\n' \
      "$(openssl rand -hex 24)" "$(openssl rand -hex 24)" >"$pki/tokens.csv"
  chmod 600 "$pki"/*.key "$pki/tokens.csv"
  touch "$pki/.complete"
}

token() { awk -F, -v u="$1" '$2 == u {print $1}' "$RUN/pki/tokens.csv"; }

kubeconfig() {  # kubeconfig USER FILE
  (umask 077; cat >"$2" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: ops-rollback
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $RUN/pki/ca.crt
users:
- name: $1
  user:
    token: $(token "$1")
contexts:
- name: ops-rollback
  context: {cluster: ops-rollback, user: $1, namespace: default}
current-context: ops-rollback
EOF
  )
}

wait_for() {  # wait_for WHAT SECONDS COMMAND...
  local what=$1 seconds=$2; shift 2
  for _ in $(seq 1 $((seconds * 2))); do
    "$@" >/dev/null 2>&1 && return
    sleep 0.5
  done
  die "$what did not come up within $seconds s (logs: $RUN/*.log)"
}

up() {
  local bin
  bin=$(build)
  mkdir -p "$RUN"
  certificates
  kubeconfig admin "$RUN/kubeconfig"
  kubeconfig nobody "$RUN/kubeconfig-nobody"
  start etcd etcd --name ops-rollback --data-dir "$RUN/etcd" \
      --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
      --listen-peer-urls http://127.0.0.1:12380 --initial-advertise-peer-urls http://127.0.0.1:12380 \
      --initial-cluster ops-rollback=http://127.0.0.1:12380
  wait_for etcd 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health"
  # ServiceAccount admission is off: no kubelet mounts tokens here.
  start kube-apiserver "$bin/kube-apiserver" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
      --secure-port "$API_PORT" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
      --tls-cert-file "$RUN/pki/apiserver.crt" --tls-private-key-file "$RUN/pki/apiserver.key" \
      --client-ca-file "$RUN/pki/ca.crt" --token-auth-file "$RUN/pki/tokens.csv" \
      --authorization-mode RBAC --service-cluster-ip-range 10.0.0.0/24 \
      --service-account-key-file "$RUN/pki/sa.pub" --service-account-signing-key-file "$RUN/pki/sa.key" \
      --service-account-issuer https://kubernetes.default.svc --disable-admission-plugins ServiceAccount
  wait_for kube-apiserver 60 "$bin/kubectl" --kubeconfig "$RUN/kubeconfig" get --raw /readyz
  # The controllers a rollback needs; no node lifecycle (the nodes are simulated).
  start kube-controller-manager "$bin/kube-controller-manager" --kubeconfig "$RUN/kubeconfig" \
      --bind-address 127.0.0.1 --secure-port 0 --port 0 --leader-elect=false \
      --controllers deployment,replicaset,statefulset,daemonset,garbagecollector,namespace,endpoint,podgc,serviceaccount
  start kube-scheduler "$bin/kube-scheduler" --kubeconfig "$RUN/kubeconfig" \
      --bind-address 127.0.0.1 --secure-port 0 --port 0 --leader-elect=false
  # The simulator uses the kubernetes client of the project's venv.
  [ -n "${OPS_ROLLBACK_VENV:-}" ] || eval "$("$REPO/scripts/setup.sh" --print-env)"
  start nodesim "$OPS_ROLLBACK_VENV/bin/python" "$REPO/lab/kube/nodesim.py" --kubeconfig "$RUN/kubeconfig"
  wait_for "the simulated nodes" 60 sh -c \
      "'$bin/kubectl' --kubeconfig '$RUN/kubeconfig' get nodes --no-headers 2>/dev/null | grep -q ' Ready '"
  log "up: https://127.0.0.1:$API_PORT (kubeconfig $RUN/kubeconfig)"
  echo "$RUN/kubeconfig"
}

down() {
  local name
  for name in nodesim kube-scheduler kube-controller-manager kube-apiserver etcd; do
    if pid_alive "$name"; then
      kill "$(cat "$RUN/$name.pid")" 2>/dev/null || true
      for _ in $(seq 1 20); do pid_alive "$name" || break; sleep 0.25; done
      if pid_alive "$name"; then kill -9 "$(cat "$RUN/$name.pid")" 2>/dev/null || true; fi
    fi
    rm -f "$RUN/$name.pid"
  done
  rm -rf "$RUN/etcd"
  log "down"
}

env_lines() {
  ensure_src_lists
  local bin
  bin=$(bin_dir "$(source_version)")
  echo "export KUBECONFIG=\"$RUN/kubeconfig\""
  echo "case \":\$PATH:\" in *\":$bin:\"*) ;; *) export PATH=\"$bin:\$PATH\" ;; esac"
}

case "${1:-}" in
  build) build ;;
  up) up ;;
  down) down ;;
  env) env_lines ;;
  *) echo "usage: $0 build|up|down|env" >&2; exit 2 ;;
esac
