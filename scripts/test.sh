#!/usr/bin/env bash
# Runs Sirocco's whole test suite: format, vet, lint, then every test with
# the race detector against real components (PostgreSQL, a Spark standalone
# cluster from the pyspark package, an MIT Kerberos KDC, headless Chromium, a Kubernetes control
# plane built by scripts/k8s.sh, bash, python3).
# It installs what it needs on a fresh Debian machine (as root) and is what
# CI runs (.ci/run). Under CI=true a missing component fails the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

GOLANGCI_LINT_VERSION=v2.15.0

log() { printf '\n== %s\n' "$*"; }

have_postgres() {
  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v postgres >/dev/null 2>&1
}

install_debian() {
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "cannot install $* (not root on Debian); tests needing it will skip, or fail under CI=true" >&2
    return 0
  fi
  if [ -z "${APT_UPDATED:-}" ]; then
    apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

log "dependencies"
have_postgres || install_debian postgresql
command -v python3 >/dev/null || install_debian python3 python3-venv
command -v javac >/dev/null || install_debian openjdk-17-jdk-headless
command -v curl >/dev/null || install_debian curl
command -v krb5kdc >/dev/null || [ -x /usr/sbin/krb5kdc ] || install_debian krb5-kdc krb5-admin-server krb5-user
command -v /usr/sbin/sshd >/dev/null || install_debian openssh-server openssh-client
command -v chromium >/dev/null || install_debian chromium # headless browser of the web UI tests (internal/ui)
scripts/spark.sh install # PySpark in a virtualenv: the Spark cluster the tests start
scripts/k8s.sh install >/dev/null # the Kubernetes control plane the tests start (cached by version; ~5 min cold)
go mod download
GOBIN="$(go env GOPATH)/bin"
if ! "$GOBIN/golangci-lint" version 2>/dev/null | grep -q "${GOLANGCI_LINT_VERSION#v}"; then
  go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@${GOLANGCI_LINT_VERSION}"
fi

log "gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

log "go mod tidy"
if ! tidy=$(go mod tidy -diff 2>&1); then
  echo "go.mod/go.sum are not tidy; run go mod tidy:"; echo "$tidy"; exit 1
fi

log "cross-compile (darwin)"
GOOS=darwin go build -o /dev/null ./cmd/sirocco

log "go vet"
go vet ./...

log "golangci-lint"
"$GOBIN/golangci-lint" run --allow-parallel-runners ./...

if [ $# -eq 0 ]; then
  log "fuzz (every target briefly; the committed seeds always run)"
  scripts/fuzz.sh
fi

log "go test -race"
# The timeout catches a hang, not slowness: cmd/sirocco's end-to-end tests
# take about 9 minutes on a quiet 2-core machine and over 20 when the
# machine is shared, so the limit leaves room for a busy host.
go test -race -count=1 -timeout 45m ./... "$@"
