#!/usr/bin/env bash
# Builds the Kubernetes control plane of Sirocco's test bed, once per
# version: kube-apiserver, kube-scheduler and an embedded etcd from the
# tools/k8s module, and kwok (the fake node agent) pinned by version. The
# binaries are cached outside the repository, so tests and CI pay the cold
# build (about 5 minutes and 3 GB of Go build cache on 2 cores) once per
# machine; internal/testenv.StartKube runs them.
#
#   scripts/k8s.sh install   build what is missing (quick when cached), print the bin dir
#   scripts/k8s.sh bin       print the bin dir (whether built or not)
#   scripts/k8s.sh version   print the versions the cache key names
#
# It also runs that control plane for you, outside the tests (cmd/kubebed,
# the same code as the tests' internal/testenv.StartKube): etcd,
# kube-apiserver, kube-scheduler and kwok faking one node, on free loopback
# ports, in the background, with its kubeconfig, logs and state in
# $SIROCCO_HOME/k8s. kwok runs no containers: a pod runs 100ms and Succeeds.
#
#   scripts/k8s.sh up        build (once) and start it; print its kubeconfig and connection
#   scripts/k8s.sh down      stop it
#   scripts/k8s.sh status    say whether it runs (exit 1 if not)
#   scripts/k8s.sh conn      print the connection kubernetes_default, as an env-format line
#
# Settings (environment):
#   SIROCCO_K8S_CACHE  cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/sirocco/k8s);
#                      binaries go to <root>/<key>/, the key naming every
#                      version and a digest of tools/k8s
#   SIROCCO_K8S_BIN    a bin dir to use instead (tests and up)
#   SIROCCO_HOME       up/down/status/conn: state in $SIROCCO_HOME/k8s (default ~/sirocco/k8s)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="$ROOT/tools/k8s"
KWOK_VERSION=v0.7.0

die() { echo "k8s.sh: $*" >&2; exit 1; }

# module_version MODULE prints the version tools/k8s/go.mod requires.
module_version() {
  sed -nE "s#^[[:space:]]*$1 (v[^[:space:]]+).*#\1#p" "$TOOLS/go.mod" | head -n 1
}

K8S_VERSION="$(module_version k8s.io/kubernetes)"
ETCD_VERSION="$(module_version go.etcd.io/etcd/server/v3)"
[ -n "$K8S_VERSION" ] && [ -n "$ETCD_VERSION" ] ||
  die "cannot read the k8s.io/kubernetes and etcd versions from $TOOLS/go.mod"

# sources_digest prints a short digest of the tools module, so that a
# changed main.go or go.sum builds afresh rather than reusing stale binaries.
sources_digest() {
  (cd "$TOOLS" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) | LC_ALL=C sort |
    xargs cat | sha256sum | cut -c1-10)
}

CACHE="${SIROCCO_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sirocco/k8s}"
KEY="$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-$(sources_digest)"
BIN="$CACHE/$KEY"
PROGRAMS=(kube-apiserver kube-scheduler etcd kwok)

installed() {
  local p
  for p in "${PROGRAMS[@]}"; do [ -x "$BIN/$p" ] || return 1; done
}

# build_into DIR builds the four programs into DIR.
build_into() {
  local dir="$1" minor="${K8S_VERSION#v1.}"
  minor="${minor%%.*}"
  local v=k8s.io/component-base/version
  local ldflags="-s -w -X $v.gitVersion=$K8S_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor"
  ldflags+=" -X $v.gitTreeState=clean -X $v.buildDate=1970-01-01T00:00:00Z"
  echo "k8s.sh: building kube-apiserver, kube-scheduler ($K8S_VERSION) and etcd ($ETCD_VERSION); ~5 min cold on 2 cores" >&2
  (cd "$TOOLS" && go build -o "$dir/" -ldflags "$ldflags" ./kube-apiserver ./kube-scheduler ./etcd) ||
    die "building the control plane in $TOOLS failed (see above): it needs Go, the module proxy (or a filled module cache) and ~3 GB free for Go's build cache"
  echo "k8s.sh: building kwok $KWOK_VERSION" >&2
  GOBIN="$dir" GOFLAGS=-mod=mod go install -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" ||
    die "building kwok $KWOK_VERSION failed (see above)"
}

cmd_install() {
  if installed; then
    echo "$BIN"
    return 0
  fi
  command -v go >/dev/null || die "go is not in PATH"
  mkdir -p "$CACHE"
  # One build at a time per cache: a second caller waits for the first.
  exec 9>"$CACHE/.lock"
  flock 9
  if ! installed; then
    local tmp
    tmp="$(mktemp -d "$CACHE/.build-XXXXXX")"
    chmod 755 "$tmp"
    trap 'rm -rf "$tmp"' EXIT
    local start=$SECONDS
    build_into "$tmp"
    rm -rf "$BIN"
    mv "$tmp" "$BIN"
    trap - EXIT
    echo "k8s.sh: built in $((SECONDS - start)) s into $BIN" >&2
  fi
  echo "$BIN"
}

STATE="${SIROCCO_HOME:-$HOME/sirocco}/k8s"

# kubebed builds cmd/kubebed (quick when Go's cache has it) and runs it.
kubebed() {
  command -v go >/dev/null || die "go is not in PATH"
  (cd "$ROOT" && go build -o bin/kubebed ./cmd/kubebed) || die "building cmd/kubebed failed (see above)"
  mkdir -p "$STATE"
  "$ROOT/bin/kubebed" "$@" -state "$STATE"
}

cmd_up() {
  local bin="${SIROCCO_K8S_BIN:-}"
  [ -n "$bin" ] || bin="$(cmd_install)"
  kubebed up -bin "$bin"
}

case "${1:-}" in
install) cmd_install ;;
bin) echo "$BIN" ;;
version) echo "kubernetes $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION (cache key $KEY)" ;;
up) cmd_up ;;
down) kubebed down ;;
status) kubebed status ;;
conn) kubebed conn ;;
*) die "usage: $0 install|bin|version|up|down|status|conn" ;;
esac
