#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a while, one after another.
# CI runs each briefly so that a regression on a committed seed, or one found
# within seconds, shows up; before resolving a parser change run it longer:
#
#   scripts/fuzz.sh            each target 3000 inputs (what CI does)
#   FUZZTIME=10m scripts/fuzz.sh
#
# CI counts inputs rather than seconds: a timed run that ends while a worker
# is busy on a slow input fails with "context deadline exceeded" on a loaded
# machine, which says nothing about the code.
#   scripts/fuzz.sh ./internal/dag FuzzLoad     one target
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME="${FUZZTIME:-3000x}"

run_one() {
  local pkg="$1" target="$2"
  printf -- '-- %s %s (%s)\n' "$pkg" "$target" "$FUZZTIME"
  go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -parallel "${FUZZ_PARALLEL:-1}" "$pkg"
}

if [ $# -eq 2 ]; then
  run_one "$1" "$2"
  exit
fi

count=0
for pkg in $(go list ./...); do
  dir="$(go list -f '{{.Dir}}' "$pkg")"
  # Fuzz targets live in _test.go files; list them without building.
  targets=$(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)\(' "$dir"/*_test.go 2>/dev/null | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/' || true)
  for t in $targets; do
    run_one "$pkg" "$t"
    count=$((count + 1))
  done
done
echo "fuzz: $count targets ran $FUZZTIME each without a failure"
